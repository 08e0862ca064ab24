// The echo loops (see echo.h and docs/net.md).
#include "docs/examples/echo.h"

#include <array>
#include <memory>
#include <utility>

namespace echo {

using nanorun::Future;
using nanorun::net::SocketAddr;
using nanorun::net::TcpListener;
using nanorun::net::TcpStream;

namespace {

// The next read, closing the connection if nothing comes for `idle_timeout`
// (InfiniteDuration: no limit, and no timer at all).
Future<size_t> ReadOrIdleOut(const TcpStream& stream, absl::Span<char> buf,
                             absl::Duration idle_timeout) {
  if (idle_timeout == absl::InfiniteDuration()) return stream.read(buf);
  return nanorun::time::timeout(idle_timeout, stream.read(buf))
      .on_error([stream](absl::Status s) -> Future<size_t> {
        if (absl::IsDeadlineExceeded(s)) stream.close();  // Idle too long.
        return nanorun::make_error_future<size_t>(s);
      });
}

}  // namespace

Future<void> EchoConnection(TcpStream stream, absl::Duration idle_timeout) {
  // The buffer lives as long as the loop: every step holds the shared_ptr,
  // and the stream handle keeps the socket open while a read or write waits.
  auto buf = std::make_shared<std::array<char, 16384>>();
  return nanorun::repeat([stream, buf, idle_timeout] {
    return ReadOrIdleOut(stream, absl::MakeSpan(*buf), idle_timeout)
        .then([stream, buf](size_t n) -> Future<bool> {
          if (n == 0) return nanorun::make_ready_future(true);  // Peer closed: done.
          return stream.write_all(absl::MakeConstSpan(buf->data(), n)).then([] { return false; });
        });
  });
}

Future<void> Serve(TcpListener listener, absl::Duration idle_timeout) {
  return nanorun::repeat([listener, idle_timeout] {
    return listener.accept().then([idle_timeout](std::pair<TcpStream, SocketAddr> conn) {
      // Each connection is its own task; its errors (a reset peer) end
      // only that connection.
      (void)nanorun::spawn([stream = std::move(conn.first), idle_timeout] {
        return EchoConnection(stream, idle_timeout);
      });
      return false;  // Keep accepting.
    });
  });
}

}  // namespace echo
