// POSIX sockets behind sys/socket.h.
#include "nanorun/sys/socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "nanorun/sys/fault_injection.h"
#include "nanorun/sys/sockaddr.h"

namespace nanorun {
inline namespace v0 {
namespace sys {

const int kErrInProgress = EINPROGRESS;

AcceptFailure ClassifyAcceptError(int err) {
  switch (err) {
    // Linux hands a connection's own pending network error to accept (see
    // accept(2), "Error handling"); that connection is lost, the listener is
    // fine.
    case ECONNABORTED:
    case EPROTO:
    case ENOPROTOOPT:
    case ENETDOWN:
    case ENONET:
    case ENETUNREACH:
    case EHOSTDOWN:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case EPERM:  // Firewall rules forbid that one connection.
      return AcceptFailure::kSkip;
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
      return AcceptFailure::kBackOff;
    default:
      return AcceptFailure::kFatal;
  }
}

namespace {

// True when a test armed a failure for this call (errno is then set to it).
bool Injected(fault::Op op) {
  int err = fault::Take(op);
  if (err == 0) return false;
  errno = err;
  return true;
}

IoResult Outcome(ssize_t n) {
  IoResult r;
  if (n >= 0) {
    r.n = n;
  } else {
    r.err = errno;
    r.would_block = r.err == EAGAIN || r.err == EWOULDBLOCK;
  }
  return r;
}

}  // namespace

absl::Status ErrnoStatus(int err, absl::string_view operation) {
  std::string message = absl::StrCat(operation, ": ", strerror(err));
  switch (err) {
    case ECONNREFUSED:
    case ECONNRESET:
    case ECONNABORTED:
    case ENETUNREACH:
    case EHOSTUNREACH:
    case EPIPE:
    case ENOTCONN:
      return absl::UnavailableError(message);
    case EADDRINUSE:
    case EEXIST:
      return absl::AlreadyExistsError(message);
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(message);
    case EADDRNOTAVAIL:
    case EINVAL:
    case EAFNOSUPPORT:
    case ENAMETOOLONG:
    case EISDIR:
    case ENOTSOCK:
    case EPROTOTYPE:
      return absl::InvalidArgumentError(message);
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::PermissionDeniedError(message);
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
      return absl::ResourceExhaustedError(message);
    case ETIMEDOUT:
      return absl::DeadlineExceededError(message);
    default:
      return absl::InternalError(message);
  }
}

absl::StatusOr<int> OpenSocket(const IpAddress& addr, SocketType type) {
  int kind = type == SocketType::kStream ? SOCK_STREAM : SOCK_DGRAM;
  int fd = socket(addr.v6 ? AF_INET6 : AF_INET, kind | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoStatus(errno, "socket");
  return fd;
}

absl::Status AdoptSocket(int fd, SocketFamily family, SocketRole role) {
  auto bad = [fd](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("fd ", fd, " ", what));
  };
  if (fd < 0) return bad("is negative: not a descriptor");
  int type = 0, domain = 0, listening = 0;
  socklen_t len = sizeof(int);
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) {
    if (errno == ENOTSOCK) return bad("is not a socket");
    if (errno == EBADF) return bad("is not an open descriptor");
    return ErrnoStatus(errno, absl::StrCat("getsockopt(SO_TYPE) on fd ", fd));
  }
  len = sizeof(int);
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0) {
    return ErrnoStatus(errno, absl::StrCat("getsockopt(SO_DOMAIN) on fd ", fd));
  }
  bool ip = domain == AF_INET || domain == AF_INET6;
  if (family == SocketFamily::kIp && !ip) return bad("is not an IPv4 or IPv6 socket");
  if (family == SocketFamily::kUnix && domain != AF_UNIX) return bad("is not a Unix-domain socket");
  bool want_stream = role != SocketRole::kDatagram;
  if (want_stream && type != SOCK_STREAM) return bad("is not a stream socket");
  if (!want_stream && type != SOCK_DGRAM) return bad("is not a datagram socket");
  if (want_stream) {
    len = sizeof(int);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0) {
      return ErrnoStatus(errno, absl::StrCat("getsockopt(SO_ACCEPTCONN) on fd ", fd));
    }
    if (role == SocketRole::kListening && !listening) return bad("is a stream socket that is not listening");
    if (role == SocketRole::kConnected) {
      if (listening) return bad("is a listening socket, not a connected one");
      sockaddr_storage peer;
      socklen_t peer_len = sizeof(peer);
      if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0) {
        return bad("is a stream socket that is not connected");
      }
    }
  }
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    return ErrnoStatus(errno, absl::StrCat("fcntl(O_NONBLOCK) on fd ", fd));
  }
  int fd_flags = fcntl(fd, F_GETFD);
  if (fd_flags < 0 || fcntl(fd, F_SETFD, fd_flags | FD_CLOEXEC) != 0) {
    return ErrnoStatus(errno, absl::StrCat("fcntl(FD_CLOEXEC) on fd ", fd));
  }
  return absl::OkStatus();
}

