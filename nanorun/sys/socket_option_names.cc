// The names of sys::SocketOption, shared by the POSIX and Winsock wrappers.
#include "nanorun/sys/socket.h"

namespace nanorun {
inline namespace v0 {
namespace sys {

const char* SocketOptionName(SocketOption option) {
  switch (option) {
    case SocketOption::kReusePort:
      return "SO_REUSEPORT";
    case SocketOption::kKeepAlive:
      return "SO_KEEPALIVE";
    case SocketOption::kKeepIdle:
      return "TCP_KEEPIDLE";
    case SocketOption::kKeepInterval:
      return "TCP_KEEPINTVL";
    case SocketOption::kKeepCount:
      return "TCP_KEEPCNT";
    case SocketOption::kSendBuffer:
      return "SO_SNDBUF";
    case SocketOption::kReceiveBuffer:
      return "SO_RCVBUF";
    case SocketOption::kV6Only:
      return "IPV6_V6ONLY";
    case SocketOption::kTtl:
      return "IP_TTL";
    case SocketOption::kNoDelay:
      return "TCP_NODELAY";
    case SocketOption::kBroadcast:
      return "SO_BROADCAST";
  }
  return "?";
}

}  // namespace sys
}  // namespace v0
}  // namespace nanorun
