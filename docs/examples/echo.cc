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

Future<void> EchoConnection(TcpStream stream) {
  // The buffer lives as long as the loop: every step holds the shared_ptr,
  // and the stream handle keeps the socket open while a read or write waits.
  auto buf = std::make_shared<std::array<char, 16384>>();
  return nanorun::repeat([stream, buf] {
    return stream.read(absl::MakeSpan(*buf)).then([stream, buf](size_t n) -> Future<bool> {
      if (n == 0) return nanorun::make_ready_future(true);  // Peer closed: done.
      return stream.write_all(absl::MakeConstSpan(buf->data(), n)).then([] { return false; });
    });
  });
}

Future<void> Serve(TcpListener listener) {
  return nanorun::repeat([listener] {
    return listener.accept().then([](std::pair<TcpStream, SocketAddr> conn) {
      // Each connection is its own task; its errors (a reset peer) end
      // only that connection.
      (void)nanorun::spawn([stream = std::move(conn.first)] { return EchoConnection(stream); });
      return false;  // Keep accepting.
    });
  });
}

}  // namespace echo
