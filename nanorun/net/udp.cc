// UdpSocket: one non-blocking sendto/recvfrom per attempt (socket_core.h).
#include "nanorun/net/udp.h"

#include "absl/strings/str_cat.h"
#include "nanorun/net/tcp.h"

namespace nanorun {
inline namespace v0 {
namespace net {

using detail::IoOp;
using detail::SocketCore;
using detail::Step;
using reactor::Direction;

absl::StatusOr<UdpSocket> UdpSocket::bind(const SocketAddr& addr) {
  return bind(addr, UdpBindOptions(), Handle());
}
absl::StatusOr<UdpSocket> UdpSocket::bind(const SocketAddr& addr, const Handle& handle) {
  return bind(addr, UdpBindOptions(), handle);
}
absl::StatusOr<UdpSocket> UdpSocket::bind(const SocketAddr& addr, const UdpBindOptions& options) {
  return bind(addr, options, Handle());
}

// An invalid `handle` means the calling worker's runtime.
absl::StatusOr<UdpSocket> UdpSocket::bind(const SocketAddr& addr, const UdpBindOptions& options,
                                          const Handle& handle) {
  absl::Status error;
  executor::Executor* e = detail::RuntimeFor(&handle, "UdpSocket::bind", &error);
  if (e == nullptr) return error;
  absl::StatusOr<int> fd = sys::OpenSocket(detail::NetAccess::ip(addr), sys::SocketType::kDatagram);
  if (!fd.ok()) return fd.status();
  absl::Status s = detail::ApplyBindOptions(*fd, addr, options.reuse_port, options.v6_only,
                                            options.send_buffer_size, options.receive_buffer_size,
                                            "UdpSocket::bind");
  if (s.ok() && options.reuse_address) s = sys::SetReuseAddress(*fd);
  if (s.ok() && options.broadcast) s = sys::SetSocketOption(*fd, sys::SocketOption::kBroadcast, 1);
  if (s.ok()) s = sys::Bind(*fd, detail::NetAccess::ip(addr));
  if (!s.ok()) {
    sys::Close(*fd);
    return s;
  }
  absl::StatusOr<std::shared_ptr<SocketCore>> core =
      SocketCore::Register(e, *fd, "udp " + detail::BoundLabel(*fd, addr));
  if (!core.ok()) return core.status();
  return UdpSocket(*std::move(core));
}

Future<size_t> UdpSocket::send_to(absl::Span<const char> data, const SocketAddr& to) const {
  return IoOp<size_t>(core_, Direction::kWrite, "send_to", true, [data, to](SocketCore& c) {
    sys::IoResult r = sys::SendTo(c.fd(), data.data(), data.size(), detail::NetAccess::ip(to));
    if (r.would_block) return Step<size_t>::would_block();
    if (r.err != 0) {
      return Step<size_t>::done(sys::ErrnoStatus(r.err, absl::StrCat("send_to ", to.ToString())));
    }
    return Step<size_t>::done(static_cast<size_t>(r.n));
  });
}

Future<std::pair<size_t, SocketAddr>> UdpSocket::recv_from(absl::Span<char> buf) const {
  using Received = std::pair<size_t, SocketAddr>;
  return IoOp<Received>(core_, Direction::kRead, "recv_from", true, [buf](SocketCore& c) {
    sys::IpAddress from;
    sys::IoResult r = sys::RecvFrom(c.fd(), buf.data(), buf.size(), &from);
    if (r.would_block) return Step<Received>::would_block();
    if (r.err != 0) return Step<Received>::done(c.errno_error(r.err, "recv_from on"));
    return Step<Received>::done(Received(static_cast<size_t>(r.n), detail::NetAccess::addr(from)));
  });
}

absl::Status UdpSocket::connect(const SocketAddr& peer) const {
  if (core_ == nullptr) return absl::FailedPreconditionError("UdpSocket::connect on an empty socket");
  int err = sys::StartConnect(core_->fd(), detail::NetAccess::ip(peer));
  if (err != 0) return sys::ErrnoStatus(err, absl::StrCat("connect ", peer.ToString()));
  return absl::OkStatus();
}

Future<size_t> UdpSocket::send(absl::Span<const char> data) const {
  return IoOp<size_t>(core_, Direction::kWrite, "send", true, [data](SocketCore& c) {
    sys::IoResult r = sys::Write(c.fd(), data.data(), data.size());
    if (r.would_block) return Step<size_t>::would_block();
    if (r.err != 0) return Step<size_t>::done(c.errno_error(r.err, "send on"));
    return Step<size_t>::done(static_cast<size_t>(r.n));
  });
}

Future<size_t> UdpSocket::recv(absl::Span<char> buf) const {
  return IoOp<size_t>(core_, Direction::kRead, "recv", true, [buf](SocketCore& c) {
    sys::IoResult r = sys::Read(c.fd(), buf.data(), buf.size());
    if (r.would_block) return Step<size_t>::would_block();
    if (r.err != 0) return Step<size_t>::done(c.errno_error(r.err, "recv on"));
    return Step<size_t>::done(static_cast<size_t>(r.n));
  });
}

absl::StatusOr<SocketAddr> UdpSocket::local_addr() const {
  if (core_ == nullptr) return absl::FailedPreconditionError("local_addr on an empty socket");
  absl::StatusOr<sys::IpAddress> ip = sys::LocalAddress(core_->fd());
  if (!ip.ok()) return ip.status();
  return detail::NetAccess::addr(*ip);
}

void UdpSocket::close() const {
  if (core_ != nullptr) core_->close();
}

}  // namespace net
}  // namespace v0
}  // namespace nanorun