void Close(int fd) {
  // Not retried on EINTR: on Linux the fd is released either way.
  (void)close(fd);
}

absl::Status SetReuseAddress(int fd) {
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) {
    return ErrnoStatus(errno, "setsockopt(SO_REUSEADDR)");
  }
  return absl::OkStatus();
}

absl::Status SetNoDelay(int fd, bool on) {
  int value = on ? 1 : 0;
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &value, sizeof(value)) != 0) {
    return ErrnoStatus(errno, "setsockopt(TCP_NODELAY)");
  }
  return absl::OkStatus();
}

namespace {

// The level and name of `option` on `fd` (TTL depends on its family).
void OptionFor(int fd, SocketOption option, int* level, int* name) {
  switch (option) {
    case SocketOption::kReusePort:
      *level = SOL_SOCKET, *name = SO_REUSEPORT;
      return;
    case SocketOption::kKeepAlive:
      *level = SOL_SOCKET, *name = SO_KEEPALIVE;
      return;
    case SocketOption::kKeepIdle:
      *level = IPPROTO_TCP, *name = TCP_KEEPIDLE;
      return;
    case SocketOption::kKeepInterval:
      *level = IPPROTO_TCP, *name = TCP_KEEPINTVL;
      return;
    case SocketOption::kKeepCount:
      *level = IPPROTO_TCP, *name = TCP_KEEPCNT;
      return;
    case SocketOption::kSendBuffer:
      *level = SOL_SOCKET, *name = SO_SNDBUF;
      return;
    case SocketOption::kReceiveBuffer:
      *level = SOL_SOCKET, *name = SO_RCVBUF;
      return;
    case SocketOption::kV6Only:
      *level = IPPROTO_IPV6, *name = IPV6_V6ONLY;
      return;
    case SocketOption::kTtl: {
      int domain = AF_INET;
      socklen_t len = sizeof(domain);
      (void)getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len);
      if (domain == AF_INET6) {
        *level = IPPROTO_IPV6, *name = IPV6_UNICAST_HOPS;
      } else {
        *level = IPPROTO_IP, *name = IP_TTL;
      }
      return;
    }
    case SocketOption::kNoDelay:
      *level = IPPROTO_TCP, *name = TCP_NODELAY;
      return;
    case SocketOption::kBroadcast:
      *level = SOL_SOCKET, *name = SO_BROADCAST;
      return;
  }
}

}  // namespace

