// The setsockopt-backed parts of TcpStream, TcpListener and UdpSocket:
// checked option setters and getters, the options applied before bind, and
// adopting sockets this process already has (from_native).
#include <climits>

#include "absl/strings/str_cat.h"
#include "nanorun/net/tcp.h"
#include "nanorun/net/udp.h"

namespace nanorun {
inline namespace v0 {
namespace net {

using detail::SocketCore;
using sys::SocketOption;

namespace detail {
namespace {

absl::Status CheckBufferSize(int bytes, const char* what) {
  // Linux doubles the value it is given; keep that inside an int.
  if (bytes <= 0 || bytes > INT_MAX / 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " ", bytes, " is out of range: give a size in bytes, 1 to ", INT_MAX / 2));
  }
  return absl::OkStatus();
}

absl::Status CheckTtl(int hops) {
  if (hops < 1 || hops > 255) {
    return absl::InvalidArgumentError(absl::StrCat("ttl ", hops, " is out of range: 1 to 255 hops"));
  }
  return absl::OkStatus();
}

// A whole number of seconds, at least 1, for TCP_KEEPIDLE / TCP_KEEPINTVL.
absl::StatusOr<int> WholeSeconds(absl::Duration d, const char* what) {
  if (d < absl::Seconds(1) || d > absl::Seconds(32767) || d != absl::Trunc(d, absl::Seconds(1))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "TcpKeepalive::", what, " is ", absl::FormatDuration(d),
        ": give whole seconds from 1 to 32767 (the kernel counts in seconds)"));
  }
  return static_cast<int>(absl::ToInt64Seconds(d));
}

// The setters and getters all start here: an empty handle is misuse.
absl::Status SetOption(const std::shared_ptr<SocketCore>& core, SocketOption option, int value,
                       const char* op) {
  if (core == nullptr) return EmptySocket(op);
  absl::Status s = sys::SetSocketOption(core->fd(), option, value);
  if (!s.ok()) return absl::Status(s.code(), absl::StrCat(s.message(), " (", core->label(), ")"));
  return s;
}

absl::StatusOr<int> GetOption(const std::shared_ptr<SocketCore>& core, SocketOption option,
                              const char* op) {
  if (core == nullptr) return EmptySocket(op);
  return sys::GetSocketOption(core->fd(), option);
}

absl::StatusOr<bool> GetFlag(const std::shared_ptr<SocketCore>& core, SocketOption option,
                             const char* op) {
  absl::StatusOr<int> v = GetOption(core, option, op);
  if (!v.ok()) return v.status();
  return *v != 0;
}

}  // namespace

absl::Status ApplyBindOptions(int fd, const SocketAddr& addr, bool reuse_port,
                              std::optional<bool> v6_only, std::optional<int> send_buffer_size,
                              std::optional<int> receive_buffer_size, const char* op) {
  auto named = [&](absl::Status s) {
    return s.ok() ? s : absl::Status(s.code(), absl::StrCat(op, " ", addr.ToString(), ": ", s.message()));
  };
  if (v6_only.has_value() && !addr.is_ipv6()) {
    return named(absl::InvalidArgumentError(
        "v6_only is for IPv6 addresses; an IPv4 socket never accepts IPv6"));
  }
  if (send_buffer_size) {
    if (absl::Status s = CheckBufferSize(*send_buffer_size, "send_buffer_size"); !s.ok()) return named(s);
  }
  if (receive_buffer_size) {
    if (absl::Status s = CheckBufferSize(*receive_buffer_size, "receive_buffer_size"); !s.ok()) {
      return named(s);
    }
  }
  absl::Status s;
  if (reuse_port) s = sys::SetSocketOption(fd, SocketOption::kReusePort, 1);
  if (s.ok() && v6_only) s = sys::SetSocketOption(fd, SocketOption::kV6Only, *v6_only ? 1 : 0);
  if (s.ok() && send_buffer_size) s = sys::SetSocketOption(fd, SocketOption::kSendBuffer, *send_buffer_size);
  if (s.ok() && receive_buffer_size) {
    s = sys::SetSocketOption(fd, SocketOption::kReceiveBuffer, *receive_buffer_size);
  }
  return named(s);
}

