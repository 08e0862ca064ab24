// SocketAddr parsing and printing.
#include "nanorun/net/socket_addr.h"

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace nanorun {
inline namespace v0 {
namespace net {
namespace {

absl::Status Bad(absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(
      "SocketAddr::parse(\"", text, "\"): ", why,
      " (expected \"1.2.3.4:port\" or \"[v6::addr]:port\")"));
}

}  // namespace

absl::StatusOr<SocketAddr> SocketAddr::parse(absl::string_view text) {
  absl::string_view host, port_text;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == absl::string_view::npos) return Bad(text, "no closing ']'");
    host = text.substr(1, close - 1);
    absl::string_view rest = text.substr(close + 1);
    if (rest.empty() || rest.front() != ':') return Bad(text, "no ':port' after ']'");
    port_text = rest.substr(1);
  } else {
    size_t colon = text.rfind(':');
    if (colon == absl::string_view::npos) return Bad(text, "no ':port'");
    host = text.substr(0, colon);
    if (host.find(':') != absl::string_view::npos) {
      return Bad(text, "an IPv6 address needs brackets");
    }
    port_text = text.substr(colon + 1);
  }
  uint32_t port = 0;
  if (port_text.empty() || port_text.size() > 5 ||
      port_text.find_first_not_of("0123456789") != absl::string_view::npos ||
      !absl::SimpleAtoi(port_text, &port) || port > 65535) {
    return Bad(text, "the port is not a number from 0 to 65535");
  }
  uint32_t scope = 0;
  size_t percent = host.find('%');
  if (percent != absl::string_view::npos) {
    if (!absl::SimpleAtoi(host.substr(percent + 1), &scope)) {
      return Bad(text, "the IPv6 scope id is not a number");
    }
    host = host.substr(0, percent);
  }
  sys::IpAddress ip;
  if (host.empty() || !sys::ParseIp(host, &ip)) {
    return Bad(text, "not a numeric IPv4 or IPv6 address");
  }
  if (!ip.v6 && text.front() == '[') return Bad(text, "brackets around an IPv4 address");
  if (ip.v6 && text.front() != '[') return Bad(text, "an IPv6 address needs brackets");
  if (!ip.v6 && percent != absl::string_view::npos) return Bad(text, "a scope id on IPv4");
  ip.port = static_cast<uint16_t>(port);
  ip.scope_id = scope;
  return SocketAddr(ip);
}

SocketAddr SocketAddr::loopback_v4(uint16_t port) {
  sys::IpAddress ip;
  ip.bytes[0] = 127;
  ip.bytes[3] = 1;
  ip.port = port;
  return SocketAddr(ip);
}

SocketAddr SocketAddr::loopback_v6(uint16_t port) {
  sys::IpAddress ip;
  ip.v6 = true;
  ip.bytes[15] = 1;
  ip.port = port;
  return SocketAddr(ip);
}

std::string SocketAddr::ToString() const {
  if (!ip_.v6) return absl::StrCat(sys::FormatIp(ip_), ":", ip_.port);
  std::string scope = ip_.scope_id != 0 ? absl::StrCat("%", ip_.scope_id) : "";
  return absl::StrCat("[", sys::FormatIp(ip_), scope, "]:", ip_.port);
}

bool SocketAddr::operator==(const SocketAddr& other) const {
  return ip_.v6 == other.ip_.v6 && ip_.port == other.ip_.port &&
         ip_.scope_id == other.ip_.scope_id &&
         std::memcmp(ip_.bytes, other.ip_.bytes, ip_.v6 ? 16 : 4) == 0;
}

}  // namespace net
}  // namespace v0
}  // namespace nanorun
