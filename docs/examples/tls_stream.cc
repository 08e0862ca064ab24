// TlsStream's loops. Each one is: call OpenSSL; send whatever it wrote to its
// output BIO; if it wants more input, read ciphertext from the TCP stream into
// its input BIO and call it again (nanorun::repeat, so the stack stays flat).
#include "docs/examples/tls_stream.h"

#include <openssl/bio.h>
#include <openssl/err.h>

#include <mutex>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tls {

using nanorun::Future;
using nanorun::net::TcpStream;

std::string OpenSslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char text[256];
    ERR_error_string_n(e, text, sizeof(text));
    if (!out.empty()) out += "; ";
    out += text;
  }
  return out.empty() ? "no OpenSSL error recorded" : out;
}

struct TlsStream::Session {
  TcpStream tcp;
  std::string peer;  // For messages.
  std::mutex lock;   // Around every SSL_* call: the SSL object is not thread-safe.
  SSL* ssl = nullptr;
  BIO* in = nullptr;   // Ciphertext from the peer, for OpenSSL to read. Owned by ssl.
  BIO* out = nullptr;  // Ciphertext OpenSSL wrote, for us to send. Owned by ssl.

  ~Session() { SSL_free(ssl); }

  // What OpenSSL wrote so far, taken out of its output BIO.
  std::string TakeOutput() {
    std::string bytes;
    char buf[16 * 1024];
    int n;
    while ((n = BIO_read(out, buf, sizeof(buf))) > 0) bytes.append(buf, static_cast<size_t>(n));
    return bytes;
  }
};

namespace {

using Session = TlsStream::Session;

// Sends what OpenSSL has written (handshake messages, records, alerts).
Future<void> Flush(const std::shared_ptr<Session>& s) {
  std::string bytes;
  {
    std::lock_guard<std::mutex> hold(s->lock);
    bytes = s->TakeOutput();
  }
  if (bytes.empty()) return nanorun::make_ready_future();
  return s->tcp.write_all(std::move(bytes));
}

// One TCP read into OpenSSL's input BIO; false at TCP end of stream.
Future<bool> FeedOnce(const std::shared_ptr<Session>& s) {
  return s->tcp.read_some(16 * 1024).then([s](std::string cipher) {
    if (cipher.empty()) return false;
    std::lock_guard<std::mutex> hold(s->lock);
    BIO_write(s->in, cipher.data(), static_cast<int>(cipher.size()));
    return true;
  });
}

// What an OpenSSL call that returned `r` wants next.
enum class Next { kDone, kWantRead, kClosed, kFailed };
Next Classify(SSL* ssl, int r) {
  if (r > 0) return Next::kDone;
  switch (SSL_get_error(ssl, r)) {
    case SSL_ERROR_WANT_READ:
      return Next::kWantRead;
    case SSL_ERROR_ZERO_RETURN:
      return Next::kClosed;
    default:
      return Next::kFailed;
  }
}

// Flushes, then feeds one TCP read; `then_what` names the step for the
// message when the peer hangs up in the middle of it.
Future<bool> FlushThenFeed(const std::shared_ptr<Session>& s, const char* then_what) {
  return Flush(s)
      .then([s] { return FeedOnce(s); })
      .then([s, then_what](bool got) -> absl::StatusOr<bool> {
        if (!got) {
          return absl::DataLossError(absl::StrCat(then_what, " with ", s->peer,
                                                  ": the peer closed the TCP stream without a TLS "
                                                  "close_notify"));
        }
        return false;  // Go round again.
      });
}

}  // namespace

