// Stream reads the reactor's ring carries out (io_uring, stage two of issue
// 18; docs/architecture.md). Where the reactor has completion operations
// (Reactor::ring_recv_limit() > 0), a TCP read that would wait for a
// readiness edge and then make a read(2) instead queues a recv into the
// ring: the kernel takes the bytes when they arrive, the worker harvests the
// completion with the others in its park, and no syscall is made per read.
// The batch's recvs go to the kernel in one io_uring_enter at the end of the
// worker's I/O batch (Executor::defer_ring_submit).
//
// A read is a Reader: what it asks for (want()), its plain syscall attempt
// (attempt(), tried first unless the short-read hint says the socket is
// empty), and what it does with bytes that came from the ring or the stash
// (consume(): its result once it has one; nullopt asks for more, which
// read_exact does).
//
// Stopping (a dropped future, a timeout, an abort): a read still waiting in
// the socket's queue settles at once, having read nothing. The read in the
// ring is cancelled; it settles when its completion comes (soon: the cancel
// is submitted at once): CancelledError if the cancel won, and if the recv
// won, its bytes go into the socket's stash, where the next read finds them
// first, so the stopped read still reads nothing and no byte is lost
// (ring_read_queue.h says why reads wait behind each other for this).
// close() and runtime shutdown cancel it the same way and it fails with the
// closed error.
#ifndef NANORUN_NET_RING_READ_H_
#define NANORUN_NET_RING_READ_H_

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nanorun/executor/executor.h"
#include "nanorun/future/future.h"
#include "nanorun/net/ring_read_queue.h"
#include "nanorun/net/socket_core.h"
#include "nanorun/task/block_cache.h"

