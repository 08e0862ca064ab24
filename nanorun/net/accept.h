// The accept loop TcpListener and UnixListener share: one non-blocking
// accept per attempt, skipping connections that failed in the backlog and
// backing off (not spinning, not failing) while the process is out of
// descriptors or kernel memory; a TCP listener whose accepts go through the
// reactor's ring takes the connections it accepted first. Internal to net.
#ifndef NANORUN_NET_ACCEPT_H_
#define NANORUN_NET_ACCEPT_H_

#include <algorithm>
#include <memory>

#include "absl/time/time.h"
#include "nanorun/net/ring_accept.h"
#include "nanorun/net/socket_core.h"

namespace nanorun {
inline namespace v0 {
namespace net {
namespace detail {

// How long accept waits after running out of descriptors or kernel memory
// (EMFILE, ENFILE, ENOBUFS, ENOMEM) before trying again, doubling up to 1 s
// while the condition lasts. Failing the accept instead would end the
// typical accept loop, and the server with it, over a passing shortage.
constexpr absl::Duration kFirstAcceptBackoff = absl::Milliseconds(10);
// How long accept waits when the reactor's ring had no room for its request.
constexpr absl::Duration kRingFullPause = absl::Milliseconds(1);

// The next connection on `listener`. `on_accepted(SocketCore& listener, int
// fd, const sys::IpAddress& peer) -> Step<R>` owns the new fd (peer is
// filled for IP listeners only).
template <class R, class OnAccepted>
Future<R> AcceptNext(const std::shared_ptr<SocketCore>& listener, bool ip_peer,
                     OnAccepted on_accepted) {
  absl::Duration backoff = kFirstAcceptBackoff;
  return IoOp<R>(listener, reactor::Direction::kRead, "accept", true,
                 [backoff, ip_peer, on_accepted](SocketCore& c) mutable -> Step<R> {
                   for (;;) {
                     sys::IpAddress peer;
                     RingAccept* ring = c.ring_accept();
                     if (ring != nullptr) {
                       // A connection the ring accepted already (ring_accept.h).
                       bool armed = false;
                       int fd = ring->take(&armed);
                       // None yet, and the ring's request will take the next.
                       if (fd < 0 && armed) return Step<R>::would_block();
                       if (fd >= 0) {
                         if (ip_peer) {
                           absl::StatusOr<sys::IpAddress> p = sys::PeerAddress(fd);
                           if (!p.ok()) {  // Reset before we looked: as ECONNABORTED.
                             sys::Close(fd);
                             continue;
                           }
                           peer = *p;
                         }
                         backoff = kFirstAcceptBackoff;
                         return on_accepted(c, fd, peer);
                       }
                     }
                     sys::IoResult r = sys::Accept(c.fd(), ip_peer ? &peer : nullptr);
                     if (r.would_block) {
                       // Every wait has a request armed behind it: the ring's
                       // completions are this listener's only read edges.
                       if (ring != nullptr && !ring->arm(c)) {
                         return Step<R>::retry_after(kRingFullPause);
                       }
                       return Step<R>::would_block();
                     }
                     if (r.err != 0) {
                       switch (sys::ClassifyAcceptError(r.err)) {
                         case sys::AcceptFailure::kSkip:
                           continue;
                         case sys::AcceptFailure::kBackOff: {
                           absl::Duration wait = backoff;
                           backoff = std::min(backoff * 2, absl::Seconds(1));
                           return Step<R>::retry_after(wait);
                         }
                         case sys::AcceptFailure::kFatal:
                           return Step<R>::done(c.errno_error(r.err, "accept on"));
                       }
                     }
                     backoff = kFirstAcceptBackoff;
                     return on_accepted(c, static_cast<int>(r.n), peer);
                   }
                 });
}

}  // namespace detail
}  // namespace net
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_NET_ACCEPT_H_
