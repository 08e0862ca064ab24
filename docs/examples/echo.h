// The echo server's two loops, written without coroutines: the idiom of
// docs/net.md. Used by the echo_server example, the tour and the net tests.
#ifndef NANORUN_DOCS_EXAMPLES_ECHO_H_
#define NANORUN_DOCS_EXAMPLES_ECHO_H_

#include "nanorun/nanorun.h"

namespace echo {

// Echoes one connection until the peer closes its side (or an error):
// read some, write it all back, repeat. Returns when the peer is done.
nanorun::Future<void> EchoConnection(nanorun::net::TcpStream stream);

// Accepts connections forever (until the listener is closed, which fails
// the next accept) and echoes each one in its own task.
nanorun::Future<void> Serve(nanorun::net::TcpListener listener);

}  // namespace echo

#endif  // NANORUN_DOCS_EXAMPLES_ECHO_H_
