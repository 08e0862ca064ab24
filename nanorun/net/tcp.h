// TCP for nanorun: TcpListener and TcpStream (whose reads and writes are
// StreamSocket's, stream.h).
//
// Both are cheap, copyable handles to a shared socket: copy one into each
// continuation that uses it, and the socket stays open exactly as long as
// some handle or some pending operation needs it (socket_core.h). Buffers
// given as absl::Span are NOT owned: keep them alive until the returned
// future completes, e.g. in a std::shared_ptr captured by the continuation;
// or use the std::string overloads, which own their data.
//
// Operations may be started from any thread; pending ones run as tasks on
// the runtime the socket was made on. Errors are absl::Status values naming
// the operation and the peer ("connect 127.0.0.1:1: Connection refused").
// close() makes pending and later operations fail with CancelledError.
//
// Sockets are non-blocking and close-on-exec; writes never raise SIGPIPE
// (a closed peer is an Unavailable status: "Broken pipe"); EINTR is
// retried. docs/net.md shows the loops (echo server) without coroutines.
#ifndef NANORUN_NET_TCP_H_
#define NANORUN_NET_TCP_H_

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "nanorun/future/future.h"
#include "nanorun/future/runtime.h"
#include "nanorun/net/socket_addr.h"
#include "nanorun/net/socket_core.h"
#include "nanorun/net/socket_options.h"
#include "nanorun/net/stream.h"

namespace nanorun {
inline namespace v0 {
namespace net {

// A TCP connection. Reading, writing, shutdown_write, close and their
// cancel rules are StreamSocket's (stream.h), shared with UnixStream.
class TcpStream : public StreamSocket {
 public:
  // An empty handle: every operation fails with FailedPrecondition.
  TcpStream() = default;

  // Connects to `addr`, on the calling worker's runtime (or `handle`'s).
  // Stopped while pending: the socket is closed and the attempt abandoned.
  static Future<TcpStream> connect(const SocketAddr& addr);
  static Future<TcpStream> connect(const SocketAddr& addr, const Handle& handle);
  // Resolves `host` (lookup_host, net/lookup.h) and connects to its
  // addresses one after another, in the resolver's order, until one accepts.
  // Fails with the last attempt's error code, the message naming the host and
  // how many addresses were tried. Stopped: the attempt in flight is
  // abandoned (its socket closed) and no further address is tried. Attempts
  // do not overlap (this is not RFC 8305's happy eyeballs): an address that
  // never answers holds the next one back until the kernel gives up on it, so
  // put a time::timeout around the call when that matters.
  static Future<TcpStream> connect(std::string host, uint16_t port);
  static Future<TcpStream> connect(std::string host, uint16_t port, const Handle& handle);

  // Adopts a connected TCP socket this process already has (inherited, or
  // made by another library): checked, made non-blocking and close-on-exec,
  // then owned by nanorun. Anything else is InvalidArgument and stays yours.
  static absl::StatusOr<TcpStream> from_native(int fd, const Handle& handle);

  // Options (socket_options.h, docs/os.md). Setters check their value first
  // (InvalidArgument naming it); getters read the OS's current value.
  // TCP_NODELAY: send small writes at once instead of coalescing them (Nagle).
  absl::Status set_nodelay(bool on) const;
  absl::StatusOr<bool> nodelay() const;
  // SO_KEEPALIVE with the given timing, or off (nullopt).
  absl::Status set_keepalive(std::optional<TcpKeepalive> keepalive) const;
  absl::StatusOr<bool> keepalive() const;
  // SO_SNDBUF, in bytes (> 0). Linux reports double the value set.
  absl::Status set_send_buffer_size(int bytes) const;
  absl::StatusOr<int> send_buffer_size() const;
  // SO_RCVBUF, in bytes (> 0). Linux reports double the value set.
  absl::Status set_receive_buffer_size(int bytes) const;
  absl::StatusOr<int> receive_buffer_size() const;
  // SO_LINGER. Zero: closing resets the connection (RST; unsent data is
  // dropped and the peer's next read fails with "Connection reset"), for
  // shedding a misbehaving client at once. nullopt: the default (FIN after
  // what is queued). A nonzero time is InvalidArgument: it would make the
  // final close block a worker thread for that long; to know the peer got
  // everything, shutdown_write() and read until end of stream instead.
  absl::Status set_linger(std::optional<absl::Duration> linger) const;
  absl::StatusOr<std::optional<absl::Duration>> linger() const;
  // IP_TTL (IPV6_UNICAST_HOPS for IPv6), 1..255.
  absl::Status set_ttl(int hops) const;
  absl::StatusOr<int> ttl() const;

  // The peer's address (getpeername).
  absl::StatusOr<SocketAddr> peer_addr() const;
  // This end's address (getsockname): the port a connect picked, say.
  absl::StatusOr<SocketAddr> local_addr() const;

 private:
  friend struct detail::NetAccess;

  // TCP's receive queue is empty after a short read (SocketCore's hint).
  explicit TcpStream(std::shared_ptr<detail::SocketCore> core) : StreamSocket(std::move(core)) {
    if (core_ != nullptr) core_->trust_short_reads();
  }
};

// A listening TCP socket: accept() yields the connections. A cheap copyable
// handle: copies share one socket, which closes with the last copy (or at
// close()).
class TcpListener {
 public:
  TcpListener() = default;

  // Binds and listens, on the calling worker's runtime or `handle`'s.
  // SO_REUSEADDR is set, so a restarted server can bind while its previous
  // connections sit in TIME_WAIT; it does not let two live listeners share a
  // port (that is TcpListenOptions::reuse_port). Port 0 picks a free port:
  // see local_addr(). Without options: backlog 1024, the OS's defaults.
  static absl::StatusOr<TcpListener> bind(const SocketAddr& addr);
  static absl::StatusOr<TcpListener> bind(const SocketAddr& addr, const Handle& handle);
  static absl::StatusOr<TcpListener> bind(const SocketAddr& addr, const TcpListenOptions& options);
  static absl::StatusOr<TcpListener> bind(const SocketAddr& addr, const TcpListenOptions& options,
                                          const Handle& handle);
  // Adopts a listening TCP socket this process inherited (systemd socket
  // activation passes them from fd 3; see docs/os.md): checked, made
  // non-blocking and close-on-exec, then owned. Anything else is
  // InvalidArgument and stays yours.
  static absl::StatusOr<TcpListener> from_native(int fd, const Handle& handle);

  // The next connection and its peer's address. When the process is out of
  // file descriptors (EMFILE/ENFILE) the listener stays open and the accept
  // waits, 10 ms and doubling up to 1 s, then tries again: it neither spins
  // nor fails (the connections wait in the kernel's backlog meanwhile).
  // Stopped while waiting: no connection taken (the next accept gets it).
  // Cancel-safe.
  Future<std::pair<TcpStream, SocketAddr>> accept() const;

  // The address it listens on: the port bind() picked for port 0.
  absl::StatusOr<SocketAddr> local_addr() const;
  // Closes the socket now: pending and later accepts fail with CancelledError.
  void close() const;
  // False for a default-constructed listener.
  bool valid() const { return core_ != nullptr; }
  // The listening socket, lent (see StreamSocket::native_handle).
  int native_handle() const { return core_ != nullptr ? core_->fd() : -1; }

 private:
  explicit TcpListener(std::shared_ptr<detail::SocketCore> core) : core_(std::move(core)) {}
  std::shared_ptr<detail::SocketCore> core_;
};

}  // namespace net
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_NET_TCP_H_