absl::StatusOr<std::shared_ptr<SocketCore>> AdoptIpSocket(int fd, sys::SocketRole role,
                                                          const Handle& handle, const char* op) {
  absl::Status error;
  executor::Executor* e = RuntimeFor(&handle, op, &error);
  if (e == nullptr) return error;
  if (absl::Status ok = sys::AdoptSocket(fd, sys::SocketFamily::kIp, role); !ok.ok()) {
    return absl::Status(ok.code(), absl::StrCat(op, ": ", ok.message()));
  }
  // Connected sockets are named by their peer, the others by where they are bound.
  absl::StatusOr<sys::IpAddress> name =
      role == sys::SocketRole::kConnected ? sys::PeerAddress(fd) : sys::LocalAddress(fd);
  std::string label =
      name.ok() ? detail::NetAccess::addr(*name).ToString() : absl::StrCat("fd ", fd);
  if (role == sys::SocketRole::kDatagram) label = "udp " + label;
  return SocketCore::Register(e, fd, label);
}

}  // namespace detail

// --- TcpStream ----------------------------------------------------------

absl::StatusOr<TcpStream> TcpStream::from_native(int fd, const Handle& handle) {
  auto core = detail::AdoptIpSocket(fd, sys::SocketRole::kConnected, handle, "TcpStream::from_native");
  if (!core.ok()) return core.status();
  return detail::NetAccess::wrap<TcpStream>(*std::move(core));
}

absl::Status TcpStream::set_nodelay(bool on) const {
  return detail::SetOption(core_, SocketOption::kNoDelay, on ? 1 : 0, "set_nodelay");
}
absl::StatusOr<bool> TcpStream::nodelay() const {
  return detail::GetFlag(core_, SocketOption::kNoDelay, "nodelay");
}

absl::Status TcpStream::set_keepalive(std::optional<TcpKeepalive> keepalive) const {
  if (!keepalive) return detail::SetOption(core_, SocketOption::kKeepAlive, 0, "set_keepalive");
  // Check every field before changing anything.
  std::optional<int> idle, interval;
  if (keepalive->idle) {
    absl::StatusOr<int> s = detail::WholeSeconds(*keepalive->idle, "idle");
    if (!s.ok()) return s.status();
    idle = *s;
  }
  if (keepalive->interval) {
    absl::StatusOr<int> s = detail::WholeSeconds(*keepalive->interval, "interval");
    if (!s.ok()) return s.status();
    interval = *s;
  }
  if (keepalive->probes && (*keepalive->probes < 1 || *keepalive->probes > 127)) {
    return absl::InvalidArgumentError(
        absl::StrCat("TcpKeepalive::probes is ", *keepalive->probes, ": give 1 to 127"));
  }
  absl::Status s;
  if (idle) s = detail::SetOption(core_, SocketOption::kKeepIdle, *idle, "set_keepalive");
  if (s.ok() && interval) s = detail::SetOption(core_, SocketOption::kKeepInterval, *interval, "set_keepalive");
  if (s.ok() && keepalive->probes) {
    s = detail::SetOption(core_, SocketOption::kKeepCount, *keepalive->probes, "set_keepalive");
  }
  if (s.ok()) s = detail::SetOption(core_, SocketOption::kKeepAlive, 1, "set_keepalive");
  return s;
}
absl::StatusOr<bool> TcpStream::keepalive() const {
  return detail::GetFlag(core_, SocketOption::kKeepAlive, "keepalive");
}

absl::Status TcpStream::set_send_buffer_size(int bytes) const {
  if (absl::Status s = detail::CheckBufferSize(bytes, "send_buffer_size"); !s.ok()) return s;
  return detail::SetOption(core_, SocketOption::kSendBuffer, bytes, "set_send_buffer_size");
}
absl::StatusOr<int> TcpStream::send_buffer_size() const {
  return detail::GetOption(core_, SocketOption::kSendBuffer, "send_buffer_size");
}
absl::Status TcpStream::set_receive_buffer_size(int bytes) const {
  if (absl::Status s = detail::CheckBufferSize(bytes, "receive_buffer_size"); !s.ok()) return s;
  return detail::SetOption(core_, SocketOption::kReceiveBuffer, bytes, "set_receive_buffer_size");
}
absl::StatusOr<int> TcpStream::receive_buffer_size() const {
  return detail::GetOption(core_, SocketOption::kReceiveBuffer, "receive_buffer_size");
}

