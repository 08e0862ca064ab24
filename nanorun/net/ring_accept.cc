// RingAccept: a TCP listener's multishot accept in the reactor's ring (see
// ring_accept.h for the design and who keeps what alive).
#include "nanorun/net/ring_accept.h"

#include <mutex>
#include <utility>

#include "nanorun/executor/executor.h"
#include "nanorun/net/socket_core.h"
#include "nanorun/sys/socket.h"

namespace nanorun {
inline namespace v0 {
namespace net {
namespace detail {

RingAccept::RingAccept() { done = &Done; }

// A connection that came while the listener was going away, after Done
// found no listener to tell but before close() marked this closed.
RingAccept::~RingAccept() {
  for (int fd : ready_) sys::Close(fd);
}

int RingAccept::take(bool* armed) {
  std::lock_guard<sys::SpinLock> lock(mu_);
  *armed = armed_;
  if (ready_.empty()) return -1;
  int fd = ready_.front();
  ready_.pop_front();
  return fd;
}

bool RingAccept::arm(SocketCore& listener) {
  executor::Executor* e = listener.executor();  // Alive: the caller holds the core.
  reactor::Reactor& reactor = e->reactor();
  {
    std::lock_guard<sys::SpinLock> lock(mu_);
    // Closed: the caller's next look at the registration fails the accept.
    // Stopping (too many waiting): the request's last completion comes soon
    // and is an edge; its waiters retry and arm again once they took some.
    if (closed_ || armed_) return true;
    armed_ = true;
    stopping_ = false;
    listener_ = listener.weak_from_this();
    self_ = shared_from_this();
    if (!reactor.queue_accept(listener.fd(), this)) {
      armed_ = false;
      self_.reset();  // The core still holds this.
      return false;
    }
  }
  // With the worker's next wait, as recvs are (Executor::defer_ring_submit).
  if (!executor::Executor::defer_ring_submit(e)) reactor.submit_queued();
  return true;
}

void RingAccept::close(reactor::Reactor& reactor) {
  std::deque<int> unclaimed;
  bool cancel;
  {
    std::lock_guard<sys::SpinLock> lock(mu_);
    if (closed_) return;
    closed_ = true;
    unclaimed.swap(ready_);
    cancel = armed_;
  }
  for (int fd : unclaimed) sys::Close(fd);
  // The request's last completion releases self_; the caller holds this.
  if (cancel) reactor.cancel(this);
}

// On the thread harvesting the ring (in park(), or in close_all_io()).
void RingAccept::Done(reactor::RingOp* op, int32_t result, const char* data) {
  (void)data;
  auto* self = static_cast<RingAccept*>(op);
  const bool more = op->more;
  int stray = -1;
  bool stop_now = false;
  std::shared_ptr<SocketCore> listener;
  std::shared_ptr<RingAccept> last_hold;  // Released at the end: may free self.
  {
    std::lock_guard<sys::SpinLock> lock(self->mu_);
    listener = self->listener_.lock();
    if (result >= 0) {
      if (self->closed_) {
        stray = result;  // The listener is closing: nobody will accept it.
      } else {
        self->ready_.push_back(result);
      }
    }
    if (!more) {
      self->armed_ = false;
      last_hold = std::move(self->self_);
    } else if (self->ready_.size() >= kMaxReady && !self->stopping_ && !self->closed_) {
      self->stopping_ = true;  // Leave the rest in the kernel's backlog.
      stop_now = true;
    }
  }
  if (stray >= 0) sys::Close(stray);
  if (listener != nullptr) {
    if (stop_now) listener->executor()->reactor().cancel(self);
    // A connection to take, or the request ended (retry accept4 and re-arm,
    // or take its error): either way the waiting accepts look again.
    if ((result >= 0 || !more) && !listener->is_closed()) {
      listener->registration().on_ready(/*readable=*/true, /*writable=*/false);
    }
  }
  // If this was the listener's last holder, its destructor runs here and
  // closes this object (closed_: a request still armed is cancelled).
  listener.reset();
}

}  // namespace detail
}  // namespace net
}  // namespace v0
}  // namespace nanorun
