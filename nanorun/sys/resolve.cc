// Name resolution for nanorun::net::lookup_host: getaddrinfo, on POSIX and
// Winsock alike. It blocks, so the net layer calls it on the blocking pool.
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "nanorun/sys/sockaddr.h"
#include "nanorun/sys/socket.h"

#if defined(_WIN32)
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <netdb.h>
#include <sys/socket.h>
#endif

namespace nanorun {
inline namespace v0 {
namespace sys {
namespace {

absl::Status GaiStatus(int err, absl::string_view what) {
#if defined(_WIN32)
  const char* text = gai_strerrorA(err);
#else
  if (err == EAI_SYSTEM) return ErrnoStatus(errno, what);
  const char* text = gai_strerror(err);
#endif
  std::string message = absl::StrCat(what, ": ", text);
  switch (err) {
    case EAI_NONAME:
#if defined(EAI_NODATA) && EAI_NODATA != EAI_NONAME
    case EAI_NODATA:
#endif
      return absl::NotFoundError(message);
    case EAI_AGAIN:
      return absl::UnavailableError(message);  // A DNS server did not answer: try again.
    case EAI_MEMORY:
      return absl::ResourceExhaustedError(message);
    default:
      return absl::InternalError(message);
  }
}

}  // namespace

absl::StatusOr<std::vector<IpAddress>> ResolveHost(absl::string_view host, uint16_t port) {
  std::string what = absl::StrCat("lookup_host ", host);
  if (host.empty()) return absl::InvalidArgumentError(what + ": the host name is empty");
  if (host.size() > 253) {
    return absl::InvalidArgumentError(
        absl::StrCat(what.substr(0, 80), "...: a host name is at most 253 characters"));
  }
  if (host.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError(what + ": the host name contains a NUL byte");
  }
  std::string name(host);
  addrinfo hints;
  std::memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;  // One entry per address, not one per socket type.
  hints.ai_flags = AI_ADDRCONFIG;   // Only families this host has an address in.
  addrinfo* list = nullptr;
  int err = getaddrinfo(name.c_str(), nullptr, &hints, &list);
  if (err != 0) return GaiStatus(err, what);
  std::vector<IpAddress> out;
  for (addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    sockaddr_storage storage;
    std::memset(&storage, 0, sizeof(storage));
    std::memcpy(&storage, ai->ai_addr, static_cast<size_t>(ai->ai_addrlen));
    IpAddress addr = FromSockaddr(storage);
    addr.port = port;
    bool seen = false;
    for (const IpAddress& a : out) {
      seen = seen || (a.v6 == addr.v6 && std::memcmp(a.bytes, addr.bytes, 16) == 0 &&
                      a.scope_id == addr.scope_id);
    }
    if (!seen) out.push_back(addr);
  }
  freeaddrinfo(list);
  if (out.empty()) return absl::NotFoundError(what + ": no IPv4 or IPv6 address");
  return out;
}

}  // namespace sys
}  // namespace v0
}  // namespace nanorun
