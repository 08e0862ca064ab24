// Winsock behind sys/socket.h. Socket handles are passed around as int:
// Windows documents kernel handles (SOCKETs included) as 32-bit significant,
// so the conversion loses nothing. Sockets are created non-inheritable (the
// CLOEXEC of Windows) and non-blocking; Windows has no SIGPIPE.
#include "nanorun/sys/socket.h"

#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>

#include <cstring>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "nanorun/sys/fault_injection.h"
#include "nanorun/sys/sockaddr.h"

namespace nanorun {
inline namespace v0 {
namespace sys {

const int kErrInProgress = WSAEWOULDBLOCK;  // What a non-blocking connect says.

AcceptFailure ClassifyAcceptError(int err) {
  switch (err) {
    case WSAECONNRESET:  // The peer reset it while it waited in the backlog.
    case WSAECONNABORTED:
    case WSAENETDOWN:
      return AcceptFailure::kSkip;
    case WSAEMFILE:
    case WSAENOBUFS:
      return AcceptFailure::kBackOff;
    default:
      return AcceptFailure::kFatal;
  }
}

namespace {

void StartWinsock() {
  static std::once_flag once;
  std::call_once(once, [] {
    WSADATA data;
    WSAStartup(MAKEWORD(2, 2), &data);
  });
}

SOCKET S(int fd) { return static_cast<SOCKET>(static_cast<uintptr_t>(static_cast<unsigned>(fd))); }

IoResult Outcome(int n) {
  IoResult r;
  if (n != SOCKET_ERROR) {
    r.n = n;
  } else {
    r.err = WSAGetLastError();
    r.would_block = r.err == WSAEWOULDBLOCK;
  }
  return r;
}

absl::Status Last(absl::string_view operation) { return ErrnoStatus(WSAGetLastError(), operation); }

// True when a test armed a failure for this call (the last error is then set to it).
bool Injected(fault::Op op) {
  int err = fault::Take(op);
  if (err == 0) return false;
  WSASetLastError(err);
  return true;
}

}  // namespace

absl::Status ErrnoStatus(int err, absl::string_view operation) {
  char text[256] = {};
  DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, nullptr,
                           static_cast<DWORD>(err), 0, text, sizeof(text), nullptr);
  while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == '.')) text[--n] = 0;
  std::string message = absl::StrCat(operation, ": ", n > 0 ? text : "error", " (", err, ")");
  switch (err) {
    case WSAECONNREFUSED:
    case WSAECONNRESET:
    case WSAECONNABORTED:
    case WSAENETUNREACH:
    case WSAEHOSTUNREACH:
    case WSAENOTCONN:
    case WSAESHUTDOWN:
      return absl::UnavailableError(message);
    case WSAEADDRINUSE:
      return absl::AlreadyExistsError(message);
    case WSAEADDRNOTAVAIL:
    case WSAEINVAL:
    case WSAEAFNOSUPPORT:
      return absl::InvalidArgumentError(message);
    case WSAEACCES:
      return absl::PermissionDeniedError(message);
    case WSAEMFILE:
    case WSAENOBUFS:
      return absl::ResourceExhaustedError(message);
    case WSAETIMEDOUT:
      return absl::DeadlineExceededError(message);
    default:
      return absl::InternalError(message);
  }
}

