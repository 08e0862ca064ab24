// The Linux io_uring reactor (issue 18): workers park in io_uring_enter,
// readiness comes from an epoll set that the ring polls, and sockets' recvs
// and sends may go into the ring as completion operations (reactor.h's
// RingOp; stage two), harvested by the parker with the poll's completion.
//
// Why readiness stays with epoll: a request in a ring holds a reference to
// its file, and when it is removed the kernel drops that reference from the
// thread that submitted it, later (task work). With a poll request per
// socket, closing a socket from another thread left it open for a moment:
// its port still bound, its listener still accepting, its peer not yet told
// (seen as a flaky test: a listener closed, then its path still answered
// connect). epoll holds no reference, so close() stays immediate, exactly as
// in the epoll reactor, and so do every edge case of io.h. The ring holds one
// request of its own, a poll on the epoll fd; the completion operations
// (send, recv) are single requests that live no longer than the operation,
// which holds the socket. A listener's multishot accept (=on) lives while
// the listener does, so closing one shuts it down first (shutdown(2) stops
// a TCP listener at once) and then cancels the request (net/ring_accept.h).
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
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "nanorun/reactor/backends.h"
#include "nanorun/reactor/reactor.h"
#include "nanorun/reactor/epoll_set.h"
#include "nanorun/sys/happens_before.h"
#include "nanorun/sys/linux/uring.h"
#include "nanorun/sys/linux/uring_buffers.h"
#include "nanorun/sys/spin_lock.h"

