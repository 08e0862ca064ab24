// Socket options and fd integration for TCP and UDP over real loopback
// sockets: listen backlog, SO_REUSEPORT spreading connections, IPV6_V6ONLY,
// buffer sizes inherited by accepted connections, keepalive, linger 0 (a
// reset the peer sees), TTL, broadcast; adopting inherited fds (from_native)
// and lending ours (native_handle); vectored writes over TCP. Bad values get
// InvalidArgument naming them.
#if !defined(_WIN32)
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "nanorun/nanorun.h"
#include "tests/catch.h"
#include "tests/test_util.h"

namespace {

using nanorun::Future;
using nanorun::Runtime;
using nanorun::net::SocketAddr;
using nanorun::net::TcpKeepalive;
using nanorun::net::TcpListener;
using nanorun::net::TcpListenOptions;
using nanorun::net::TcpStream;
using nanorun::net::UdpBindOptions;
using nanorun::net::UdpSocket;

// A connected pair over loopback: (client, server side).
std::pair<TcpStream, TcpStream> Connected(Runtime& rt, const TcpListener& listener) {
  Future<std::pair<TcpStream, SocketAddr>> accepted = listener.accept();
  auto client = rt.block_on(TcpStream::connect(*listener.local_addr(), rt.handle()));
  REQUIRE(client.ok());
  auto server = rt.block_on(std::move(accepted));
  REQUIRE(server.ok());
  return {*client, server->first};
}

TEST_CASE("TcpListenOptions: bad values are InvalidArgument naming them") {
  Runtime rt = Runtime::with_workers(1);
  TcpListenOptions options;
  options.backlog = 0;
  auto zero = TcpListener::bind(SocketAddr::loopback_v4(0), options, rt.handle());
  CHECK(zero.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(absl::StrContains(zero.status().message(), "backlog"));
  options = TcpListenOptions();
  options.v6_only = true;
  auto v4 = TcpListener::bind(SocketAddr::loopback_v4(0), options, rt.handle());
  CHECK(v4.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(absl::StrContains(v4.status().message(), "v6_only"));
  options = TcpListenOptions();
  options.receive_buffer_size = -5;
  auto negative = TcpListener::bind(SocketAddr::loopback_v4(0), options, rt.handle());
  CHECK(negative.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(absl::StrContains(negative.status().message(), "receive_buffer_size -5"));
}

TEST_CASE("TcpListenOptions: reuse_port lets two listeners share a port and the kernel spreads connections") {
  Runtime rt = Runtime::with_workers(2);
  TcpListenOptions share;
  share.reuse_port = true;
  auto first = TcpListener::bind(SocketAddr::loopback_v4(0), share, rt.handle());
#if defined(_WIN32)
  CHECK(first.status().code() == absl::StatusCode::kUnimplemented);
  CHECK(absl::StrContains(first.status().message(), "SO_REUSEPORT"));
#else
  REQUIRE(first.ok());
  SocketAddr addr = *first->local_addr();
  // Without the option on both, the port is taken.
  CHECK(TcpListener::bind(addr, rt.handle()).status().code() == absl::StatusCode::kAlreadyExists);
  auto second = TcpListener::bind(addr, share, rt.handle());
  REQUIRE(second.ok());
  auto counts = std::make_shared<std::array<std::atomic<int>, 2>>();
  std::vector<TcpListener> listeners = {*first, *second};
  for (int i = 0; i < 2; ++i) {
    (void)rt.handle().spawn([l = listeners[i], counts, i] {
      return nanorun::repeat([l, counts, i] {
        return l.accept().then_result([counts, i](auto accepted) {
          if (!accepted.ok()) return true;
          (*counts)[i].fetch_add(1);
          return false;
        });
      });
    });
  }
  constexpr int kConnections = 64;
  std::vector<TcpStream> clients;
  for (int i = 0; i < kConnections; ++i) {
    auto c = rt.block_on(TcpStream::connect(addr, rt.handle()));
    REQUIRE(c.ok());
    clients.push_back(*c);
  }
  REQUIRE(nanorun_test::WaitFor([&] { return (*counts)[0] + (*counts)[1] == kConnections; }));
  // Spread by a hash of the client port: both get some (all 64 to one would
  // happen with probability 2^-63).
  CHECK((*counts)[0] > 0);
  CHECK((*counts)[1] > 0);
  first->close();
  second->close();
#endif
}

TEST_CASE("TcpListenOptions: v6_only decides whether an IPv6 wildcard takes IPv4 too") {
  Runtime rt = Runtime::with_workers(2);
  auto any6 = SocketAddr::parse("[::]:0");
  REQUIRE(any6.ok());
  TcpListenOptions only;
  only.v6_only = true;
  auto v6 = TcpListener::bind(*any6, only, rt.handle());
  if (!v6.ok()) {
    WARN("no IPv6 here: " << v6.status().ToString());
    return;
  }
  uint16_t port = v6->local_addr()->port();
  // IPv4 on the same port is still free: the v6-only socket did not take it.
  auto v4 = TcpListener::bind(SocketAddr::loopback_v4(port), rt.handle());
  CHECK(v4.ok());

  TcpListenOptions dual;
  dual.v6_only = false;
  auto both = TcpListener::bind(*any6, dual, rt.handle());
  REQUIRE(both.ok());
  Future<std::pair<TcpStream, SocketAddr>> accepted = both->accept();
  auto client = rt.block_on(TcpStream::connect(SocketAddr::loopback_v4(both->local_addr()->port()), rt.handle()));
  REQUIRE(client.ok());
  auto server = rt.block_on(std::move(accepted));
  REQUIRE(server.ok());
  CHECK(absl::StrContains(server->second.ToString(), "127.0.0.1"));  // An IPv4-mapped peer.
}

TEST_CASE("Buffer sizes: a listener's are inherited by what it accepts; a stream's can be set") {
  Runtime rt = Runtime::with_workers(2);
  TcpListenOptions options;
  options.receive_buffer_size = 256 * 1024;
  options.send_buffer_size = 128 * 1024;
  auto listener = TcpListener::bind(SocketAddr::loopback_v4(0), options, rt.handle());
  REQUIRE(listener.ok());
  auto [client, server] = Connected(rt, *listener);
  CHECK(*server.receive_buffer_size() >= 256 * 1024);  // Linux reports double.
  CHECK(*server.send_buffer_size() >= 128 * 1024);
  REQUIRE(client.set_send_buffer_size(64 * 1024).ok());
  CHECK(*client.send_buffer_size() >= 64 * 1024);
  CHECK(client.set_send_buffer_size(0).code() == absl::StatusCode::kInvalidArgument);
  CHECK(client.set_receive_buffer_size(-1).code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("TcpStream options: nodelay, keepalive, ttl; bad values and empty handles") {
  Runtime rt = Runtime::with_workers(2);
  auto listener = TcpListener::bind(SocketAddr::loopback_v4(0), rt.handle());
  REQUIRE(listener.ok());
  auto [client, server] = Connected(rt, *listener);
  REQUIRE(client.set_nodelay(true).ok());
  CHECK(*client.nodelay());
  REQUIRE(client.set_nodelay(false).ok());
  CHECK_FALSE(*client.nodelay());

  CHECK_FALSE(*client.keepalive());
  TcpKeepalive ka;
  ka.idle = absl::Seconds(30);
  ka.interval = absl::Seconds(5);
  ka.probes = 3;
  absl::Status set = client.set_keepalive(ka);
  INFO(set.ToString());
#if defined(_WIN32)
  if (set.code() == absl::StatusCode::kUnimplemented) {  // Wine, or Windows before 1709.
    CHECK(absl::StrContains(set.message(), "1709"));
    set = client.set_keepalive(TcpKeepalive());  // On, with the OS's timing.
  }
#endif
  REQUIRE(set.ok());
  CHECK(*client.keepalive());
#if !defined(_WIN32)
  int value = 0;
  socklen_t len = sizeof(value);
  REQUIRE(getsockopt(client.native_handle(), IPPROTO_TCP, TCP_KEEPIDLE, &value, &len) == 0);
  CHECK(value == 30);
  REQUIRE(getsockopt(client.native_handle(), IPPROTO_TCP, TCP_KEEPCNT, &value, &len) == 0);
  CHECK(value == 3);
#endif
  REQUIRE(client.set_keepalive(std::nullopt).ok());
  CHECK_FALSE(*client.keepalive());
  TcpKeepalive bad;
  bad.idle = absl::Milliseconds(500);
  auto half_second = client.set_keepalive(bad);
  CHECK(half_second.code() == absl::StatusCode::kInvalidArgument);
  CHECK(absl::StrContains(half_second.message(), "whole seconds"));
  CHECK_FALSE(*client.keepalive());  // Nothing changed.
  bad = TcpKeepalive();
  bad.probes = 0;
  CHECK(client.set_keepalive(bad).code() == absl::StatusCode::kInvalidArgument);

  REQUIRE(client.set_ttl(17).ok());
  CHECK(*client.ttl() == 17);
  CHECK(client.set_ttl(0).code() == absl::StatusCode::kInvalidArgument);
  CHECK(client.set_ttl(256).code() == absl::StatusCode::kInvalidArgument);

  TcpStream empty;
  CHECK(empty.set_ttl(5).code() == absl::StatusCode::kFailedPrecondition);
  CHECK(empty.nodelay().status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(empty.native_handle() == -1);
}

TEST_CASE("Linger zero: closing resets the connection, and the peer sees the reset") {
  Runtime rt = Runtime::with_workers(2);
  auto listener = TcpListener::bind(SocketAddr::loopback_v4(0), rt.handle());
  REQUIRE(listener.ok());
  auto pair = Connected(rt, *listener);
  CHECK_FALSE(pair.first.linger()->has_value());
  CHECK(pair.first.set_linger(absl::Seconds(1)).code() == absl::StatusCode::kInvalidArgument);
  REQUIRE(pair.first.set_linger(absl::ZeroDuration()).ok());
  CHECK(*pair.first.linger() == std::optional<absl::Duration>(absl::ZeroDuration()));
  TcpStream server = pair.second;
  pair = {};  // The last client handle goes: the fd closes with RST.
  auto read = rt.block_on(server.read_some(10));
  INFO(read.status().ToString());
#if defined(_WIN32)
  // Wine closes with FIN whatever SO_LINGER says; Windows itself resets. Either
  // way the connection has ended.
  CHECK((!read.ok() || read->empty()));
#else
  CHECK(read.status().code() == absl::StatusCode::kUnavailable);
  CHECK(absl::StrContains(read.status().message(), "reset"));
#endif
}

TEST_CASE("UdpSocket options: broadcast, ttl, buffers, reuse_address; bad values") {
  Runtime rt = Runtime::with_workers(1);
  UdpBindOptions options;
  options.broadcast = true;
  options.receive_buffer_size = 200 * 1024;
  auto socket = UdpSocket::bind(SocketAddr::loopback_v4(0), options, rt.handle());
  REQUIRE(socket.ok());
  CHECK(*socket->broadcast());
  CHECK(*socket->receive_buffer_size() >= 200 * 1024);
  REQUIRE(socket->set_broadcast(false).ok());
  CHECK_FALSE(*socket->broadcast());
  REQUIRE(socket->set_ttl(3).ok());
  CHECK(*socket->ttl() == 3);
  CHECK(socket->set_ttl(-1).code() == absl::StatusCode::kInvalidArgument);
  CHECK(socket->set_send_buffer_size(0).code() == absl::StatusCode::kInvalidArgument);
  CHECK(socket->native_handle() >= 0);
#if !defined(_WIN32)
  UdpBindOptions shared;
  shared.reuse_address = true;
  auto a = UdpSocket::bind(SocketAddr::loopback_v4(0), shared, rt.handle());
  REQUIRE(a.ok());
  auto b = UdpSocket::bind(*a->local_addr(), shared, rt.handle());
  CHECK(b.ok());
  CHECK(UdpSocket::bind(*a->local_addr(), rt.handle()).status().code() == absl::StatusCode::kAlreadyExists);
#endif
}

TEST_CASE("Vectored writes over TCP arrive whole and in order") {
  Runtime rt = Runtime::with_workers(2);
  auto listener = TcpListener::bind(SocketAddr::loopback_v4(0), rt.handle());
  REQUIRE(listener.ok());
  auto [client, server] = Connected(rt, *listener);
  std::string header = "HTTP/1.1 200 OK\r\nContent-Length: 300000\r\n\r\n";
  std::string body(300000, 'z');
  body[0] = 'A';
  body.back() = 'Z';
  Future<void> sent = client.write_all_vectored({absl::MakeConstSpan(header), absl::MakeConstSpan(body)});
  std::string got(header.size() + body.size(), '\0');
  REQUIRE(rt.block_on(server.read_exact(absl::MakeSpan(got))).ok());
  REQUIRE(rt.block_on(std::move(sent)).ok());
  CHECK(got == header + body);
}

#if defined(_WIN32)
TEST_CASE("Unix sockets on Windows: Unimplemented, with the reason and what to use") {
  Runtime rt = Runtime::with_workers(1);
  auto listener = nanorun::net::UnixListener::bind("C:\\nanorun.sock", rt.handle());
  CHECK(listener.status().code() == absl::StatusCode::kUnimplemented);
  CHECK(absl::StrContains(listener.status().message(), "127.0.0.1"));
  CHECK(nanorun::net::UnixStream::pair(rt.handle()).status().code() == absl::StatusCode::kUnimplemented);
  CHECK(rt.block_on(nanorun::net::UnixStream::connect("C:\\nanorun.sock", rt.handle())).status().code() ==
        absl::StatusCode::kUnimplemented);
}
#endif

#if !defined(_WIN32)
TEST_CASE("from_native: adopts inherited TCP and UDP sockets; wrong kinds stay the caller's") {
  Runtime rt = Runtime::with_workers(2);
  // A listening socket made by hand, as systemd passes fd 3 and up.
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  CHECK(TcpListener::from_native(lfd, rt.handle()).status().code() == absl::StatusCode::kInvalidArgument);
  REQUIRE(listen(lfd, 16) == 0);
  CHECK(absl::StrContains(TcpStream::from_native(lfd, rt.handle()).status().message(), "listening"));
  auto listener = TcpListener::from_native(lfd, rt.handle());
  REQUIRE(listener.ok());
  CHECK(listener->native_handle() == lfd);
  Future<std::pair<TcpStream, SocketAddr>> accepted = listener->accept();

  // A connected socket made by hand (blocking, as another library's would be).
  int cfd = socket(AF_INET, SOCK_STREAM, 0);
  socklen_t len = sizeof(addr);
  REQUIRE(getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  REQUIRE(connect(cfd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  auto client = TcpStream::from_native(cfd, rt.handle());
  REQUIRE(client.ok());
  auto server = rt.block_on(std::move(accepted));
  REQUIRE(server.ok());
  REQUIRE(rt.block_on(client->write_all(std::string("adopted"))).ok());
  CHECK(*rt.block_on(server->first.read_some(100)) == "adopted");
  CHECK(client->peer_addr()->port() == ntohs(addr.sin_port));

  int unconnected = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(absl::StrContains(TcpStream::from_native(unconnected, rt.handle()).status().message(),
                          "not connected"));
  int udp = socket(AF_INET, SOCK_DGRAM, 0);
  CHECK(TcpListener::from_native(udp, rt.handle()).status().code() == absl::StatusCode::kInvalidArgument);
  int unix_fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  CHECK(absl::StrContains(UdpSocket::from_native(unix_fd, rt.handle()).status().message(),
                          "not an IPv4 or IPv6 socket"));
  auto adopted_udp = UdpSocket::from_native(udp, rt.handle());
  REQUIRE(adopted_udp.ok());
  CHECK(adopted_udp->native_handle() == udp);
  close(unconnected);
  close(unix_fd);
}
#endif

}  // namespace
