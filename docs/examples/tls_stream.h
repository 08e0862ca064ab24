// TlsStream: TLS over a nanorun TcpStream, with OpenSSL driven through memory
// BIOs. OpenSSL never touches the socket: it reads ciphertext from one memory
// buffer and writes ciphertext to another, and this class moves those bytes
// with the TcpStream's own futures. That is the whole pattern: any TLS library
// with a "bring your own I/O" mode (OpenSSL's BIO pairs, BoringSSL, mbedTLS's
// send/recv callbacks, rustls's reader/writer) wraps nanorun's streams the
// same way, with no thread and no blocking call. docs/net.md explains it.
//
// An example, not part of the library: nanorun itself has no OpenSSL
// dependency. Needs Debian's libssl-dev (build) and openssl (its test).
//
// Rules: one read and one write may be pending at once, not two of the same
// kind (an SSL object is not thread-safe: each call below takes the session's
// lock, and never holds it across a wait). Cancel: a read stopped while it
// waits for ciphertext leaves the session consistent (what arrived stays in
// the read BIO for the next read), as TcpStream::read_some does.
#ifndef NANORUN_DOCS_EXAMPLES_TLS_STREAM_H_
#define NANORUN_DOCS_EXAMPLES_TLS_STREAM_H_

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "nanorun/nanorun.h"

namespace tls {

// The text of OpenSSL's error queue (emptied), for a status message.
std::string OpenSslErrors();

class TlsStream {
 public:
  // Runs the server side of the handshake on `tcp`. Fails with Unavailable
  // naming the peer and OpenSSL's reason (a client that speaks no TLS, a
  // certificate it rejects, a peer that hangs up).
  static nanorun::Future<TlsStream> accept(std::shared_ptr<SSL_CTX> ctx, nanorun::net::TcpStream tcp);

  // Up to max_bytes of plaintext; empty once the peer sent close_notify.
  // A TCP end of stream without close_notify is DataLoss (the data may have
  // been cut short by someone on the path).
  nanorun::Future<std::string> read_some(size_t max_bytes) const;
  // Encrypts and sends all of `data`.
  nanorun::Future<void> write_all(std::string data) const;
  // Sends close_notify, then FIN.
  nanorun::Future<void> shutdown() const;

  struct Session;  // The SSL object, its BIOs' bytes and the TcpStream.

 private:
  explicit TlsStream(std::shared_ptr<Session> s) : s_(std::move(s)) {}
  std::shared_ptr<Session> s_;
};

}  // namespace tls

#endif  // NANORUN_DOCS_EXAMPLES_TLS_STREAM_H_
