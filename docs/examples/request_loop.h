// A request/response server loop for the examples (http_hello,
// mini_redis): per connection, read into an input buffer, let the protocol
// handler parse every complete request it holds and append the replies,
// write them, and read more. The idiom of docs/net.md, with a parser.
#ifndef NANORUN_DOCS_EXAMPLES_REQUEST_LOOP_H_
#define NANORUN_DOCS_EXAMPLES_REQUEST_LOOP_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nanorun/nanorun.h"

namespace examples {

// Parses as many complete requests as `input` starts with, appends their
// replies to `out`, and returns how many bytes of `input` it used (0 if
// the first request is incomplete). Sets *close to end the connection
// after `out` is written (a protocol error, or "Connection: close").
using Handler = std::function<size_t(absl::string_view input, std::string* out, bool* close)>;

// A peer may not make us hold more than this of unparsed input: past it the
// connection is closed (no unbounded buffering driven by a peer).
constexpr size_t kMaxPendingInput = 1 << 20;

// A connection that sends nothing for this long is closed (slow-loris
// clients cannot hold connections forever).
constexpr absl::Duration kIdleTimeout = absl::Seconds(30);

// Serves one connection until the peer closes it, the handler says so, or
// it stays silent for `idle_timeout`.
nanorun::Future<void> ServeConnection(nanorun::net::TcpStream stream,
                                      std::shared_ptr<const Handler> handler,
                                      absl::Duration idle_timeout = kIdleTimeout);

// Accepts until the listener is closed; each connection in its own task.
nanorun::Future<void> ServeAll(nanorun::net::TcpListener listener,
                               std::shared_ptr<const Handler> handler);

// For the example binaries: binds 127.0.0.1:port, prints
// "<name> listening on ADDR", serves until SIGINT/SIGTERM, returns the exit
// code.
int RunServer(const char* name, int argc, char** argv, std::shared_ptr<const Handler> handler);

}  // namespace examples

#endif  // NANORUN_DOCS_EXAMPLES_REQUEST_LOOP_H_
