// Socket options for nanorun::net: what a listener or a UDP socket is bound
// with (TcpListenOptions, UdpBindOptions), and TcpKeepalive. Each field names
// the OS option it sets; docs/os.md says what each does per OS. Every value
// is checked first: a bad one is InvalidArgument naming the field, and an
// option the OS lacks (SO_REUSEPORT on Windows) is Unimplemented, never
// silently skipped.
#ifndef NANORUN_NET_SOCKET_OPTIONS_H_
#define NANORUN_NET_SOCKET_OPTIONS_H_

#include <optional>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace nanorun {
inline namespace v0 {
namespace net {

// For TcpListener::bind. SO_REUSEADDR is always set (a restarted server binds
// past its old connections' TIME_WAIT; on Windows, SO_EXCLUSIVEADDRUSE).
struct TcpListenOptions {
  // listen(2)'s queue of connections not yet accepted (the kernel caps it at
  // net.core.somaxconn).
  int backlog = 1024;
  // SO_REUSEPORT: several listeners (threads or processes) bind the same
  // address and port, and the kernel spreads new connections among them.
  // Every one of them must set it. Linux only.
  bool reuse_port = false;
  // IPV6_V6ONLY, for an IPv6 address (InvalidArgument on an IPv4 one): true
  // accepts IPv6 only, false IPv4-mapped too; unset leaves the OS default
  // (Linux: false unless net.ipv6.bindv6only; Windows: true).
  std::optional<bool> v6_only;
  // SO_SNDBUF / SO_RCVBUF in bytes, set before listen so that accepted
  // connections inherit them (the receive window is fixed at the handshake).
  // Linux doubles the value for bookkeeping and reports the doubled size.
  std::optional<int> send_buffer_size;
  std::optional<int> receive_buffer_size;
};

// For UdpSocket::bind.
struct UdpBindOptions {
  // SO_REUSEADDR: on Linux, lets several sockets bind one address (needed
  // with multicast); Windows SO_REUSEADDR is not set (it lets any process
  // steal the port there).
  bool reuse_address = false;
  bool reuse_port = false;  // SO_REUSEPORT, as for TCP. Linux only.
  std::optional<bool> v6_only;
  std::optional<int> send_buffer_size;
  std::optional<int> receive_buffer_size;
  bool broadcast = false;  // SO_BROADCAST: may send to broadcast addresses.
};

// TCP keepalive: after `idle` without traffic the kernel probes the peer
// every `interval`, and after `probes` unanswered ones it drops the
// connection (pending and later reads fail: "Connection timed out"). Unset
// fields keep the OS default (Linux: 7200 s, 75 s, 9). Times are whole
// seconds, at least 1 (TCP_KEEPIDLE and TCP_KEEPINTVL count in seconds);
// anything else is InvalidArgument.
struct TcpKeepalive {
  std::optional<absl::Duration> idle;
  std::optional<absl::Duration> interval;
  std::optional<int> probes;
};

}  // namespace net
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_NET_SOCKET_OPTIONS_H_
