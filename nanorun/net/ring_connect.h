// TCP connects the reactor's ring carries out (io_uring with socket
// operations on: NANORUN_URING_SOCKET_OPS=on; docs/architecture.md,
// "Stage two"). Instead of connect(2), a wait for the socket to become
// writable and getsockopt(SO_ERROR), one connect request: the kernel waits
// for the handshake and completes it with 0 or the error, and the socket is
// registered with the reactor only once it is connected.
//
// Only a connect started on one of the runtime's workers takes this path
// (tcp.cc): the kernel ties a request to the thread that submitted it and
// cancels it if that thread exits, and a connect cannot simply be asked
// again once it may be under way (a read can). Workers outlive their
// requests: shutdown cancels every one first.
//
// Stopping (a dropped future, a timeout, an abort) cancels the request; the
// connect settles when its completion comes: CancelledError and the socket
// closed if the cancel won, the connected stream if the handshake won (the
// stream is then the caller's, as a connect that completed just before the
// stop would be). Runtime shutdown cancels it too: CancelledError naming it.
//
// Who keeps what alive: the node is the future's shared state and lives
// until its result is published, which is after the request's completion;
// it holds a reference on the executor (as a socket does) so that the
// reactor it cancels through and registers with outlives it.
#ifndef NANORUN_NET_RING_CONNECT_H_
#define NANORUN_NET_RING_CONNECT_H_

#include <string>

#include "nanorun/executor/executor.h"
#include "nanorun/future/future.h"
#include "nanorun/sys/socket.h"

namespace nanorun {
inline namespace v0 {
namespace net {

class TcpStream;

namespace detail {

// Connects `fd` (a non-blocking TCP socket, now this call's: closed unless
// it becomes the stream) to `addr` through e's ring. The caller checked that
// the reactor offers socket operations and that this thread is e's worker.
Future<TcpStream> RingConnect(executor::Executor* e, int fd, const sys::IpAddress& addr,
                              std::string label);

}  // namespace detail
}  // namespace net
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_NET_RING_CONNECT_H_
