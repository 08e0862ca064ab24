// UdpSocket: datagrams over the reactor, with the same handle and buffer
// rules as TCP (tcp.h): a cheap copyable handle; spans must outlive the
// returned future.
#ifndef NANORUN_NET_UDP_H_
#define NANORUN_NET_UDP_H_

#include <cstddef>
#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "nanorun/future/future.h"
#include "nanorun/future/runtime.h"
#include "nanorun/net/socket_addr.h"
#include "nanorun/net/socket_core.h"
#include "nanorun/net/socket_options.h"

namespace nanorun {
inline namespace v0 {
namespace net {

// Cancel-safety as for TcpStream (tcp.h): a stopped operation that was waiting
// for the socket took nothing and sent nothing; one whose syscall already ran
// completes with its datagram.
class UdpSocket {
 public:
  UdpSocket() = default;

  // A socket bound to `addr` (port 0: any free port), on the calling
  // worker's runtime or `handle`'s.
  static absl::StatusOr<UdpSocket> bind(const SocketAddr& addr);
  static absl::StatusOr<UdpSocket> bind(const SocketAddr& addr, const Handle& handle);
  static absl::StatusOr<UdpSocket> bind(const SocketAddr& addr, const UdpBindOptions& options);
  static absl::StatusOr<UdpSocket> bind(const SocketAddr& addr, const UdpBindOptions& options,
                                        const Handle& handle);
  // Adopts a UDP socket this process already has (checked, made
  // non-blocking and close-on-exec, then owned); anything else is
  // InvalidArgument and stays yours.
  static absl::StatusOr<UdpSocket> from_native(int fd, const Handle& handle);

  // One datagram to `to`; returns the bytes sent. Stopped while waiting: not
  // sent, and `data` is released.
  Future<size_t> send_to(absl::Span<const char> data, const SocketAddr& to) const;
  // The next datagram (truncated to buf.size()) and its sender. Stopped while
  // waiting: no datagram taken (the next recv gets it); `buf` is released.
  Future<std::pair<size_t, SocketAddr>> recv_from(absl::Span<char> buf) const;

  // Sets the default peer: send() goes there and recv() takes only its
  // datagrams.
  absl::Status connect(const SocketAddr& peer) const;
  // One datagram to the connected peer (connect()); as send_to otherwise.
  Future<size_t> send(absl::Span<const char> data) const;
  // The next datagram from the connected peer; as recv_from otherwise.
  Future<size_t> recv(absl::Span<char> buf) const;

  // Options, as TcpStream's (tcp.h). SO_BROADCAST: may send to a broadcast
  // address.
  absl::Status set_broadcast(bool on) const;
  absl::StatusOr<bool> broadcast() const;
  // IP_TTL (IPV6_UNICAST_HOPS for IPv6), 1..255.
  absl::Status set_ttl(int hops) const;
  absl::StatusOr<int> ttl() const;
  // SO_SNDBUF, in bytes (> 0).
  absl::Status set_send_buffer_size(int bytes) const;
  absl::StatusOr<int> send_buffer_size() const;
  // SO_RCVBUF, in bytes (> 0).
  absl::Status set_receive_buffer_size(int bytes) const;
  absl::StatusOr<int> receive_buffer_size() const;

  // The address it is bound to: the port bind() picked for port 0.
  absl::StatusOr<SocketAddr> local_addr() const;
  // Closes the socket now: pending operations fail with CancelledError.
  void close() const;
  // False for a default-constructed socket.
  bool valid() const { return core_ != nullptr; }
  // The socket, lent (see StreamSocket::native_handle); -1 if not valid().
  int native_handle() const { return core_ != nullptr ? core_->fd() : -1; }

 private:
  explicit UdpSocket(std::shared_ptr<detail::SocketCore> core) : core_(std::move(core)) {}
  std::shared_ptr<detail::SocketCore> core_;
};

}  // namespace net
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_NET_UDP_H_
