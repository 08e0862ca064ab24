// Stream writes the reactor's ring carries out (io_uring, stage two; the
// reads are ring_read.h). With socket operations on, every write to a TCP
// stream is a send request: queued by the worker that runs the write's
// continuation and handed to the kernel in the io_uring_enter that parks it
// (Executor::defer_ring_submit), with every other connection's sends of that
// turn. No `sendto` per write: that is what makes the ring path pay, since
// then a recv's task work runs inside the worker's wait, batched, instead of
// interrupting a syscall (docs/performance.md).
//
// Order: one send in the ring per stream at a time, the others waiting in a
// FIFO (RingReadQueue, the same mechanism as reads), so bytes leave in the
// order the writes were made even when a send comes back short.
//
// Memory: the bytes are the node's own (the std::string forms move theirs
// in; a span is copied), because a dropped write's caller may free its
// buffer while the kernel still reads it. This copy is the price of the path
// for large writes.
//
// Stopping: a write still waiting in the FIFO settles at once, having written
// nothing. The send in the ring is cancelled and the write settles when its
// completion comes: with nothing sent, CancelledError; write() that sent some
// returns the count (as a readiness write whose syscall ran); write_all that
// sent a prefix fails with CancelledError saying how much went out.
#ifndef NANORUN_NET_RING_WRITE_H_
#define NANORUN_NET_RING_WRITE_H_

#include <atomic>
#include <cerrno>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <type_traits>
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

