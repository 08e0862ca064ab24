// tls_echo PORT CERT KEY: a TLS line-echo server on 127.0.0.1:PORT (0: any
// free port), OpenSSL over nanorun's TcpStream through memory BIOs
// (tls_stream.h). Each line comes back; "quit" gets "bye" and a TLS close.
// Stops on Ctrl-C or SIGTERM.
//
//   openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -keyout key.pem -out cert.pem
//   tools/bazel run //docs/examples:tls_echo -- 7443 $PWD/cert.pem $PWD/key.pem
//   openssl s_client -connect 127.0.0.1:7443 -CAfile cert.pem -verify_hostname localhost
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "docs/examples/tls_stream.h"
#include "nanorun/nanorun.h"

namespace {

using nanorun::Future;
using tls::TlsStream;

// Echoes whole lines until "quit" or the end of the session.
Future<void> ServeLines(TlsStream conn) {
  auto pending = std::make_shared<std::string>();
  return nanorun::repeat([conn, pending] {
    return conn.read_some(4096).then([conn, pending](std::string plain) -> Future<bool> {
      if (plain.empty()) return nanorun::make_ready_future(true);  // close_notify.
      *pending += plain;
      std::string reply;
      bool quit = false;
      size_t newline;
      while (!quit && (newline = pending->find('\n')) != std::string::npos) {
        std::string line = pending->substr(0, newline);
        pending->erase(0, newline + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line == "quit") {
          reply += "bye\n";
          quit = true;
        } else {
          reply += line + "\n";
        }
      }
      Future<void> sent = conn.write_all(std::move(reply));
      if (!quit) return std::move(sent).then([] { return false; });
      return std::move(sent).then([conn] { return conn.shutdown(); }).then([] { return true; });
    });
  });
}

Future<void> Serve(nanorun::net::TcpListener listener, std::shared_ptr<SSL_CTX> ctx) {
  return nanorun::repeat([listener, ctx] {
    return listener.accept().then_result([ctx](auto accepted) {
      if (!accepted.ok()) return true;  // Closed: stop serving.
      nanorun::net::TcpStream tcp = accepted->first;
      (void)nanorun::spawn([tcp, ctx] {
        return TlsStream::accept(ctx, tcp)
            .then([](TlsStream conn) { return ServeLines(conn); })
            .then_result([tcp](absl::Status done) {
              if (!done.ok()) std::fprintf(stderr, "tls_echo: %s\n", done.ToString().c_str());
              tcp.close();
            });
      });
      return false;
    });
  });
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: tls_echo PORT CERT.pem KEY.pem   (PORT 0 picks a free port)\n");
    return 2;
  }
  int port = std::atoi(argv[1]);
  std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
  if (ctx == nullptr || !SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION) ||
      SSL_CTX_use_certificate_chain_file(ctx.get(), argv[2]) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx.get(), argv[3], SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx.get()) != 1) {
    std::fprintf(stderr, "tls_echo: cannot load %s / %s: %s\n", argv[2], argv[3], tls::OpenSslErrors().c_str());
    return 1;
  }
  nanorun::Runtime rt;
  nanorun::signal::Signals stop({SIGINT, SIGTERM}, rt.handle());
  auto listener = nanorun::net::TcpListener::bind(
      nanorun::net::SocketAddr::loopback_v4(static_cast<uint16_t>(port)), rt.handle());
  if (!listener.ok()) {
    std::fprintf(stderr, "tls_echo: %s\n", listener.status().ToString().c_str());
    return 1;
  }
  std::printf("tls_echo listening on %s\n", listener->local_addr()->ToString().c_str());
  std::fflush(stdout);
  auto serving = rt.handle().spawn([l = *listener, ctx] { return Serve(l, ctx); });
  int sig = rt.block_on(stop.next()).value_or(0);
  std::printf("tls_echo: signal %d, shutting down\n", sig);
  listener->close();
  return 0;
}
