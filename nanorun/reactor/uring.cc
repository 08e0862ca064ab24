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
// long-lived request, a multishot poll on the epoll fd; the completion
// operations to come (send, recv, accept) are single requests that live no
// longer than the operation, which holds the socket.
//
// park() waits in io_uring_enter with the timeout as an argument (no timer
// request); a completion for the epoll fd means events are ready, and
// epoll_wait(0) takes them; wake() writes the eventfd in the epoll set.
//
// Who submits the poll matters: the kernel runs a poll's wakeup as task work
// of the thread that submitted it, and removes the request when that thread
// exits. So the first thread to park (a worker, which lives as long as the
// runtime) submits it, and a parker that finds it ended submits it again.
#include <cerrno>
#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>

#include "nanorun/reactor/backends.h"
#include "nanorun/reactor/reactor.h"
#include "nanorun/sys/linux/event_poll.h"
#include "nanorun/sys/linux/uring.h"
#include "nanorun/sys/spin_lock.h"

namespace nanorun {
inline namespace v0 {
namespace reactor {
namespace {

constexpr uint64_t kEpollToken = 1;  // The poll on the epoll fd.
constexpr uint32_t kPollIn = 0x001;  // poll(2)'s POLLIN.

class UringReactor final : public Reactor {
 public:
  absl::Status open() {
    absl::Status s = ring_.Open(/*entries=*/64, /*cq_entries=*/256);
    if (!s.ok()) return s;
    return poll_.Open();
  }

  void park(absl::Duration timeout) override {
    if (!armed_) arm();  // Only parkers touch armed_ (one at a time).
    int64_t timeout_ns = -1;
    if (timeout <= absl::ZeroDuration()) {
      timeout_ns = 0;
    } else if (timeout != absl::InfiniteDuration()) {
      timeout_ns = absl::ToInt64Nanoseconds(timeout);
    }
    if (armed_) {
      ring_.Wait(timeout_ns);  // ETIME, EINTR: an early or empty return.
    } else {
      timeout_ns = 0;  // Could not arm (out of memory): do not sleep blind.
    }
    bool epoll_ready = timeout_ns == 0;  // Just looking: look at epoll too.
    sys::UringCompletion done[16];
    int n;
    while ((n = ring_.Harvest(done, 16)) > 0) {
      for (int i = 0; i < n; ++i) {
        if (done[i].user_data != kEpollToken) continue;
        epoll_ready = true;
        if (!done[i].more) armed_ = false;  // The kernel ended it: arm again next park.
      }
    }
    if (epoll_ready) deliver_epoll_events();
  }

  void wake() override { poll_.Wake(); }
  const char* name() const override { return "io_uring"; }

  absl::StatusOr<IoRegistration*> register_io(int fd) override {
    IoRegistration* r = slab_.allocate(fd);
    if (r == nullptr) {
      return absl::ResourceExhaustedError("reactor: more than 4M registered sockets");
    }
    absl::Status added = poll_.Add(fd, r->token());
    if (!added.ok()) {
      slab_.release(r);
      return added;
    }
    return r;
  }

  void deregister_io(IoRegistration* r) override {
    r->close();
    (void)poll_.Remove(r->fd());  // Fails only if the fd was closed already.
    slab_.release(r);
  }

  size_t io_registrations() const override { return slab_.live(); }
  void close_all_io() override { slab_.close_all(); }

 private:
  void arm() {
    std::lock_guard<sys::SpinLock> lock(sq_mu_);
    if (ring_.QueuePollMultishot(poll_.fd(), kPollIn, kEpollToken) && ring_.Submit() == 1) {
      armed_ = true;
    }
  }

  // Takes every ready event: the poll reports the epoll set becoming ready,
  // once, so events left behind would wait for the next unrelated one.
  void deliver_epoll_events() {
    uint64_t delivered = 0;
    sys::PollEvent events[64];
    int n;
    do {
      n = poll_.Wait(events, 64, 0);
      for (int i = 0; i < n; ++i) {
        if (events[i].token == sys::EventPoll::kWakeToken) continue;
        if (IoRegistration* r = slab_.find(events[i].token)) {
          r->on_ready(events[i].readable, events[i].writable, events[i].persistent);
          ++delivered;
        }
      }
    } while (n == 64);
    count_io_events(delivered);
  }

  sys::Uring ring_;
  sys::EventPoll poll_;
  IoSlab slab_;
  // The submission queue. Only parkers submit today; the completion
  // operations will submit from any worker.
  sys::SpinLock sq_mu_;
  bool armed_ = false;  // The epoll fd's poll is in the ring. Parkers only.
};

}  // namespace

absl::Status CreateUringReactor(std::unique_ptr<Reactor>* out) {
  auto reactor = std::make_unique<UringReactor>();
  absl::Status status = reactor->open();
  if (!status.ok()) return status;
  *out = std::move(reactor);
  return absl::OkStatus();
}

}  // namespace reactor
}  // namespace v0
}  // namespace nanorun
