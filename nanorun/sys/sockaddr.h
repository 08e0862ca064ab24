// Conversions between IpAddress and the OS's sockaddr structures, shared by
// the POSIX and Winsock wrappers (both spell sockaddr_in/in6 the same way;
// only the length type and the headers differ). Internal to sys.
#ifndef NANORUN_SYS_SOCKADDR_H_
#define NANORUN_SYS_SOCKADDR_H_

#if defined(_WIN32)
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <netinet/in.h>
#include <sys/socket.h>
#endif

#include "nanorun/sys/socket.h"

namespace nanorun {
inline namespace v0 {
namespace sys {

#if defined(_WIN32)
using SockaddrLength = int;
#else
using SockaddrLength = socklen_t;
#endif

// Fills `out` from `addr`; returns the length to pass with it.
SockaddrLength ToSockaddr(const IpAddress& addr, sockaddr_storage* out);
IpAddress FromSockaddr(const sockaddr_storage& in);

}  // namespace sys
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_SYS_SOCKADDR_H_
