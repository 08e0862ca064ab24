// IpAddress <-> sockaddr, and the text forms of addresses (inet_pton and
// inet_ntop, which POSIX and Winsock share; neither needs WSAStartup).
#include "nanorun/sys/sockaddr.h"

#if !defined(_WIN32)
#include <arpa/inet.h>
#endif

#include <cstring>
#include <string>

namespace nanorun {
inline namespace v0 {
namespace sys {

RawSocketAddress ToRawSocketAddress(const IpAddress& addr) {
  static_assert(sizeof(RawSocketAddress::bytes) == sizeof(sockaddr_storage), "one size");
  sockaddr_storage ss;
  RawSocketAddress raw;
  raw.length = static_cast<uint32_t>(ToSockaddr(addr, &ss));
  std::memcpy(raw.bytes, &ss, sizeof(ss));
  return raw;
}

SockaddrLength ToSockaddr(const IpAddress& addr, sockaddr_storage* out) {
  std::memset(out, 0, sizeof(*out));
  if (addr.v6) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(out);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(addr.port);
    std::memcpy(&sin6->sin6_addr, addr.bytes, 16);
    sin6->sin6_scope_id = addr.scope_id;
    return sizeof(sockaddr_in6);
  }
  auto* sin = reinterpret_cast<sockaddr_in*>(out);
  sin->sin_family = AF_INET;
  sin->sin_port = htons(addr.port);
  std::memcpy(&sin->sin_addr, addr.bytes, 4);
  return sizeof(sockaddr_in);
}

IpAddress FromSockaddr(const sockaddr_storage& in) {
  IpAddress addr;
  if (in.ss_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&in);
    addr.v6 = true;
    std::memcpy(addr.bytes, &sin6->sin6_addr, 16);
    addr.port = ntohs(sin6->sin6_port);
    addr.scope_id = sin6->sin6_scope_id;
  } else {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(&in);
    std::memcpy(addr.bytes, &sin->sin_addr, 4);
    addr.port = ntohs(sin->sin_port);
  }
  return addr;
}

bool ParseIp(absl::string_view text, IpAddress* out) {
  std::string s(text);
  IpAddress addr;
  if (inet_pton(AF_INET, s.c_str(), addr.bytes) == 1) {
    addr.v6 = false;
  } else if (inet_pton(AF_INET6, s.c_str(), addr.bytes) == 1) {
    addr.v6 = true;
  } else {
    return false;
  }
  addr.port = out->port;
  *out = addr;
  return true;
}

std::string FormatIp(const IpAddress& addr) {
  char buf[INET6_ADDRSTRLEN];
  // Older mingw headers take a non-const pointer.
  if (inet_ntop(addr.v6 ? AF_INET6 : AF_INET, const_cast<uint8_t*>(addr.bytes), buf, sizeof(buf)) ==
      nullptr) {
    return "?";
  }
  return buf;
}

}  // namespace sys
}  // namespace v0
}  // namespace nanorun