absl::Status SetSocketOption(int fd, SocketOption option, int value) {
  int level = 0, name = 0;
  OptionFor(fd, option, &level, &name);
  if (setsockopt(fd, level, name, &value, sizeof(value)) != 0) {
    return ErrnoStatus(errno, absl::StrCat("setsockopt(", SocketOptionName(option), ", ", value, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> GetSocketOption(int fd, SocketOption option) {
  int level = 0, name = 0;
  OptionFor(fd, option, &level, &name);
  int value = 0;
  socklen_t len = sizeof(value);
  if (getsockopt(fd, level, name, &value, &len) != 0) {
    return ErrnoStatus(errno, absl::StrCat("getsockopt(", SocketOptionName(option), ")"));
  }
  return value;
}

absl::Status SetLinger(int fd, std::optional<int> seconds) {
  linger value{};
  value.l_onoff = seconds.has_value() ? 1 : 0;
  value.l_linger = seconds.value_or(0);
  if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &value, sizeof(value)) != 0) {
    return ErrnoStatus(errno, "setsockopt(SO_LINGER)");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<int>> GetLinger(int fd) {
  linger value{};
  socklen_t len = sizeof(value);
  if (getsockopt(fd, SOL_SOCKET, SO_LINGER, &value, &len) != 0) {
    return ErrnoStatus(errno, "getsockopt(SO_LINGER)");
  }
  if (value.l_onoff == 0) return std::optional<int>();
  return std::optional<int>(value.l_linger);
}

absl::Status Bind(int fd, const IpAddress& addr) {
  sockaddr_storage ss;
  socklen_t len = ToSockaddr(addr, &ss);
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    return ErrnoStatus(errno, absl::StrCat("bind ", addr.v6 ? "[" : "", FormatIp(addr),
                                           addr.v6 ? "]" : "", ":", addr.port));
  }
  return absl::OkStatus();
}

absl::Status Listen(int fd, int backlog) {
  if (listen(fd, backlog) != 0) return ErrnoStatus(errno, "listen");
  return absl::OkStatus();
}

absl::StatusOr<IpAddress> LocalAddress(int fd) {
  sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return ErrnoStatus(errno, "getsockname");
  }
  return FromSockaddr(ss);
}

absl::StatusOr<IpAddress> PeerAddress(int fd) {
  sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return ErrnoStatus(errno, "getpeername");
  }
  return FromSockaddr(ss);
}

absl::Status Shutdown(int fd, int how) {
  int h = how == 0 ? SHUT_RD : how == 1 ? SHUT_WR : SHUT_RDWR;
  if (shutdown(fd, h) != 0) return ErrnoStatus(errno, "shutdown");
  return absl::OkStatus();
}

IoResult Read(int fd, char* buf, size_t len) {
  ssize_t n;
  do {
    n = Injected(fault::Op::kRead) ? -1 : read(fd, buf, len);
  } while (n < 0 && errno == EINTR);
  return Outcome(n);
}

IoResult Write(int fd, const char* buf, size_t len) {
  ssize_t n;
  do {
    n = Injected(fault::Op::kWrite) ? -1 : send(fd, buf, len, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return Outcome(n);
}

IoResult WriteVectored(int fd, const ConstBuffer* parts, size_t count) {
  iovec vectors[kMaxIoVectors];
  count = count < kMaxIoVectors ? count : kMaxIoVectors;
  for (size_t i = 0; i < count; ++i) {
    vectors[i].iov_base = const_cast<char*>(parts[i].data);
    vectors[i].iov_len = parts[i].size;
  }
  msghdr message{};
  message.msg_iov = vectors;
  message.msg_iovlen = count;
  ssize_t n;
  do {
    n = Injected(fault::Op::kWrite) ? -1 : sendmsg(fd, &message, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return Outcome(n);
}

IoResult Accept(int fd, IpAddress* peer) {
  sockaddr_storage ss;
  int client;
  do {
    socklen_t len = sizeof(ss);
    client = Injected(fault::Op::kAccept)
                 ? -1
                 : accept4(fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
  } while (client < 0 && errno == EINTR);
  IoResult r = Outcome(client);
  if (client >= 0 && peer != nullptr) *peer = FromSockaddr(ss);
  return r;
}

int StartConnect(int fd, const IpAddress& addr) {
  sockaddr_storage ss;
  socklen_t len = ToSockaddr(addr, &ss);
  // An injected EINTR stands for a signal that arrived once the connect had
  // started, as a real one does: the connect is made, and reported as below.
  bool interrupted = false;
  if (Injected(fault::Op::kConnect)) {
    if (errno != EINTR) return errno;
    interrupted = true;
  }
  // EINTR on a non-blocking connect: the connection continues in the
  // background, exactly like EINPROGRESS.
  if (connect(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0) return interrupted ? EINPROGRESS : 0;
  return errno == EINTR ? EINPROGRESS : errno;
}

int ConnectResult(int fd) {
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

IoResult SendTo(int fd, const char* buf, size_t len, const IpAddress& to) {
  sockaddr_storage ss;
  socklen_t ss_len = ToSockaddr(to, &ss);
  ssize_t n;
  do {
    n = sendto(fd, buf, len, MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&ss), ss_len);
  } while (n < 0 && errno == EINTR);
  return Outcome(n);
}

IoResult RecvFrom(int fd, char* buf, size_t len, IpAddress* from) {
  sockaddr_storage ss;
  ssize_t n;
  do {
    socklen_t ss_len = sizeof(ss);
    n = recvfrom(fd, buf, len, 0, reinterpret_cast<sockaddr*>(&ss), &ss_len);
  } while (n < 0 && errno == EINTR);
  IoResult r = Outcome(n);
  if (n >= 0) *from = FromSockaddr(ss);
  return r;
}

}  // namespace sys
}  // namespace v0
}  // namespace nanorun
