// echo_server PORT: a TCP echo server on 127.0.0.1:PORT (0: any free port).
// Prints the address it listens on, serves until Ctrl-C or SIGTERM, then
// shuts down cleanly (the runtime cancels the open connections).
//
//   tools/bazel run //docs/examples:echo_server -- 7000
#include <signal.h>

#include <cstdio>
#include <cstdlib>

#include "docs/examples/echo.h"
#include "nanorun/nanorun.h"

int main(int argc, char** argv) {
  int port = argc > 1 ? std::atoi(argv[1]) : 0;
  if (port < 0 || port > 65535) {
    std::fprintf(stderr, "usage: echo_server [PORT]   (0..65535; 0 picks a free port)\n");
    return 2;
  }
  nanorun::Runtime rt;
  nanorun::signal::Signals stop({SIGINT, SIGTERM}, rt.handle());
  auto listener = nanorun::net::TcpListener::bind(
      nanorun::net::SocketAddr::loopback_v4(static_cast<uint16_t>(port)), rt.handle());
  if (!listener.ok()) {
    std::fprintf(stderr, "echo_server: %s\n", listener.status().ToString().c_str());
    return 1;
  }
  std::printf("echo_server listening on %s\n", listener->local_addr()->ToString().c_str());
  std::fflush(stdout);
  auto serving = rt.handle().spawn([l = *listener] { return echo::Serve(l); });
  int sig = rt.block_on(stop.next()).value_or(0);
  std::printf("echo_server: signal %d, shutting down\n", sig);
  listener->close();
  return 0;  // ~Runtime cancels the connections still open.
}
