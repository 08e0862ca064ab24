// The request/response loop (see request_loop.h).
#include "docs/examples/request_loop.h"

#include <signal.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <utility>


namespace examples {

using nanorun::Future;
using nanorun::net::SocketAddr;
using nanorun::net::TcpListener;
using nanorun::net::TcpStream;

namespace {

struct Connection {
  TcpStream stream;
  std::shared_ptr<const Handler> handler;
  std::string input;  // Received, not yet parsed.
  std::array<char, 16384> buf;
};

}  // namespace

Future<void> ServeConnection(TcpStream stream, std::shared_ptr<const Handler> handler,
                             absl::Duration idle_timeout) {
  auto c = std::make_shared<Connection>();
  c->stream = std::move(stream);
  c->handler = std::move(handler);
  return nanorun::repeat([c, idle_timeout] {
    return nanorun::time::timeout(idle_timeout, c->stream.read(absl::MakeSpan(c->buf)))
        .on_error([c](absl::Status s) -> Future<size_t> {
          // Silent too long: close (the pending read fails and is dropped).
          if (absl::IsDeadlineExceeded(s)) c->stream.close();
          return nanorun::make_error_future<size_t>(s);
        })
        .then([c](size_t n) -> Future<bool> {
      if (n == 0) return nanorun::make_ready_future(true);  // Peer closed.
      c->input.append(c->buf.data(), n);
      std::string out;
      bool close = false;
      size_t used = (*c->handler)(c->input, &out, &close);
      c->input.erase(0, used);
      if (c->input.size() > kMaxPendingInput) close = true;
      if (out.empty()) return nanorun::make_ready_future(close);
      return c->stream.write_all(std::move(out)).then([close] { return close; });
    });
  });
}

Future<void> ServeAll(TcpListener listener, std::shared_ptr<const Handler> handler) {
  return nanorun::repeat([listener, handler] {
    return listener.accept().then([handler](std::pair<TcpStream, SocketAddr> conn) {
      // Named after the peer, so Handle::dump() says which connection a
      // stuck task serves.
      nanorun::TaskOptions task{"conn " + conn.second.ToString()};
      (void)nanorun::spawn(task, [stream = std::move(conn.first), handler] {
        return ServeConnection(stream, handler);
      });
      return false;
    });
  });
}

int RunServer(const char* name, int argc, char** argv, std::shared_ptr<const Handler> handler) {
  int port = argc > 1 ? std::atoi(argv[1]) : 0;
  if (argc > 2 || port < 0 || port > 65535) {
    std::fprintf(stderr, "usage: %s [PORT]   (0..65535; 0 picks a free port)\n", name);
    return 2;
  }
  nanorun::Runtime rt;
  nanorun::signal::Signals stop({SIGINT, SIGTERM}, rt.handle());
  auto listener = TcpListener::bind(SocketAddr::loopback_v4(static_cast<uint16_t>(port)), rt.handle());
  if (!listener.ok()) {
    std::fprintf(stderr, "%s: %s\n", name, listener.status().ToString().c_str());
    return 1;
  }
  std::printf("%s listening on %s\n", name, listener->local_addr()->ToString().c_str());
  std::fflush(stdout);
  auto serving = rt.handle().spawn(nanorun::TaskOptions{"accept loop"},
                                   [l = *listener, handler] { return ServeAll(l, handler); });
  int sig = rt.block_on(stop.next()).value_or(0);
  std::printf("%s: signal %d, shutting down\n", name, sig);
  listener->close();
  return 0;
}

}  // namespace examples