absl::StatusOr<int> OpenSocket(const IpAddress& addr, SocketType type) {
  StartWinsock();
  SOCKET s = WSASocketW(addr.v6 ? AF_INET6 : AF_INET,
                        type == SocketType::kStream ? SOCK_STREAM : SOCK_DGRAM, 0, nullptr, 0,
                        WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
  if (s == INVALID_SOCKET) return Last("socket");
  u_long on = 1;
  if (ioctlsocket(s, FIONBIO, &on) != 0) {
    absl::Status status = Last("ioctlsocket(FIONBIO)");
    closesocket(s);
    return status;
  }
  return static_cast<int>(s);
}

absl::Status AdoptSocket(int fd, SocketFamily family, SocketRole role) {
  StartWinsock();
  auto bad = [fd](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("socket ", fd, " ", what));
  };
  int type = 0;
  int len = sizeof(type);
  if (getsockopt(S(fd), SOL_SOCKET, SO_TYPE, reinterpret_cast<char*>(&type), &len) != 0) {
    return bad("is not an open socket");
  }
  sockaddr_storage ss;
  int ss_len = sizeof(ss);
  if (getsockname(S(fd), reinterpret_cast<sockaddr*>(&ss), &ss_len) != 0) {
    return bad("is not bound or connected");
  }
  bool ip = ss.ss_family == AF_INET || ss.ss_family == AF_INET6;
  if (family == SocketFamily::kIp && !ip) return bad("is not an IPv4 or IPv6 socket");
  if (family == SocketFamily::kUnix) return bad("cannot be a Unix-domain socket on Windows here");
  bool want_stream = role != SocketRole::kDatagram;
  if (want_stream && type != SOCK_STREAM) return bad("is not a stream socket");
  if (!want_stream && type != SOCK_DGRAM) return bad("is not a datagram socket");
  if (want_stream) {
    BOOL listening = FALSE;
    len = sizeof(listening);
    getsockopt(S(fd), SOL_SOCKET, SO_ACCEPTCONN, reinterpret_cast<char*>(&listening), &len);
    if (role == SocketRole::kListening && !listening) return bad("is a stream socket that is not listening");
    if (role == SocketRole::kConnected) {
      if (listening) return bad("is a listening socket, not a connected one");
      sockaddr_storage peer;
      int peer_len = sizeof(peer);
      if (getpeername(S(fd), reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0) {
        return bad("is a stream socket that is not connected");
      }
    }
  }
  u_long on = 1;
  if (ioctlsocket(S(fd), FIONBIO, &on) != 0) return ErrnoStatus(WSAGetLastError(), "ioctlsocket(FIONBIO)");
  SetHandleInformation(reinterpret_cast<HANDLE>(S(fd)), HANDLE_FLAG_INHERIT, 0);
  return absl::OkStatus();
}

void Close(int fd) { closesocket(S(fd)); }

absl::Status SetReuseAddress(int fd) {
  // Windows' SO_REUSEADDR lets a second live listener steal the port; what
  // POSIX's gives (rebinding past TIME_WAIT) is the default there. Exclusive
  // use instead, so two servers never share a port.
  BOOL on = TRUE;
  if (setsockopt(S(fd), SOL_SOCKET, SO_EXCLUSIVEADDRUSE, reinterpret_cast<const char*>(&on),
                 sizeof(on)) != 0) {
    return Last("setsockopt(SO_EXCLUSIVEADDRUSE)");
  }
  return absl::OkStatus();
}

namespace {

// Windows 10 1709 and later take the keepalive timing per socket under these
// numbers (ws2ipdef.h: TCP_KEEPALIVE alias TCP_KEEPIDLE, TCP_KEEPCNT,
// TCP_KEEPINTVL); mingw-w64's headers do not name them yet.
constexpr int kTcpKeepIdle = 3;
constexpr int kTcpKeepCount = 16;
constexpr int kTcpKeepInterval = 17;

// The level and name of `option` on `fd`; false where Windows has none.
bool OptionFor(int fd, SocketOption option, int* level, int* name) {
  switch (option) {
    case SocketOption::kReusePort:
      return false;  // Windows has no port sharing that balances connections.
    case SocketOption::kKeepAlive:
      *level = SOL_SOCKET, *name = SO_KEEPALIVE;
      return true;
    case SocketOption::kKeepIdle:
      *level = IPPROTO_TCP, *name = kTcpKeepIdle;
      return true;
    case SocketOption::kKeepInterval:
      *level = IPPROTO_TCP, *name = kTcpKeepInterval;
      return true;
    case SocketOption::kKeepCount:
      *level = IPPROTO_TCP, *name = kTcpKeepCount;
      return true;
    case SocketOption::kSendBuffer:
      *level = SOL_SOCKET, *name = SO_SNDBUF;
      return true;
    case SocketOption::kReceiveBuffer:
      *level = SOL_SOCKET, *name = SO_RCVBUF;
      return true;
    case SocketOption::kV6Only:
      *level = IPPROTO_IPV6, *name = IPV6_V6ONLY;
      return true;
    case SocketOption::kTtl: {
      sockaddr_storage ss;
      int len = sizeof(ss);
      bool v6 = getsockname(S(fd), reinterpret_cast<sockaddr*>(&ss), &len) == 0 && ss.ss_family == AF_INET6;
      *level = v6 ? IPPROTO_IPV6 : IPPROTO_IP;
      *name = v6 ? IPV6_UNICAST_HOPS : IP_TTL;
      return true;
    }
    case SocketOption::kNoDelay:
      *level = IPPROTO_TCP, *name = TCP_NODELAY;
      return true;
    case SocketOption::kBroadcast:
      *level = SOL_SOCKET, *name = SO_BROADCAST;
      return true;
  }
  return false;
}

absl::Status NoSuchOption(SocketOption option) {
  return absl::UnimplementedError(
      absl::StrCat(SocketOptionName(option), " does not exist on Windows (docs/os.md)"));
}

}  // namespace

absl::Status SetSocketOption(int fd, SocketOption option, int value) {
  int level = 0, name = 0;
  if (!OptionFor(fd, option, &level, &name)) return NoSuchOption(option);
  DWORD v = static_cast<DWORD>(value);
  if (setsockopt(S(fd), level, name, reinterpret_cast<const char*>(&v), sizeof(v)) != 0) {
    bool timing = option == SocketOption::kKeepIdle || option == SocketOption::kKeepInterval ||
                  option == SocketOption::kKeepCount;
    if (timing && WSAGetLastError() == WSAENOPROTOOPT) {
      return absl::UnimplementedError(absl::StrCat(
          SocketOptionName(option), " needs Windows 10 version 1709 or later (Wine lacks it too); "
          "keepalive itself works: leave TcpKeepalive's fields unset"));
    }
    return Last(absl::StrCat("setsockopt(", SocketOptionName(option), ", ", value, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> GetSocketOption(int fd, SocketOption option) {
  int level = 0, name = 0;
  if (!OptionFor(fd, option, &level, &name)) return NoSuchOption(option);
  DWORD v = 0;
  int len = sizeof(v);
  if (getsockopt(S(fd), level, name, reinterpret_cast<char*>(&v), &len) != 0) {
    return Last(absl::StrCat("getsockopt(", SocketOptionName(option), ")"));
  }
  // Flags come back as one byte on some Windows versions.
  if (len == 1) v &= 0xff;
  return static_cast<int>(v);
}

absl::Status SetLinger(int fd, std::optional<int> seconds) {
  linger value{};
  value.l_onoff = seconds.has_value() ? 1 : 0;
  value.l_linger = static_cast<u_short>(seconds.value_or(0));
  if (setsockopt(S(fd), SOL_SOCKET, SO_LINGER, reinterpret_cast<const char*>(&value), sizeof(value)) != 0) {
    return Last("setsockopt(SO_LINGER)");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<int>> GetLinger(int fd) {
  linger value{};
  int len = sizeof(value);
  if (getsockopt(S(fd), SOL_SOCKET, SO_LINGER, reinterpret_cast<char*>(&value), &len) != 0) {
    return Last("getsockopt(SO_LINGER)");
  }
  if (value.l_onoff == 0) return std::optional<int>();
  return std::optional<int>(value.l_linger);
}

absl::Status SetNoDelay(int fd, bool on) {
  BOOL value = on ? TRUE : FALSE;
  if (setsockopt(S(fd), IPPROTO_TCP, TCP_NODELAY, reinterpret_cast<const char*>(&value),
                 sizeof(value)) != 0) {
    return Last("setsockopt(TCP_NODELAY)");
  }
  return absl::OkStatus();
}

absl::Status Bind(int fd, const IpAddress& addr) {
  sockaddr_storage ss;
  int len = ToSockaddr(addr, &ss);
  if (bind(S(fd), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    return Last(absl::StrCat("bind ", addr.v6 ? "[" : "", FormatIp(addr), addr.v6 ? "]" : "", ":",
                             addr.port));
  }
  return absl::OkStatus();
}

absl::Status Listen(int fd, int backlog) {
  if (listen(S(fd), backlog) != 0) return Last("listen");
  return absl::OkStatus();
}

absl::StatusOr<IpAddress> LocalAddress(int fd) {
  sockaddr_storage ss;
  int len = sizeof(ss);
  if (getsockname(S(fd), reinterpret_cast<sockaddr*>(&ss), &len) != 0) return Last("getsockname");
  return FromSockaddr(ss);
}

absl::StatusOr<IpAddress> PeerAddress(int fd) {
  sockaddr_storage ss;
  int len = sizeof(ss);
  if (getpeername(S(fd), reinterpret_cast<sockaddr*>(&ss), &len) != 0) return Last("getpeername");
  return FromSockaddr(ss);
}

absl::Status Shutdown(int fd, int how) {
  int h = how == 0 ? SD_RECEIVE : how == 1 ? SD_SEND : SD_BOTH;
  if (shutdown(S(fd), h) != 0) return Last("shutdown");
  return absl::OkStatus();
}

IoResult Read(int fd, char* buf, size_t len) {
  if (Injected(fault::Op::kRead)) return Outcome(SOCKET_ERROR);
  return Outcome(recv(S(fd), buf, static_cast<int>(len > 0x7fffffff ? 0x7fffffff : len), 0));
}

IoResult Write(int fd, const char* buf, size_t len) {
  if (Injected(fault::Op::kWrite)) return Outcome(SOCKET_ERROR);
  return Outcome(send(S(fd), buf, static_cast<int>(len > 0x7fffffff ? 0x7fffffff : len), 0));
}

IoResult WriteVectored(int fd, const ConstBuffer* parts, size_t count) {
  if (Injected(fault::Op::kWrite)) return Outcome(SOCKET_ERROR);
  WSABUF buffers[kMaxIoVectors];
  count = count < kMaxIoVectors ? count : kMaxIoVectors;
  for (size_t i = 0; i < count; ++i) {
    buffers[i].buf = const_cast<char*>(parts[i].data);
    buffers[i].len = static_cast<ULONG>(parts[i].size > 0x7fffffff ? 0x7fffffff : parts[i].size);
  }
  DWORD sent = 0;
  // No overlapped structure: on a non-blocking socket this completes (or
  // fails with WSAEWOULDBLOCK) at once, like send().
  if (WSASend(S(fd), buffers, static_cast<DWORD>(count), &sent, 0, nullptr, nullptr) != 0) {
    return Outcome(SOCKET_ERROR);
  }
  return Outcome(static_cast<int>(sent));
}

IoResult Accept(int fd, IpAddress* peer) {
  sockaddr_storage ss;
  int len = sizeof(ss);
  SOCKET c = Injected(fault::Op::kAccept)
                 ? INVALID_SOCKET
                 : accept(S(fd), reinterpret_cast<sockaddr*>(&ss), &len);
  IoResult r;
  if (c == INVALID_SOCKET) {
    r.err = WSAGetLastError();
    r.would_block = r.err == WSAEWOULDBLOCK;
    return r;
  }
  u_long on = 1;
  ioctlsocket(c, FIONBIO, &on);
  SetHandleInformation(reinterpret_cast<HANDLE>(c), HANDLE_FLAG_INHERIT, 0);
  if (peer != nullptr) *peer = FromSockaddr(ss);
  r.n = static_cast<int>(c);
  return r;
}

int StartConnect(int fd, const IpAddress& addr) {
  sockaddr_storage ss;
  int len = ToSockaddr(addr, &ss);
  if (Injected(fault::Op::kConnect)) return WSAGetLastError();
  if (connect(S(fd), reinterpret_cast<sockaddr*>(&ss), len) == 0) return 0;
  return WSAGetLastError();
}

int ConnectResult(int fd) {
  int err = 0;
  int len = sizeof(err);
  if (getsockopt(S(fd), SOL_SOCKET, SO_ERROR, reinterpret_cast<char*>(&err), &len) != 0) {
    return WSAGetLastError();
  }
  return err;
}

IoResult SendTo(int fd, const char* buf, size_t len, const IpAddress& to) {
  sockaddr_storage ss;
  int ss_len = ToSockaddr(to, &ss);
  return Outcome(sendto(S(fd), buf, static_cast<int>(len), 0, reinterpret_cast<sockaddr*>(&ss), ss_len));
}

IoResult RecvFrom(int fd, char* buf, size_t len, IpAddress* from) {
  sockaddr_storage ss;
  int ss_len = sizeof(ss);
  IoResult r = Outcome(
      recvfrom(S(fd), buf, static_cast<int>(len), 0, reinterpret_cast<sockaddr*>(&ss), &ss_len));
  if (r.err == 0) *from = FromSockaddr(ss);
  return r;
}

}  // namespace sys
}  // namespace v0
}  // namespace nanorun