namespace nanorun {
inline namespace v0 {
namespace net {
namespace detail {

template <class T, class Reader>
class RingReadNode final : public nanorun::detail::SharedState<T>, public RingReadBase {
 public:
  // Joins the socket's queue; queues its recv at once if no read is ahead.
  static Future<T> Start(std::shared_ptr<SocketCore> core, const char* op, Reader reader) {
    void* memory = task::AllocateBlock(sizeof(RingReadNode));
    auto* node = new (memory) RingReadNode(std::move(core), op, std::move(reader));
    node->alloc_size = sizeof(RingReadNode);
    node->set_stop_hook(&node->stop_hook_);
    Future<T> out = nanorun::detail::FutureAccess::from_state<T>(node);
    // From here the node may complete on another thread; `out` keeps it.
    RingReadQueue& q = node->core_->ring_queue();
    bool first;
    {
      std::lock_guard<sys::SpinLock> lock(q.mu);
      first = q.active == nullptr && q.head == nullptr;
      if (first) {
        q.active = node;
        q.update_busy();
      } else {
        q.enqueue(node);
      }
    }
    if (first) RingReadQueue::ResumeFrom(node);
    return out;
  }

 private:
  RingReadNode(std::shared_ptr<SocketCore> core, const char* op, Reader reader)
      : core_(std::move(core)), op_(op) {
    new (&reader_) Reader(std::move(reader));
    done = &Done;
    resume = &Resume;
  }
  ~RingReadNode() = delete;  // The output state frees the allocation.

  static RingReadNode* cast(RingReadBase* base) { return static_cast<RingReadNode*>(base); }
  bool stop_seen() const {
    return stop_requested_.load(std::memory_order_seq_cst) ||
           (busy_.load(std::memory_order_acquire) & kStopping);
  }

  // Now the active read: the stash first, then the ring.
  static RingReadBase* Resume(RingReadBase* base) {
    RingReadNode* self = cast(base);
    SocketCore& core = *self->core_;
    if (core.is_closed()) return self->finish(Result<T>(core.closed_error(self->op_)));
    if (self->stop_seen()) return self->finish(Result<T>(self->stopped_error()));
    RingReadQueue& q = core.ring_queue();
    {
      std::unique_lock<sys::SpinLock> lock(q.mu);
      if (q.stash_error != 0) {
        int err = std::exchange(q.stash_error, 0);
        lock.unlock();
        return self->finish(Result<T>(core.errno_error(err, "read from")));
      }
      if (!q.stash.empty()) {
        size_t n = std::min(q.stash.size(), self->reader_.want());
        std::optional<Result<T>> result = self->reader_.consume(core, q.stash.data(), n);
        q.stash.erase(0, n);
        q.update_busy();
        lock.unlock();
        if (result) return self->finish(std::move(*result));
        self->queue();  // read_exact wants more.
        return nullptr;
      }
    }
    if (self->reader_.want() == 0) {  // Nothing to ask the kernel for.
      return self->finish(std::move(*self->reader_.consume(core, nullptr, 0)));
    }
    self->queue();
    return nullptr;
  }

  // Puts the recv into the ring (the caller is the active read).
  // `poll_first`: the kernel waits for data before it tries. Cheap even when
  // bytes are there (arming the poll finds them ready), and right after a
  // short read or an EAGAIN, which is how a read gets here.
  void queue(bool poll_first = true) {
    executor::Executor* e = core_->executor();  // Alive: our caller holds the core.
    reactor::Reactor& reactor = e->reactor();
    RingReadQueue& q = core_->ring_queue();
    asked_ = std::min(reader_.want(), core_->ring_recv_limit());
    enum { kQueued, kStopped, kClosed, kFull } outcome;
    {
      // Under the queue's lock, so a stop or a close either comes before
      // (and is seen here) or finds this read active with its recv in the
      // ring already, and cancels it (they store their flag, then look
      // under this lock).
      std::lock_guard<sys::SpinLock> lock(q.mu);
      if (stop_requested_.load(std::memory_order_acquire)) {
        outcome = kStopped;
      } else if (core_->is_closed()) {
        outcome = kClosed;
      } else {
        outcome = reactor.queue_recv(core_->fd(), asked_, poll_first, this) ? kQueued : kFull;
      }
    }
    // Queued: the node may complete on another thread now; do not touch it.
    switch (outcome) {
      case kQueued:
        if (!executor::Executor::defer_ring_submit(e)) reactor.submit_queued();
        return;
      case kStopped:
        return RingReadQueue::ResumeFrom(finish(Result<T>(stopped_error())));
      case kClosed:
        return RingReadQueue::ResumeFrom(finish(Result<T>(core_->closed_error(op_))));
      case kFull:
        return RingReadQueue::ResumeFrom(finish(Result<T>(absl::UnavailableError(absl::StrCat(
            op_, " ", core_->label(), ": the reactor's ring is full; try again")))));
    }
  }

  // The recv completed (on the harvesting thread; `data` only for now).
  static void Done(reactor::RingOp* op, int32_t result, const char* data) {
    RingReadNode* self = cast(static_cast<RingReadBase*>(op));
    RingReadQueue::ResumeFrom(self->on_completion(result, data));
  }

  RingReadBase* on_completion(int32_t result, const char* data) {
    SocketCore& core = *core_;
    bool stopped = stop_seen();
    bool closed = core.is_closed();
    if (result == -ENOBUFS || (result == -ECANCELED && !stopped && !closed)) {
      // Every receive buffer was in use, or a cancel meant for someone else
      // (see SocketCore::close): nothing was read; ask again.
      if (!stopped && !closed) {
        queue(/*poll_first=*/result == -ECANCELED);  // ENOBUFS: bytes are there.
        return nullptr;
      }
      result = -ECANCELED;
    }
    if (stopped || (closed && result == -ECANCELED)) {
      if (result != -ECANCELED && result != 0) {
        // The recv won the race with the cancel: these bytes (or this error)
        // are the stream's next, and the next read takes them first.
        RingReadQueue& q = core.ring_queue();
        std::lock_guard<sys::SpinLock> lock(q.mu);
        if (result > 0) {
          q.stash.append(data, static_cast<size_t>(result));
        } else {
          q.stash_error = -result;
        }
        q.update_busy();
      }
      return finish(Result<T>(stopped ? stopped_error() : core.closed_error(op_)));
    }
    if (result < 0) return finish(Result<T>(core.errno_error(-result, "read from")));
    auto n = static_cast<size_t>(result);
    if (std::optional<Result<T>> out = reader_.consume(core, data, n)) return finish(std::move(*out));
    queue(/*poll_first=*/n < asked_);  // read_exact: more to come.
    return nullptr;
  }

  // The active read settles: the queue passes to the next read, which is
  // returned to be resumed (it holds the core, so the queue outlives this).
  RingReadBase* finish(Result<T> result) {
    RingReadQueue& q = core_->ring_queue();
    RingReadBase* next;
    {
      std::lock_guard<sys::SpinLock> lock(q.mu);
      next = q.pass_on();
    }
    reader_.~Reader();
    this->store(std::move(result));
    if (busy_.fetch_or(kCompleting, std::memory_order_acq_rel) & kStopping) {
      return next;  // The stop hook reads core_ now; it publishes when done.
    }
    // Inside the reactor the continuation waits until the worker is out.
    deferred_.run = &RunPublish;
    deferred_.owner = this;
    if (!executor::Executor::defer_io(&deferred_)) publish();
    return next;
  }
  static void RunPublish(void* self) { static_cast<RingReadNode*>(self)->publish(); }
  void publish() {
    core_.reset();  // May close the socket, if this was its last user.
    if (nanorun::detail::Continuation* c = nanorun::detail::Publish<T>(this)) {
      nanorun::detail::Dispatch(c, this);
    }
  }

  absl::Status stopped_error() const {
    return absl::CancelledError(absl::StrCat(
        op_, " ", core_->label(),
        ": stopped while it waited for the socket (its future was dropped, a timeout "
        "passed, or its task was aborted): it read nothing"));
  }

  static nanorun::detail::StopStep OnStop(nanorun::detail::StateBase* state) {
    auto* self = static_cast<RingReadNode*>(static_cast<nanorun::detail::SharedState<T>*>(state));
    constexpr nanorun::detail::StopStep kSettlesSoon{nullptr, nullptr, /*stoppable=*/true};
    if (self->busy_.fetch_or(kStopping, std::memory_order_acq_rel) & kCompleting) {
      return kSettlesSoon;  // Settling already; it publishes.
    }
    self->stop_requested_.store(true, std::memory_order_seq_cst);
    RingReadQueue& q = self->core_->ring_queue();
    bool waiting, active;
    {
      std::lock_guard<sys::SpinLock> lock(q.mu);
      waiting = q.remove_waiting(self);
      active = q.active == self;
    }
    if (waiting) {
      // Never reached the ring: nothing was read; settle here.
      self->reader_.~Reader();
      self->store(Result<T>(self->stopped_error()));
      self->busy_.fetch_or(kCompleting, std::memory_order_relaxed);
      self->publish();
      return kSettlesSoon;
    }
    if (active) self->core_->executor()->reactor().cancel(self);
    if (self->busy_.fetch_and(~kStopping, std::memory_order_acq_rel) & kCompleting) {
      self->publish();  // It completed while we looked: finish() left this to us.
    }
    return kSettlesSoon;
  }

  std::shared_ptr<SocketCore> core_;
  const char* op_;
  size_t asked_ = 0;    // What the recv asked for.
  executor::DeferredIo deferred_;
  std::atomic<bool> stop_requested_{false};
  static constexpr int kStopping = 1, kCompleting = 2;
  std::atomic<int> busy_{0};
  nanorun::detail::StopHookFn stop_hook_ = &OnStop;
  union {
    Reader reader_;  // Destroyed by finish().
  };
};

// A stream read: a plain attempt first where that can succeed, else the
// ring where the socket has one, else IoOp's readiness edges.
template <class T, class Reader>
Future<T> StreamRead(const std::shared_ptr<SocketCore>& core, const char* op, Reader reader) {
  if (core == nullptr || core->ring_recv_limit() == 0) {
    return IoOp<T>(core, reactor::Direction::kRead, op, true,
                   [reader = std::move(reader)](SocketCore& c) mutable { return reader.attempt(c); });
  }
  reactor::IoRegistration& r = core->registration();
  if (r.is_closed()) return make_error_future<T>(core->closed_error(op));
  // The attempt goes first even right after a short read: with no read
  // edges (Reactor::reads_by_ring) nothing says whether bytes came since,
  // and a read that skipped them would, if stopped at once (with_stop on a
  // stop already requested), leave bytes a plain read would have returned.
  if (!core->ring_queue().busy()) {
    Step<T> step = reader.attempt(*core);
    if (step.kind == Step<T>::kDone) {
      return nanorun::detail::FutureAccess::from_result<T>(std::move(*step.result));
    }
  }
  return RingReadNode<T, Reader>::Start(core, op, std::move(reader));
}

}  // namespace detail
}  // namespace net
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_NET_RING_READ_H_
