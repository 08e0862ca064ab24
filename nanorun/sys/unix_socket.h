// Unix-domain sockets, for nanorun::net's UnixListener, UnixStream and
// UnixDatagram: the calls that differ from IP sockets (addresses are paths),
// with the same rules as socket.h (non-blocking, close-on-exec, no SIGPIPE,
// EINTR retried, errno as a status naming the call and the path). Reading,
// writing, shutdown and accept are socket.h's own calls.
//
// A path that starts with '\0' is a Linux abstract name: no file is made,
// and the name goes when the last socket bound to it closes. Elsewhere such a
// name is InvalidArgument.
//
// On Windows every call here is Unimplemented: Windows 10 has stream-only
// AF_UNIX, but Wine, where nanorun's Windows suite runs, has none (socket()
// fails with WSAEAFNOSUPPORT), so a Windows implementation could not be
// tested here; docs/os.md.
#ifndef NANORUN_SYS_UNIX_SOCKET_H_
#define NANORUN_SYS_UNIX_SOCKET_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nanorun/sys/socket.h"

namespace nanorun {
inline namespace v0 {
namespace sys {

// The longest path sun_path holds, in bytes, not counting the NUL a file
// path needs (107 on Linux); an abstract name may use one byte more.
extern const size_t kMaxUnixPath;

// OK if `path` can name a Unix socket; otherwise InvalidArgument saying why
// (empty, too long for sun_path, an embedded NUL, abstract off Linux).
absl::Status CheckUnixPath(absl::string_view path);
// How a path appears in messages: abstract names as "@name".
std::string UnixPathLabel(absl::string_view path);

absl::StatusOr<int> OpenUnixSocket(SocketType type);
// Two connected sockets (socketpair), both non-blocking and close-on-exec.
absl::Status UnixSocketPair(SocketType type, int fds[2]);

absl::Status BindUnix(int fd, absl::string_view path);
// Connects (a Unix connect is decided at once): 0, kErrTryAgain (the
// listener's backlog is full, or the call was interrupted: call again; a
// call after success returns 0), or an errno.
int StartConnectUnix(int fd, absl::string_view path);
// What StartConnectUnix says when the listener's backlog is full.
extern const int kErrTryAgain;

// The path a socket is bound to, or its peer's; "" when unnamed (a connecting
// socket usually is).
absl::StatusOr<std::string> UnixLocalPath(int fd);
absl::StatusOr<std::string> UnixPeerPath(int fd);

IoResult SendToUnix(int fd, const char* buf, size_t len, absl::string_view path);
// `from` gets the sender's path ("" if unbound).
IoResult RecvFromUnix(int fd, char* buf, size_t len, std::string* from);

// The process on the other end of a connected Unix socket, as the kernel
// saw it at connect (SO_PEERCRED).
struct PeerCredentials {
  int64_t pid = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
};
absl::StatusOr<PeerCredentials> UnixPeerCredentials(int fd);

// What is at a socket path, for bind's replace-a-stale-socket option.
enum class UnixPathState {
  kAbsent,       // Nothing: bind can go ahead.
  kLiveSocket,   // A socket something listens on (a connect was accepted).
  kStaleSocket,  // A socket file nobody listens on (connect was refused).
  kOther,        // Not a socket (or cannot be told): never removed.
};
UnixPathState ProbeUnixPath(absl::string_view path);

// Identifies the file at a path, so that a listener removes its socket file
// only while the path still names the file it made.
struct FileIdentity {
  uint64_t device = 0;
  uint64_t inode = 0;
  bool operator==(const FileIdentity& o) const { return device == o.device && inode == o.inode; }
};
absl::StatusOr<FileIdentity> IdentifyPath(absl::string_view path);
absl::Status RemovePath(absl::string_view path);

}  // namespace sys
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_SYS_UNIX_SOCKET_H_
