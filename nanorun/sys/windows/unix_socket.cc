// Unix-domain sockets on Windows: not provided (sys/unix_socket.h says why:
// Wine, the Windows test bed here, has no AF_UNIX to test one against). Each call fails with Unimplemented, so code that uses them builds
// everywhere and learns at run time.
#include "nanorun/sys/unix_socket.h"

#include <winsock2.h>

#include "absl/strings/str_cat.h"

namespace nanorun {
inline namespace v0 {
namespace sys {

const size_t kMaxUnixPath = 107;
const int kErrTryAgain = WSAEWOULDBLOCK;

namespace {

absl::Status NotHere(absl::string_view what) {
  return absl::UnimplementedError(absl::StrCat(
      what, ": Unix-domain sockets are not available on Windows in nanorun yet (docs/os.md); "
            "use TCP on 127.0.0.1"));
}

IoResult NotHereIo() {
  IoResult r;
  r.err = WSAEOPNOTSUPP;
  return r;
}

}  // namespace

std::string UnixPathLabel(absl::string_view path) { return std::string(path); }
absl::Status CheckUnixPath(absl::string_view path) { return NotHere(path); }
absl::StatusOr<int> OpenUnixSocket(SocketType) { return NotHere("socket(AF_UNIX)"); }
absl::Status UnixSocketPair(SocketType, int[2]) { return NotHere("socketpair(AF_UNIX)"); }
absl::Status BindUnix(int, absl::string_view path) { return NotHere(path); }
int StartConnectUnix(int, absl::string_view) { return WSAEOPNOTSUPP; }
absl::StatusOr<std::string> UnixLocalPath(int) { return NotHere("getsockname"); }
absl::StatusOr<std::string> UnixPeerPath(int) { return NotHere("getpeername"); }
IoResult SendToUnix(int, const char*, size_t, absl::string_view) { return NotHereIo(); }
IoResult RecvFromUnix(int, char*, size_t, std::string*) { return NotHereIo(); }
absl::StatusOr<PeerCredentials> UnixPeerCredentials(int) { return NotHere("SO_PEERCRED"); }
UnixPathState ProbeUnixPath(absl::string_view) { return UnixPathState::kOther; }
absl::StatusOr<FileIdentity> IdentifyPath(absl::string_view path) { return NotHere(path); }
absl::Status RemovePath(absl::string_view path) { return NotHere(path); }

}  // namespace sys
}  // namespace v0
}  // namespace nanorun