Future<TlsStream> TlsStream::accept(std::shared_ptr<SSL_CTX> ctx, TcpStream tcp) {
  auto s = std::make_shared<Session>();
  s->tcp = tcp;
  auto peer = tcp.peer_addr();
  s->peer = peer.ok() ? peer->ToString() : "a client";
  s->ssl = SSL_new(ctx.get());
  s->in = BIO_new(BIO_s_mem());
  s->out = BIO_new(BIO_s_mem());
  if (s->ssl == nullptr || s->in == nullptr || s->out == nullptr) {
    BIO_free(s->in);
    BIO_free(s->out);
    s->in = s->out = nullptr;
    return nanorun::make_error_future<TlsStream>(
        absl::ResourceExhaustedError(absl::StrCat("SSL_new: ", OpenSslErrors())));
  }
  SSL_set_bio(s->ssl, s->in, s->out);  // The SSL object owns both BIOs now.
  SSL_set_accept_state(s->ssl);
  return nanorun::repeat([s]() -> Future<bool> {
           int r;
           Next next;
           std::string why;
           {
             std::lock_guard<std::mutex> hold(s->lock);
             r = SSL_do_handshake(s->ssl);
             next = Classify(s->ssl, r);
             if (next == Next::kFailed || next == Next::kClosed) why = OpenSslErrors();
           }
           switch (next) {
             case Next::kDone:
               return Flush(s).then([] { return true; });
             case Next::kWantRead:
               return FlushThenFeed(s, "TLS handshake");
             case Next::kClosed:
             case Next::kFailed:
               break;
           }
           // Send the alert OpenSSL wrote (the client learns why), then fail.
           absl::Status failed = absl::UnavailableError(
               absl::StrCat("TLS handshake with ", s->peer, " failed: ", why));
           return Flush(s).then_result([failed](absl::Status) -> absl::StatusOr<bool> { return failed; });
         })
      .then([s] { return TlsStream(s); });
}

Future<std::string> TlsStream::read_some(size_t max_bytes) const {
  auto s = s_;
  auto plain = std::make_shared<std::string>();
  return nanorun::repeat([s, plain, max_bytes]() -> Future<bool> {
           int r;
           Next next;
           std::string why;
           {
             std::lock_guard<std::mutex> hold(s->lock);
             plain->resize(max_bytes);
             r = SSL_read(s->ssl, &(*plain)[0], static_cast<int>(max_bytes));
             next = Classify(s->ssl, r);
             plain->resize(r > 0 ? static_cast<size_t>(r) : 0);
             if (next == Next::kFailed) why = OpenSslErrors();
           }
           switch (next) {
             case Next::kDone:
             case Next::kClosed:  // close_notify: an empty read, as TCP's end of stream.
               return nanorun::make_ready_future(true);
             case Next::kWantRead:
               // TLS 1.3 may have queued a message of its own (a key update).
               return FlushThenFeed(s, "TLS read");
             case Next::kFailed:
               break;
           }
           return nanorun::make_error_future<bool>(
               absl::UnavailableError(absl::StrCat("TLS read from ", s->peer, ": ", why)));
         })
      .then([plain] { return std::move(*plain); });
}

Future<void> TlsStream::write_all(std::string data) const {
  auto s = s_;
  int r;
  Next next;
  std::string why;
  {
    std::lock_guard<std::mutex> hold(s->lock);
    // A memory BIO takes everything: one call encrypts all of it (no
    // partial writes, no WANT_WRITE).
    r = data.empty() ? 1 : SSL_write(s->ssl, data.data(), static_cast<int>(data.size()));
    next = Classify(s->ssl, r);
    if (next != Next::kDone) why = OpenSslErrors();
  }
  if (next != Next::kDone) {
    return nanorun::make_error_future<void>(
        absl::UnavailableError(absl::StrCat("TLS write to ", s->peer, ": ", why)));
  }
  return Flush(s);
}

Future<void> TlsStream::shutdown() const {
  auto s = s_;
  {
    std::lock_guard<std::mutex> hold(s->lock);
    SSL_shutdown(s->ssl);  // Queues close_notify; we do not wait for the peer's.
  }
  return Flush(s).then([s]() -> absl::Status { return s->tcp.shutdown_write(); });
}

}  // namespace tls
