// nanorun::net::SocketAddr: an IPv4 or IPv6 address with a port.
#ifndef NANORUN_NET_SOCKET_ADDR_H_
#define NANORUN_NET_SOCKET_ADDR_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nanorun/sys/socket.h"

namespace nanorun {
inline namespace v0 {
namespace net {

namespace detail {
class SocketCore;
struct NetAccess;  // Below SocketAddr.
}  // namespace detail

// An IPv4 or IPv6 address with a port (and, for IPv6, a scope id): a value
// type, cheap to copy, compared by value.
class SocketAddr {
 public:
  // 0.0.0.0:0.
  SocketAddr() = default;

  // "127.0.0.1:8080", "[::1]:0", "[fe80::1%2]:443" (numeric scope id). No
  // host names: resolving them is not this class's job. InvalidArgument
  // with the reason on anything else.
  static absl::StatusOr<SocketAddr> parse(absl::string_view text);
  // `127.0.0.1:port`, the IPv4 loopback address.
  static SocketAddr loopback_v4(uint16_t port);
  // `[::1]:port`, the IPv6 loopback address.
  static SocketAddr loopback_v6(uint16_t port);

  // True for an IPv4 address.
  bool is_ipv4() const { return !ip_.v6; }
  // True for an IPv6 address.
  bool is_ipv6() const { return ip_.v6; }
  // The port, in host byte order.
  uint16_t port() const { return ip_.port; }
  // Replaces the port.
  void set_port(uint16_t port) { ip_.port = port; }

  // "127.0.0.1:8080" or "[::1]:8080" (parse() reads it back).
  std::string ToString() const;

  // Same family, address, port and scope id.
  bool operator==(const SocketAddr& other) const;
  // Not operator==.
  bool operator!=(const SocketAddr& other) const { return !(*this == other); }

 private:
  friend struct detail::NetAccess;

  explicit SocketAddr(const sys::IpAddress& ip) : ip_(ip) {}

  sys::IpAddress ip_;
};

namespace detail {
// How nanorun::net's own code moves between its public types and what is
// under them: the sys layer's OS-neutral address, and a socket's shared core.
// Not for users.
struct NetAccess {
  static SocketAddr addr(const sys::IpAddress& ip) { return SocketAddr(ip); }
  static const sys::IpAddress& ip(const SocketAddr& a) { return a.ip_; }
  // A TcpStream, UnixStream, TcpListener, ... over `core`.
  template <class Socket>
  static Socket wrap(std::shared_ptr<SocketCore> core) {
    return Socket(std::move(core));
  }
};
}  // namespace detail

}  // namespace net
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_NET_SOCKET_ADDR_H_
