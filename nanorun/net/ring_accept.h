// A TCP listener's accepts that the reactor's ring carries out (io_uring with
// NANORUN_URING_SOCKET_OPS=on; docs/architecture.md, "Stage two"). One
// multishot accept request per listener: the kernel accepts each connection
// as it arrives and posts its fd, with no syscall of ours; the fds wait here,
// in arrival order, until accept() takes them (accept.h).
//
// How it meets the readiness contract the rest of net is built on: every
// connection the ring hands over is a read edge on the listener's
// registration (IoRegistration::on_ready), so an accept waiting in IoOp
// retries, takes the fd from here, and never knows a ring was involved; the
// listener's own epoll read edges are turned off (Reactor::reads_by_ring),
// as they would only wake it twice per connection. While a request is armed
// an accept that finds nothing here waits at once (accept4 would race the
// request for the same connections and find none); when none is armed it
// tries accept4, and arms one only after accept4 found nothing waiting, so
// every wait has a request armed behind it. A request that ends (an error,
// a cancel) is an edge too: the waiters retry accept4 and take its error,
// its backoff (EMFILE) or the next arming.
//
// Stopping loses no connection: an accept that stops waits in IoOp and
// holds nothing of the ring; a connection accepted meanwhile waits here for
// the next accept. At most kMaxReady wait: then the request is cancelled,
// and the kernel's backlog holds the rest (as it does without a ring) until
// accept() catches up and arms it again. Closing the listener shuts it down
// (no connection can arrive after close(), as with epoll), cancels the
// request, and closes the fds waiting here: their peers see the connection
// end, as do those left in the kernel's backlog.
//
// Who keeps what alive: the listener's SocketCore holds this object; an
// armed request holds it too (self_) until its last completion, which may
// come after the SocketCore is gone. This object holds the SocketCore only
// weakly, so a listener dropped without close() still closes.
#ifndef NANORUN_NET_RING_ACCEPT_H_
#define NANORUN_NET_RING_ACCEPT_H_

#include <cstddef>
#include <deque>
#include <memory>

#include "nanorun/reactor/reactor.h"
#include "nanorun/sys/spin_lock.h"

namespace nanorun {
inline namespace v0 {
namespace net {
namespace detail {

class SocketCore;

class RingAccept final : public reactor::RingOp,
                         public std::enable_shared_from_this<RingAccept> {
 public:
  // Connections accepted ahead of accept() calls before the request stops.
  static constexpr size_t kMaxReady = 64;

  RingAccept();
  ~RingAccept();  // Closes any fd still waiting (see Done).
  RingAccept(const RingAccept&) = delete;
  RingAccept& operator=(const RingAccept&) = delete;

  // The oldest connection the ring accepted and no accept took yet, or -1;
  // *armed: whether a request is in the ring (it takes the next
  // connection, and its completion is the edge to wait for).
  int take(bool* armed);
  // Makes sure a multishot accept for `listener` (whose ring_accept() this
  // is) is in the ring; call it after accept4 found nothing waiting, before
  // waiting for an edge. False if the ring's queue was full: nothing will
  // wake the caller, so it retries after a short pause.
  bool arm(SocketCore& listener);
  // The listener closes or goes away: no more arming, the request (if
  // armed) is cancelled, and the connections waiting here are closed. The
  // caller shuts the listener down as well (see queue_accept). Idempotent.
  void close(reactor::Reactor& reactor);

 private:
  static void Done(reactor::RingOp* op, int32_t result, const char* data);

  sys::SpinLock mu_;
  // Everything below is guarded by mu_.
  std::deque<int> ready_;  // Accepted fds, oldest first.
  bool armed_ = false;     // A request is in the ring (until its last completion).
  bool stopping_ = false;  // It was cancelled because ready_ is full.
  bool closed_ = false;
  std::weak_ptr<SocketCore> listener_;
  std::shared_ptr<RingAccept> self_;  // Set while armed: the request's hold.
};

}  // namespace detail
}  // namespace net
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_NET_RING_ACCEPT_H_
