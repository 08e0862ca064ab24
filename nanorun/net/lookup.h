// Name resolution: lookup_host turns "localhost" or "example.com" into the
// addresses to connect to. It calls the OS resolver (getaddrinfo, which
// blocks) on the runtime's blocking pool (spawn_blocking), never on a worker.
// A numeric host ("127.0.0.1", "::1") is answered at once, without the pool,
// and so is "localhost" (or any name under ".localhost"): 127.0.0.1 then ::1,
// as RFC 6761 section 6.3 asks, whatever /etc/hosts or DNS would say.
//
// TcpStream::connect(host, port) (tcp.h) resolves, then tries the addresses in
// the resolver's order.
#ifndef NANORUN_NET_LOOKUP_H_
#define NANORUN_NET_LOOKUP_H_

#include <cstdint>
#include <string>
#include <vector>

#include "nanorun/future/future.h"
#include "nanorun/future/runtime.h"
#include "nanorun/net/socket_addr.h"

namespace nanorun {
inline namespace v0 {
namespace net {

// Every IPv4 and IPv6 address of `host`, each with `port`, in the order the
// resolver prefers (RFC 6724, /etc/gai.conf), duplicates removed; only
// families this machine has an address in (AI_ADDRCONFIG). Errors name the
// host: NotFound for a name that does not exist, Unavailable when no DNS
// server answered (a retry may work), InvalidArgument for an empty or
// over-long name. On the calling worker's runtime, or `handle`'s.
//
// Stopped (dropped, timed out) before the pool started the lookup: it never
// runs. Once running it cannot be stopped (getaddrinfo has no cancel): it
// finishes on the pool, and its result is dropped.
Future<std::vector<SocketAddr>> lookup_host(std::string host, uint16_t port);
Future<std::vector<SocketAddr>> lookup_host(std::string host, uint16_t port, const Handle& handle);

}  // namespace net
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_NET_LOOKUP_H_