absl::Status TcpStream::set_linger(std::optional<absl::Duration> linger) const {
  if (core_ == nullptr) return detail::EmptySocket("set_linger");
  if (linger && *linger != absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "set_linger(", absl::FormatDuration(*linger),
        "): only zero (reset on close) or nullopt (the default) are allowed; a nonzero linger "
        "would block a worker thread in close. To know the peer got everything, "
        "shutdown_write() and read until end of stream"));
  }
  return sys::SetLinger(core_->fd(), linger ? std::optional<int>(0) : std::nullopt);
}
absl::StatusOr<std::optional<absl::Duration>> TcpStream::linger() const {
  if (core_ == nullptr) return detail::EmptySocket("linger");
  absl::StatusOr<std::optional<int>> seconds = sys::GetLinger(core_->fd());
  if (!seconds.ok()) return seconds.status();
  if (!seconds->has_value()) return std::optional<absl::Duration>();
  return std::optional<absl::Duration>(absl::Seconds(**seconds));
}

absl::Status TcpStream::set_ttl(int hops) const {
  if (absl::Status s = detail::CheckTtl(hops); !s.ok()) return s;
  return detail::SetOption(core_, SocketOption::kTtl, hops, "set_ttl");
}
absl::StatusOr<int> TcpStream::ttl() const { return detail::GetOption(core_, SocketOption::kTtl, "ttl"); }

// --- TcpListener --------------------------------------------------------

absl::StatusOr<TcpListener> TcpListener::from_native(int fd, const Handle& handle) {
  auto core = detail::AdoptIpSocket(fd, sys::SocketRole::kListening, handle, "TcpListener::from_native");
  if (!core.ok()) return core.status();
  (*core)->accept_by_ring();
  return TcpListener(*std::move(core));
}

// --- UdpSocket ----------------------------------------------------------

absl::StatusOr<UdpSocket> UdpSocket::from_native(int fd, const Handle& handle) {
  auto core = detail::AdoptIpSocket(fd, sys::SocketRole::kDatagram, handle, "UdpSocket::from_native");
  if (!core.ok()) return core.status();
  return UdpSocket(*std::move(core));
}

absl::Status UdpSocket::set_broadcast(bool on) const {
  return detail::SetOption(core_, SocketOption::kBroadcast, on ? 1 : 0, "set_broadcast");
}
absl::StatusOr<bool> UdpSocket::broadcast() const {
  return detail::GetFlag(core_, SocketOption::kBroadcast, "broadcast");
}
absl::Status UdpSocket::set_ttl(int hops) const {
  if (absl::Status s = detail::CheckTtl(hops); !s.ok()) return s;
  return detail::SetOption(core_, SocketOption::kTtl, hops, "set_ttl");
}
absl::StatusOr<int> UdpSocket::ttl() const { return detail::GetOption(core_, SocketOption::kTtl, "ttl"); }
absl::Status UdpSocket::set_send_buffer_size(int bytes) const {
  if (absl::Status s = detail::CheckBufferSize(bytes, "send_buffer_size"); !s.ok()) return s;
  return detail::SetOption(core_, SocketOption::kSendBuffer, bytes, "set_send_buffer_size");
}
absl::StatusOr<int> UdpSocket::send_buffer_size() const {
  return detail::GetOption(core_, SocketOption::kSendBuffer, "send_buffer_size");
}
absl::Status UdpSocket::set_receive_buffer_size(int bytes) const {
  if (absl::Status s = detail::CheckBufferSize(bytes, "receive_buffer_size"); !s.ok()) return s;
  return detail::SetOption(core_, SocketOption::kReceiveBuffer, bytes, "set_receive_buffer_size");
}
absl::StatusOr<int> UdpSocket::receive_buffer_size() const {
  return detail::GetOption(core_, SocketOption::kReceiveBuffer, "receive_buffer_size");
}

}  // namespace net
}  // namespace v0
}  // namespace nanorun
