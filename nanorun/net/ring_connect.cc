// The connect request in the ring (see ring_connect.h for the rules).
#include "nanorun/net/ring_connect.h"

#include <atomic>
#include <cerrno>
#include <mutex>
#include <new>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nanorun/net/socket_core.h"
#include "nanorun/net/tcp.h"
#include "nanorun/sys/spin_lock.h"
#include "nanorun/task/block_cache.h"

namespace nanorun {
inline namespace v0 {
namespace net {
namespace detail {
namespace {

using nanorun::detail::SharedState;
using nanorun::detail::StateBase;
using nanorun::detail::StopStep;

class RingConnectNode final : public SharedState<TcpStream>, public reactor::RingOp {
 public:
  static Future<TcpStream> Start(executor::Executor* e, int fd, const sys::IpAddress& addr,
                                 std::string label) {
    void* memory = task::AllocateBlock(sizeof(RingConnectNode));
    auto* node = new (memory) RingConnectNode(e, fd, addr, std::move(label));
    node->alloc_size = sizeof(RingConnectNode);
    node->set_stop_hook(&node->stop_hook_);
    Future<TcpStream> out = nanorun::detail::FutureAccess::from_state<TcpStream>(node);
    node->queue();  // From here the node may complete on another thread.
    return out;
  }

 private:
  // Not a result the kernel gives: the ring had no room for the request.
  static constexpr int32_t kRingFull = 1;
  static constexpr int kStopping = 1, kCompleting = 2;

  RingConnectNode(executor::Executor* e, int fd, const sys::IpAddress& addr, std::string label)
      : e_(e), fd_(fd), addr_(sys::ToRawSocketAddress(addr)), label_(std::move(label)) {
    done = &Done;
    e_->retain();  // Dropped by publish(), last.
  }
  ~RingConnectNode() = delete;  // The output state frees the allocation.

  void queue() {
    reactor::Reactor& reactor = e_->reactor();
    bool queued;
    {
      // A stop (OnStop) is either seen here or finds the request queued.
      std::lock_guard<sys::SpinLock> lock(mu_);
      queued = !stop_requested_.load(std::memory_order_relaxed) &&
               reactor.queue_connect(fd_, addr_.bytes, addr_.length, this);
      queued_ = queued;
    }
    if (!queued) return finish(stop_requested_.load(std::memory_order_relaxed) ? -ECANCELED
                                                                               : kRingFull);
    // On a worker in its I/O batch: with the wait that parks it; else now.
    if (!executor::Executor::defer_ring_submit(e_)) reactor.submit_queued();
  }

  // On the thread harvesting the ring.
  static void Done(reactor::RingOp* op, int32_t result, const char*) {
    static_cast<RingConnectNode*>(op)->finish(result);
  }

  // The request is over: publish, unless a stop hook is running (it does).
  void finish(int32_t result) {
    result_ = result;
    if (busy_.fetch_or(kCompleting, std::memory_order_acq_rel) & kStopping) return;
    // Registering and the caller's continuation run after the worker leaves
    // the reactor, as for every other operation's.
    deferred_.run = &RunPublish;
    deferred_.owner = this;
    if (!executor::Executor::defer_io(&deferred_)) publish();
  }
  static void RunPublish(void* self) { static_cast<RingConnectNode*>(self)->publish(); }

  Result<TcpStream> outcome() {
    if (result_ == 0) {
      // Connected (even if a stop came meanwhile: the stream is the caller's
      // now). Register closes the fd if it fails.
      absl::StatusOr<std::shared_ptr<SocketCore>> core = SocketCore::Register(e_, fd_, label_);
      if (!core.ok()) return Result<TcpStream>(core.status());
      return Result<TcpStream>(NetAccess::wrap<TcpStream>(*std::move(core)));
    }
    sys::Close(fd_);
    if (result_ == kRingFull) {
      return Result<TcpStream>(absl::UnavailableError(
          absl::StrCat("connect ", label_, ": the reactor's ring is full; try again")));
    }
    if (result_ == -ECANCELED) {
      if (stop_requested_.load(std::memory_order_acquire)) {
        return Result<TcpStream>(absl::CancelledError(absl::StrCat(
            "connect ", label_,
            ": stopped before the connection was made (its future was dropped, a timeout "
            "passed, or its task was aborted); the socket is closed")));
      }
      return Result<TcpStream>(absl::CancelledError(absl::StrCat(
          "connect ", label_, ": its runtime shut down before the connection was made")));
    }
    return Result<TcpStream>(sys::ErrnoStatus(-result_, absl::StrCat("connect ", label_)));
  }

  void publish() {
    this->store(outcome());
    label_.~basic_string();
    executor::Executor* e = e_;
    if (nanorun::detail::Continuation* c = nanorun::detail::Publish<TcpStream>(this)) {
      nanorun::detail::Dispatch(c, this);
    }
    e->drop_ref();  // Last: it may free the reactor (and the node is gone).
  }

  static StopStep OnStop(StateBase* state) {
    auto* self = static_cast<RingConnectNode*>(static_cast<SharedState<TcpStream>*>(state));
    constexpr StopStep kSettlesSoon{nullptr, nullptr, /*stoppable=*/true};
    if (self->busy_.fetch_or(kStopping, std::memory_order_acq_rel) & kCompleting) {
      return kSettlesSoon;  // Its publish is on the way.
    }
    bool queued;
    {
      std::lock_guard<sys::SpinLock> lock(self->mu_);
      self->stop_requested_.store(true, std::memory_order_release);
      queued = self->queued_;
    }
    // The request completes once more, with -ECANCELED or its outcome.
    if (queued) self->e_->reactor().cancel(self);
    if (self->busy_.fetch_and(~kStopping, std::memory_order_acq_rel) & kCompleting) {
      self->publish();  // It completed while we were here.
    }
    return kSettlesSoon;
  }

  executor::Executor* e_;
  int fd_;
  sys::RawSocketAddress addr_;  // Read by the kernel until the completion.
  std::string label_;           // Destroyed by publish().
  int32_t result_ = 0;
  executor::DeferredIo deferred_;
  sys::SpinLock mu_;
  bool queued_ = false;  // Guarded by mu_.
  std::atomic<bool> stop_requested_{false};
  std::atomic<int> busy_{0};
  nanorun::detail::StopHookFn stop_hook_ = &OnStop;
};

}  // namespace

Future<TcpStream> RingConnect(executor::Executor* e, int fd, const sys::IpAddress& addr,
                              std::string label) {
  return RingConnectNode::Start(e, fd, addr, std::move(label));
}

}  // namespace detail
}  // namespace net
}  // namespace v0
}  // namespace nanorun
