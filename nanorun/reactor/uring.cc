// The Linux io_uring reactor (issue 18, first stage): workers park in
// io_uring_enter, and readiness comes from an epoll set that the ring polls.
//
// Why readiness stays with epoll: a request in a ring holds a reference to
// its file, and when it is removed the kernel drops that reference from the
// thread that submitted it, later (task work). With a poll request per
// socket, closing a socket from another thread left it open for a moment:
// its port still bound, its listener still accepting, its peer not yet told
// (seen as a flaky test: a listener closed, then its path still answered
// connect). epoll holds no reference, so close() stays immediate, exactly as
// in the epoll reactor, and so do every edge case of io.h. The ring holds one
// request of its own, a poll on the epoll fd; the completion operations to
// come (send, recv, accept) are single requests that live no longer than
// the operation, which holds the socket.
//
// park() submits and waits in one io_uring_enter, the timeout as its
// argument (no timer request); a completion of the epoll fd's poll means
// events are ready, and epoll_wait(0) takes them; wake() writes the eventfd
// in the epoll set.
//
// Who submits the poll matters: the kernel runs a poll's wakeup as task work
// of the thread that submitted it (and removes the request when that thread
// exits). A multishot poll submitted once made every event wake its
// submitter, even when another worker was the one parked here: two threads
// woken per event, and tcp_echo at 0.51-0.61x of epoll with two workers
// (level with it with one). So the poll is one-shot and belongs to the
// thread parked now: each park arms one if none is armed by this thread,
// removing another thread's first, in the same io_uring_enter that waits.
#include <cstdint>
#include <memory>
#include <utility>

#include "nanorun/reactor/backends.h"
#include "nanorun/reactor/reactor.h"
#include "nanorun/reactor/epoll_set.h"
#include "nanorun/sys/linux/uring.h"

namespace nanorun {
inline namespace v0 {
namespace reactor {
namespace {

// Completions: the epoll fd's poll (odd: (generation << 1) | 1; requests to
// come will be pointers, which are even) and removals.
constexpr uint64_t kRemoveToken = ~uint64_t{0} - 1;
constexpr uint32_t kPollIn = 0x001;  // poll(2)'s POLLIN.

uint64_t PollToken(uint64_t generation) { return generation << 1 | 1; }

// Which thread armed the poll: the address of a thread_local is unique among
// live threads.
const void* ThisThread() {
  static thread_local char tag;
  return &tag;
}

class UringReactor final : public Reactor {
 public:
  absl::Status open() {
    absl::Status s = ring_.Open(/*entries=*/64, /*cq_entries=*/256);
    if (!s.ok()) return s;
    return set_.open();
  }

  void park(absl::Duration timeout) override {
    arm();  // Only parkers touch the poll's state (one at a time).
    int64_t timeout_ns = TimeoutNanos(timeout);
    if (!armed_) timeout_ns = 0;  // Could not arm (the ring is full): do not sleep blind.
    ring_.SubmitAndWait(timeout_ns);  // ETIME, EINTR: an early or empty return.
    bool epoll_ready = timeout_ns == 0;  // Just looking: look at epoll too.
    sys::UringCompletion done[16];
    int n;
    while ((n = ring_.Harvest(done, 16)) > 0) {
      for (int i = 0; i < n; ++i) {
        if (done[i].user_data == kRemoveToken) continue;
        // A poll's completion: events are ready (or it was removed; looking
        // costs one epoll_wait that finds nothing).
        epoll_ready = true;
        if (done[i].user_data == PollToken(generation_)) armed_ = false;
      }
    }
    // The poll reports the set becoming ready once: take every event.
    if (epoll_ready) count_io_events(set_.deliver(0, /*drain=*/true));
  }

  void wake() override { set_.wake(); }
  const char* name() const override { return "io_uring"; }

  absl::StatusOr<IoRegistration*> register_io(int fd) override { return set_.register_io(fd); }
  void deregister_io(IoRegistration* r) override { set_.deregister_io(r); }
  size_t io_registrations() const override { return set_.live(); }
  void close_all_io() override { set_.close_all(); }

 private:
  // Queues a poll of the epoll fd owned by this thread, unless one is armed
  // already; another thread's is removed first. Submitted by the wait.
  void arm() {
    const void* me = ThisThread();
    if (armed_ && owner_ == me) return;
    if (armed_ && !ring_.QueuePollRemove(PollToken(generation_), kRemoveToken)) return;
    armed_ = false;
    if (!ring_.QueuePoll(set_.fd(), kPollIn, PollToken(generation_ + 1), /*multishot=*/false)) {
      return;
    }
    ++generation_;
    armed_ = true;
    owner_ = me;
  }

  sys::Uring ring_;  // Only parkers queue, submit and harvest (one at a time).
  EpollSet set_;
  // The epoll fd's poll, for parkers only: armed, by whom, and its
  // generation (in its token, so a removed poll's completion is told apart).
  bool armed_ = false;
  const void* owner_ = nullptr;
  uint64_t generation_ = 0;
};

}  // namespace

absl::Status CreateUringReactor(std::unique_ptr<Reactor>* out) {
  return OpenInto<UringReactor>(out);
}

}  // namespace reactor
}  // namespace v0
}  // namespace nanorun