// T = size_t: write() (one send; its count). T = void: write_all().
template <class T>
class RingWriteNode final : public nanorun::detail::SharedState<T>, public RingReadBase {
 public:
  static Future<T> Start(std::shared_ptr<SocketCore> core, std::string bytes) {
    void* memory = task::AllocateBlock(sizeof(RingWriteNode));
    auto* node = new (memory) RingWriteNode(std::move(core), std::move(bytes));
    node->alloc_size = sizeof(RingWriteNode);
    node->set_stop_hook(&node->stop_hook_);
    Future<T> out = nanorun::detail::FutureAccess::from_state<T>(node);
    RingReadQueue& q = node->core_->ring_write_queue();
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
  RingWriteNode(std::shared_ptr<SocketCore> core, std::string bytes)
      : core_(std::move(core)), bytes_(std::move(bytes)) {
    done = &Done;
    resume = &Resume;
  }
  ~RingWriteNode() = delete;  // The output state frees the allocation.

  static RingWriteNode* cast(RingReadBase* base) { return static_cast<RingWriteNode*>(base); }
  bool stop_seen() const {
    return stop_requested_.load(std::memory_order_seq_cst) ||
           (busy_.load(std::memory_order_acquire) & kStopping);
  }
  Result<T> sent_result() const {
    if constexpr (std::is_void<T>::value) {
      return absl::OkStatus();
    } else {
      return Result<T>(sent_);
    }
  }

  static RingReadBase* Resume(RingReadBase* base) {
    RingWriteNode* self = cast(base);
    if (self->core_->is_closed()) return self->finish(self->closed());
    if (self->stop_seen()) return self->finish(self->stopped());
    if (self->bytes_.empty()) return self->finish(self->sent_result());
    self->queue();
    return nullptr;
  }

  void queue() {
    executor::Executor* e = core_->executor();  // Alive: our caller holds the core.
    reactor::Reactor& reactor = e->reactor();
    RingReadQueue& q = core_->ring_write_queue();
    bool queued = false, stopped = false;
    {
      // As ring_read.h's queue(): a stop or close either is seen here or
      // finds this send in the ring and cancels it.
      std::lock_guard<sys::SpinLock> lock(q.mu);
      stopped = stop_requested_.load(std::memory_order_acquire) || core_->is_closed();
      if (!stopped) {
        queued = reactor.queue_send(core_->fd(), bytes_.data() + sent_, bytes_.size() - sent_, this);
      }
    }
    if (queued) {  // The node may complete on another thread now.
      if (!executor::Executor::defer_ring_submit(e)) reactor.submit_queued();
      return;
    }
    Result<T> failed = stopped ? (core_->is_closed() ? closed() : stopped_or_partial())
                               : Result<T>(absl::UnavailableError(absl::StrCat(
                                     "write to ", core_->label(), ": the reactor's ring is full")));
    RingReadQueue::ResumeFrom(finish(std::move(failed)));
  }

  static void Done(reactor::RingOp* op, int32_t result, const char*) {
    RingWriteNode* self = cast(static_cast<RingReadBase*>(op));
    RingReadQueue::ResumeFrom(self->on_completion(result));
  }

  RingReadBase* on_completion(int32_t result) {
    bool stopped = stop_seen();
    bool closed_now = core_->is_closed();
    if (result == -ECANCELED && !stopped && !closed_now) {
      queue();  // A cancel meant for someone else (see SocketCore::close).
      return nullptr;
    }
    if (result < 0) {
      if (result == -ECANCELED) return finish(closed_now ? closed() : stopped_or_partial());
      return finish(Result<T>(core_->errno_error(-result, "write to")));
    }
    sent_ += static_cast<size_t>(result);
    if (std::is_same<T, size_t>::value || sent_ == bytes_.size()) return finish(sent_result());
    if (stopped || closed_now) return finish(closed_now ? closed() : stopped_or_partial());
    queue();  // write_all: the rest.
    return nullptr;
  }

  Result<T> closed() const { return Result<T>(core_->closed_error("write")); }
  Result<T> stopped() const {
    return Result<T>(absl::CancelledError(absl::StrCat(
        "write to ", core_->label(),
        ": stopped while it waited for the socket (its future was dropped, a timeout "
        "passed, or its task was aborted): it wrote nothing")));
  }
  // write() that sent some returns the count; write_all says how far it got.
  Result<T> stopped_or_partial() const {
    if (sent_ == 0) return stopped();
    if constexpr (std::is_void<T>::value) {
      return absl::CancelledError(absl::StrCat("write to ", core_->label(), ": stopped after ",
                                               sent_, " of ", bytes_.size(),
                                               " bytes went out (the rest did not)"));
    } else {
      return Result<T>(sent_);
    }
  }

  // As RingReadNode::finish: the queue passes on, then the result is
  // published (after the worker leaves the reactor, inside it).
  RingReadBase* finish(Result<T> result) {
    RingReadQueue& q = core_->ring_write_queue();
    RingReadBase* next;
    {
      std::lock_guard<sys::SpinLock> lock(q.mu);
      next = q.pass_on();
    }
    this->store(std::move(result));
    if (busy_.fetch_or(kCompleting, std::memory_order_acq_rel) & kStopping) return next;
    deferred_.run = &RunPublish;
    deferred_.owner = this;
    if (!executor::Executor::defer_io(&deferred_)) publish();
    return next;
  }
  static void RunPublish(void* self) { static_cast<RingWriteNode*>(self)->publish(); }
  void publish() {
    core_.reset();
    bytes_.~basic_string();
    if (nanorun::detail::Continuation* c = nanorun::detail::Publish<T>(this)) {
      nanorun::detail::Dispatch(c, this);
    }
  }

  static nanorun::detail::StopStep OnStop(nanorun::detail::StateBase* state) {
    auto* self =
        static_cast<RingWriteNode*>(static_cast<nanorun::detail::SharedState<T>*>(state));
    constexpr nanorun::detail::StopStep kSettlesSoon{nullptr, nullptr, /*stoppable=*/true};
    if (self->busy_.fetch_or(kStopping, std::memory_order_acq_rel) & kCompleting) {
      return kSettlesSoon;
    }
    self->stop_requested_.store(true, std::memory_order_seq_cst);
    RingReadQueue& q = self->core_->ring_write_queue();
    bool waiting, active;
    {
      std::lock_guard<sys::SpinLock> lock(q.mu);
      waiting = q.remove_waiting(self);
      active = q.active == self;
    }
    if (waiting) {  // Never reached the ring: nothing written.
      self->store(self->stopped());
      self->busy_.fetch_or(kCompleting, std::memory_order_relaxed);
      self->publish();
      return kSettlesSoon;
    }
    if (active) self->core_->executor()->reactor().cancel(self);
    if (self->busy_.fetch_and(~kStopping, std::memory_order_acq_rel) & kCompleting) {
      self->publish();
    }
    return kSettlesSoon;
  }

  std::shared_ptr<SocketCore> core_;
  std::string bytes_;  // Destroyed by publish() (the state frees only itself).
  size_t sent_ = 0;
  executor::DeferredIo deferred_;
  std::atomic<bool> stop_requested_{false};
  static constexpr int kStopping = 1, kCompleting = 2;
  std::atomic<int> busy_{0};
  nanorun::detail::StopHookFn stop_hook_ = &OnStop;
};

}  // namespace detail
}  // namespace net
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_NET_RING_WRITE_H_
