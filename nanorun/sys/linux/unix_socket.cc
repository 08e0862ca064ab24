// Unix-domain sockets on Linux, behind sys/unix_socket.h.
#include "nanorun/sys/unix_socket.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>

#include "absl/strings/str_cat.h"
#include "absl/strings/escaping.h"

namespace nanorun {
inline namespace v0 {
namespace sys {

const size_t kMaxUnixPath = sizeof(sockaddr_un::sun_path) - 1;
const int kErrTryAgain = EAGAIN;

namespace {

bool IsAbstract(absl::string_view path) { return !path.empty() && path[0] == '\0'; }

// Fills `out` for `path` (checked already); returns the address length.
socklen_t ToSockaddrUn(absl::string_view path, sockaddr_un* out) {
  memset(out, 0, sizeof(*out));
  out->sun_family = AF_UNIX;
  memcpy(out->sun_path, path.data(), path.size());
  // A file path ends at its NUL; an abstract name is exactly its bytes.
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() +
                                (IsAbstract(path) ? 0 : 1));
}

std::string FromSockaddrUn(const sockaddr_un& addr, socklen_t len) {
  size_t offset = offsetof(sockaddr_un, sun_path);
  if (len <= offset) return "";  // Unnamed.
  size_t size = len - offset;
  if (addr.sun_path[0] == '\0') return std::string(addr.sun_path, size);
  return std::string(addr.sun_path, strnlen(addr.sun_path, size));
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

int Kind(SocketType type) { return type == SocketType::kStream ? SOCK_STREAM : SOCK_DGRAM; }

}  // namespace

std::string UnixPathLabel(absl::string_view path) {
  if (IsAbstract(path)) return absl::StrCat("@", absl::CHexEscape(path.substr(1)));
  return absl::CHexEscape(path);
}

absl::Status CheckUnixPath(absl::string_view path) {
  if (path.empty()) {
    return absl::InvalidArgumentError(
        "a Unix socket path is empty: give a file path, or a Linux abstract name that starts "
        "with '\\0'");
  }
  size_t limit = IsAbstract(path) ? kMaxUnixPath + 1 : kMaxUnixPath;
  if (path.size() > limit) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Unix socket path \"", UnixPathLabel(path.substr(0, 40)), "...\" is ", path.size(),
        " bytes; sun_path holds at most ", limit,
        ": use a shorter path (a directory nearer the root, such as /run/<service>/, or a "
        "relative path from a chdir)"));
  }
  if (!IsAbstract(path) && path.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("Unix socket path \"", UnixPathLabel(path),
                                                   "\" has a NUL byte inside it"));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> OpenUnixSocket(SocketType type) {
  int fd = socket(AF_UNIX, Kind(type) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoStatus(errno, "socket(AF_UNIX)");
  return fd;
}

absl::Status UnixSocketPair(SocketType type, int fds[2]) {
  if (socketpair(AF_UNIX, Kind(type) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
    return ErrnoStatus(errno, "socketpair(AF_UNIX)");
  }
  return absl::OkStatus();
}

absl::Status BindUnix(int fd, absl::string_view path) {
  absl::Status valid = CheckUnixPath(path);
  if (!valid.ok()) return valid;
  sockaddr_un addr;
  socklen_t len = ToSockaddrUn(path, &addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    return ErrnoStatus(errno, absl::StrCat("bind ", UnixPathLabel(path)));
  }
  return absl::OkStatus();
}

int StartConnectUnix(int fd, absl::string_view path) {
  if (!CheckUnixPath(path).ok()) return EINVAL;
  sockaddr_un addr;
  socklen_t len = ToSockaddrUn(path, &addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0) return 0;
  switch (errno) {
    case EISCONN:  // A retry after an interrupted attempt: it was made.
      return 0;
    case EINTR:    // Interrupted, or still going: ask again later.
    case EINPROGRESS:
    case EALREADY:
    case EAGAIN:
      return EAGAIN;
    default:
      return errno;
  }
}

absl::StatusOr<std::string> UnixLocalPath(int fd) {
  sockaddr_un addr;
  socklen_t len = sizeof(addr);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return ErrnoStatus(errno, "getsockname");
  }
  return FromSockaddrUn(addr, len);
}

absl::StatusOr<std::string> UnixPeerPath(int fd) {
  sockaddr_un addr;
  socklen_t len = sizeof(addr);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return ErrnoStatus(errno, "getpeername");
  }
  return FromSockaddrUn(addr, len);
}

IoResult SendToUnix(int fd, const char* buf, size_t len, absl::string_view path) {
  IoResult bad;
  if (!CheckUnixPath(path).ok()) {
    bad.err = EINVAL;
    return bad;
  }
  sockaddr_un addr;
  socklen_t addr_len = ToSockaddrUn(path, &addr);
  ssize_t n;
  do {
    n = sendto(fd, buf, len, MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), addr_len);
  } while (n < 0 && errno == EINTR);
  return Outcome(n);
}

IoResult RecvFromUnix(int fd, char* buf, size_t len, std::string* from) {
  sockaddr_un addr;
  socklen_t addr_len;
  ssize_t n;
  do {
    addr_len = sizeof(addr);
    n = recvfrom(fd, buf, len, 0, reinterpret_cast<sockaddr*>(&addr), &addr_len);
  } while (n < 0 && errno == EINTR);
  IoResult r = Outcome(n);
  if (n >= 0) *from = FromSockaddrUn(addr, addr_len);
  return r;
}

absl::StatusOr<PeerCredentials> UnixPeerCredentials(int fd) {
  ucred cred;
  socklen_t len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return ErrnoStatus(errno, "getsockopt(SO_PEERCRED)");
  }
  PeerCredentials out;
  out.pid = cred.pid;
  out.uid = cred.uid;
  out.gid = cred.gid;
  return out;
}

UnixPathState ProbeUnixPath(absl::string_view path) {
  if (IsAbstract(path) || !CheckUnixPath(path).ok()) return UnixPathState::kOther;
  std::string file(path);
  struct stat st;
  if (lstat(file.c_str(), &st) != 0) {
    return errno == ENOENT ? UnixPathState::kAbsent : UnixPathState::kOther;
  }
  if (!S_ISSOCK(st.st_mode)) return UnixPathState::kOther;
  int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (probe < 0) return UnixPathState::kOther;
  int err = StartConnectUnix(probe, path);
  close(probe);
  // A Unix connect is decided at once: accepted into the backlog, refused
  // (nobody listens), or EAGAIN (a listener with a full backlog).
  if (err == 0 || err == EAGAIN) return UnixPathState::kLiveSocket;
  if (err == ECONNREFUSED) return UnixPathState::kStaleSocket;
  return UnixPathState::kOther;
}

absl::StatusOr<FileIdentity> IdentifyPath(absl::string_view path) {
  std::string file(path);
  struct stat st;
  if (lstat(file.c_str(), &st) != 0) return ErrnoStatus(errno, absl::StrCat("stat ", file));
  FileIdentity id;
  id.device = static_cast<uint64_t>(st.st_dev);
  id.inode = static_cast<uint64_t>(st.st_ino);
  return id;
}

absl::Status RemovePath(absl::string_view path) {
  std::string file(path);
  if (unlink(file.c_str()) != 0) return ErrnoStatus(errno, absl::StrCat("unlink ", file));
  return absl::OkStatus();
}

}  // namespace sys
}  // namespace v0
}  // namespace nanorun