namespace nanorun {
inline namespace v0 {
namespace reactor {
namespace {

// Completions: the epoll fd's poll (odd: (generation << 1) | 1), the
// completion operations (their RingOp's address: even), and the ring's own
// bookkeeping requests (poll removals, cancels), whose results say nothing.
constexpr uint64_t kRemoveToken = ~uint64_t{0} - 1;
constexpr uint64_t kCancelToken = ~uint64_t{0} - 3;
constexpr uint32_t kPollIn = 0x001;  // poll(2)'s POLLIN.
// The receive buffers the kernel picks from when a recv's data comes: as
// many as recvs that may complete between two harvests (the pool is
// refilled at each harvest), each the size of the echo example's reads.
constexpr uint16_t kRecvGroup = 0;
constexpr unsigned kRecvBuffers = 64;
constexpr unsigned kRecvBufferSize = 16384;

uint64_t PollToken(uint64_t generation) { return generation << 1 | 1; }
uint64_t OpToken(RingOp* op) { return reinterpret_cast<uint64_t>(op); }

// Which thread armed the poll: the address of a thread_local is unique among
// live threads.
const void* ThisThread() {
  static thread_local char tag;
  return &tag;
}

class UringReactor final : public Reactor {
 public:
  ~UringReactor() override { cancel_all_ops(); }  // Before the pool and the ring go.

  absl::Status open() {
    // NANORUN_URING_SOCKET_OPS=on: TCP reads, writes, connects and
    // listeners' accepts (a multishot accept each) become ring requests
    // (stage two). Off by default: level with readiness on tcp_echo here,
    // behind it on tcp_accept with two workers (docs/performance.md). `all`
    // is the same: it named the set with accepts while they measured slower
    // than the rest, which they no longer do since the ring runs completions
    // cooperatively (docs/performance.md, session 18).
    const char* ops = std::getenv("NANORUN_URING_SOCKET_OPS");
    if (ops != nullptr && *ops != '\0') {
      socket_ops_ = std::strcmp(ops, "on") == 0 || std::strcmp(ops, "all") == 0;
      if (!socket_ops_ && std::strcmp(ops, "off") != 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "NANORUN_URING_SOCKET_OPS=", ops,
            " is not a choice: use on (TCP reads, writes, connects and accepts through the "
            "ring; `all` means the same) or off (or unset it)"));
      }
    }
    absl::Status s = ring_.Open(/*entries=*/256, /*cq_entries=*/1024);
    if (!s.ok()) return s;
    s = pool_.Open(ring_, kRecvGroup, kRecvBuffers, kRecvBufferSize);
    if (!s.ok()) return s;
    return set_.open();
  }

  void park(absl::Duration timeout) override {
    {
      std::lock_guard<sys::SpinLock> lock(sq_mu_);
      arm();  // Only parkers touch the poll's state (one at a time).
    }
    int64_t timeout_ns = TimeoutNanos(timeout);
    if (!armed_) timeout_ns = 0;  // Could not arm (the ring is full): do not sleep blind.
    ring_.SubmitAndWait(timeout_ns);  // ETIME, EINTR: an early or empty return.
    bool epoll_ready = harvest();
    // Just looking: look at epoll too. The poll reports the set becoming
    // ready once: take every event.
    if (epoll_ready || timeout_ns == 0) count_io_events(set_.deliver(0, /*drain=*/true));
  }

  void wake() override { set_.wake(); }
  const char* name() const override { return "io_uring"; }

  absl::StatusOr<IoRegistration*> register_io(int fd) override { return set_.register_io(fd); }
  void deregister_io(IoRegistration* r) override { set_.deregister_io(r); }
  size_t io_registrations() const override { return set_.live(); }
  void close_all_io() override {
    set_.close_all();
    cancel_all_ops();
  }

  bool queue_recv(int fd, size_t max, bool poll_first, RingOp* op) override {
    if (max > kRecvBufferSize) max = kRecvBufferSize;
    return queue_op(op, [&] {
      return ring_.QueueRecvFromPool(fd, kRecvGroup, max, poll_first, OpToken(op));
    });
  }
  bool queue_send(int fd, const void* data, size_t length, RingOp* op) override {
    return queue_op(op, [&] { return ring_.QueueSend(fd, data, length, OpToken(op)); });
  }
  bool queue_connect(int fd, const void* addr, size_t length, RingOp* op) override {
    if (!socket_ops_) return false;
    return queue_op(op, [&] {
      return ring_.QueueConnect(fd, addr, static_cast<uint32_t>(length), OpToken(op));
    });
  }
  bool queue_accept(int fd, RingOp* op) override {
    if (!socket_ops_) return false;
    return queue_op(op, [&] { return ring_.QueueAcceptMultishot(fd, OpToken(op)); });
  }
  bool accepts_by_ring() const override { return socket_ops_; }
  void cancel(RingOp* op) override {
    {
      std::lock_guard<sys::SpinLock> lock(sq_mu_);
      // Full: hand the queue over (the operation itself may be in it) and retry.
      while (!ring_.QueueCancel(OpToken(op), kCancelToken)) ring_.Submit();
    }
    ring_.Submit();  // Now: a stop should not wait for the next park.
  }
  void submit_queued() override { ring_.Submit(); }  // No syscall if nothing is queued.
  size_t ring_recv_limit() const override { return socket_ops_ ? kRecvBufferSize : 0; }
  void reads_by_ring(IoRegistration* r) override { set_.watch_writes_only(r); }
  size_t ring_ops_in_flight() const override {
    return in_flight_.load(std::memory_order_acquire);
  }

 private:
  // Queues `op` with `queue` (one of ring_'s Queue* calls) under the lock.
  // A full submission queue is handed to the kernel from this thread, then
  // the entry is taken again.
  template <class QueueFn>
  bool queue_op(RingOp* op, QueueFn queue) {
    sys::HappensBefore(op);  // Its harvester runs `done`, maybe on another thread.
    std::lock_guard<sys::SpinLock> lock(sq_mu_);
    if (!queue()) {
      ring_.Submit();
      if (!queue()) return false;
    }
    in_flight_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }

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

  // Takes every ready completion: runs the operations' `done` and gives
  // their receive buffers back. True if the epoll fd's poll completed. One
  // thread at a time (the parker, or shutdown once nobody parks).
  bool harvest() {
    bool epoll_ready = false;
    sys::UringCompletion done[16];
    int n;
    uint64_t ops = 0;
    while ((n = ring_.Harvest(done, 16)) > 0) {
      for (int i = 0; i < n; ++i) {
        const sys::UringCompletion& c = done[i];
        if (c.user_data == kRemoveToken || c.user_data == kCancelToken) continue;
        if (c.user_data & 1) {
          // The poll's completion: events are ready (or it was removed or
          // cancelled; looking costs one epoll_wait that finds nothing).
          epoll_ready = true;
          if (c.user_data == PollToken(generation_)) armed_ = false;
          continue;
        }
        auto* op = reinterpret_cast<RingOp*>(c.user_data);
        const char* data = c.buffer >= 0 ? pool_.data(static_cast<uint16_t>(c.buffer)) : nullptr;
        sys::HappensAfter(op);  // Pairs with queue_*'s, through the kernel.
        op->more = c.more;
        op->done(op, c.result, data);  // May free op (on its last completion).
        if (c.buffer >= 0) pool_.Recycle(static_cast<uint16_t>(c.buffer));
        // A multishot request is one operation in flight until its last.
        if (!c.more) in_flight_.fetch_sub(1, std::memory_order_release);
        ++ops;
      }
    }
    count_ring_completions(ops);
    return epoll_ready;
  }

  // Shutdown: cancels every request and harvests until each operation's
  // `done` has run, so no completion can name an operation after this, and
  // no request holds a socket or a buffer once the ring closes.
  void cancel_all_ops() {
    while (in_flight_.load(std::memory_order_acquire) != 0) {
      {
        std::lock_guard<sys::SpinLock> lock(sq_mu_);
        while (!ring_.QueueCancelAll(kCancelToken)) ring_.Submit();
      }
      // A request already running (-EALREADY) completes by itself soon.
      ring_.SubmitAndWait(/*timeout_ns=*/10 * 1000 * 1000);
      harvest();
    }
    armed_ = false;  // Cancelled with the rest, if it was armed.
  }

  sys::Uring ring_;
  sys::UringBufferPool pool_;  // Destroyed before ring_, whose group it is.
  EpollSet set_;
  // Guards queueing into ring_ (any thread); submitting and harvesting do
  // not need it (see sys/linux/uring.h).
  sys::SpinLock sq_mu_;
  std::atomic<size_t> in_flight_{0};  // Queued operations whose last done has not run.
  // The epoll fd's poll, for parkers only: armed, by whom, and its
  // generation (in its token, so a removed poll's completion is told apart).
  bool socket_ops_ = false;  // Offer completion operations to nanorun::net.
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
