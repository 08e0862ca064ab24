// The echo server's two loops, written without coroutines: the idiom of
// docs/net.md. Used by the echo_server example, the tour and the net tests.
#ifndef NANORUN_DOCS_EXAMPLES_ECHO_H_
#define NANORUN_DOCS_EXAMPLES_ECHO_H_

#include "absl/time/time.h"
#include "nanorun/nanorun.h"

namespace echo {

// Echoes one connection until the peer closes its side, an error, or
// `idle_timeout` without data (then the connection is closed: slow-loris
// peers cannot pin connections): read some, write it all back, repeat.
nanorun::Future<void> EchoConnection(nanorun::net::TcpStream stream,
                                     absl::Duration idle_timeout = absl::Seconds(60));

// Accepts connections forever (until the listener is closed, which fails
// the next accept) and echoes each one in its own task.
nanorun::Future<void> Serve(nanorun::net::TcpListener listener,
                            absl::Duration idle_timeout = absl::Seconds(60));

}  // namespace echo

#endif  // NANORUN_DOCS_EXAMPLES_ECHO_H_
