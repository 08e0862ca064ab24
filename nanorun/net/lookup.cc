// lookup_host: the numeric fast path, and getaddrinfo on the blocking pool.
#include "nanorun/net/lookup.h"

#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/status/statusor.h"
#include "nanorun/future/blocking.h"
#include "nanorun/future/combinators.h"
#include "nanorun/net/tcp.h"
#include "nanorun/sys/socket.h"

namespace nanorun {
inline namespace v0 {
namespace net {
namespace {

// "localhost" and names under ".localhost" (RFC 6761 section 6.3): the
// loopback addresses, without the resolver, so they work the same on a
// machine whose /etc/hosts lacks them (a minimal container) or whose DNS
// would answer otherwise.
bool IsLocalhost(absl::string_view host) {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  return absl::EqualsIgnoreCase(host, "localhost") ||
         absl::EndsWithIgnoreCase(host, ".localhost");
}

Future<std::vector<SocketAddr>> LookupOn(executor::Executor* e, std::string host,
                                         uint16_t port) {
  if (IsLocalhost(host)) {
    return make_ready_future(
        std::vector<SocketAddr>{SocketAddr::loopback_v4(port), SocketAddr::loopback_v6(port)});
  }
  // A literal needs no resolver (and no thread): "::1" or "[::1]", "10.0.0.1".
  absl::string_view literal = host;
  if (literal.size() > 2 && literal.front() == '[' && literal.back() == ']') {
    literal = literal.substr(1, literal.size() - 2);
  }
  sys::IpAddress ip;
  if (sys::ParseIp(literal, &ip)) {
    ip.port = port;
    return make_ready_future(std::vector<SocketAddr>{detail::NetAccess::addr(ip)});
  }
  return nanorun::detail::SpawnBlockingOn(
      e, [host = std::move(host), port]() -> absl::StatusOr<std::vector<SocketAddr>> {
        absl::StatusOr<std::vector<sys::IpAddress>> found = sys::ResolveHost(host, port);
        if (!found.ok()) return found.status();
        std::vector<SocketAddr> out;
        out.reserve(found->size());
        for (const sys::IpAddress& a : *found) out.push_back(detail::NetAccess::addr(a));
        return out;
      });
}

// Tries each address in turn; the first connection wins.
Future<TcpStream> ConnectByName(executor::Executor* e, std::string host, uint16_t port) {
  Handle handle = nanorun::detail::HandleAccess::make(e);
  std::string name = absl::StrCat(host, ":", port);
  return LookupOn(e, std::move(host), port)
      .then([handle, name](std::vector<SocketAddr> addrs) {
        struct Attempts {
          std::vector<SocketAddr> addrs;
          size_t next = 0;
          absl::Status last;
          std::optional<TcpStream> stream;
        };
        auto a = std::make_shared<Attempts>();
        a->addrs = std::move(addrs);
        return repeat([a, handle] {
                 if (a->next == a->addrs.size()) return make_ready_future(true);
                 return TcpStream::connect(a->addrs[a->next++], handle)
                     .then_result([a](absl::StatusOr<TcpStream> s) {
                       if (s.ok()) {
                         a->stream = *std::move(s);
                         return true;
                       }
                       a->last = s.status();
                       return false;
                     });
               })
            .then([a, name]() -> absl::StatusOr<TcpStream> {
              if (a->stream.has_value()) return *a->stream;
              return absl::Status(
                  a->last.code(),
                  absl::StrCat("connect ", name, ": ", a->addrs.size(),
                               a->addrs.size() == 1 ? " address" : " addresses",
                               " tried, none accepted; the last: ", a->last.message()));
            });
      });
}

}  // namespace

Future<TcpStream> TcpStream::connect(std::string host, uint16_t port) {
  absl::Status error;
  executor::Executor* e = detail::RuntimeFor(nullptr, "TcpStream::connect", &error);
  if (e == nullptr) return make_error_future<TcpStream>(error);
  return ConnectByName(e, std::move(host), port);
}

Future<TcpStream> TcpStream::connect(std::string host, uint16_t port, const Handle& handle) {
  absl::Status error;
  executor::Executor* e = detail::RuntimeFor(&handle, "TcpStream::connect", &error);
  if (e == nullptr) return make_error_future<TcpStream>(error);
  return ConnectByName(e, std::move(host), port);
}

Future<std::vector<SocketAddr>> lookup_host(std::string host, uint16_t port) {
  absl::Status error;
  executor::Executor* e = detail::RuntimeFor(nullptr, "lookup_host", &error);
  if (e == nullptr) return make_error_future<std::vector<SocketAddr>>(error);
  return LookupOn(e, std::move(host), port);
}

Future<std::vector<SocketAddr>> lookup_host(std::string host, uint16_t port,
                                            const Handle& handle) {
  absl::Status error;
  executor::Executor* e = detail::RuntimeFor(&handle, "lookup_host", &error);
  if (e == nullptr) return make_error_future<std::vector<SocketAddr>>(error);
  return LookupOn(e, std::move(host), port);
}

}  // namespace net
}  // namespace v0
}  // namespace nanorun
