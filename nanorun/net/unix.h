// Unix-domain sockets for nanorun: UnixListener and UnixStream (a byte
// stream with StreamSocket's contract, exactly as TcpStream), and
// UnixDatagram. For talking to a sidecar, a local daemon or a child process
// without the TCP stack.
//
// Paths: a file path (at most sys::kMaxUnixPath = 107 bytes: longer ones are
// InvalidArgument before any syscall), or on Linux an abstract name, a string
// that starts with '\0' (std::string("\0name", 5)), which makes no file and
// vanishes with its socket. Messages print abstract names as "@name".
//
// The socket file: bind() never removes an existing file silently. A file at
// the path makes bind fail with AlreadyExists, unless
// UnixListenOptions::replace_stale_socket is set and the file is a socket
// nothing listens on. A listener removes the file it made when it is closed
// or its last handle goes (remove_on_close, on by default), and only while
// the path still names that same file, so a newer server's socket is left
// alone.
//
// On Windows every factory fails with Unimplemented (docs/os.md).
#ifndef NANORUN_NET_UNIX_H_
#define NANORUN_NET_UNIX_H_

#include <cstddef>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "nanorun/future/future.h"
#include "nanorun/future/runtime.h"
#include "nanorun/net/socket_core.h"
#include "nanorun/net/stream.h"
#include "nanorun/sys/unix_socket.h"

namespace nanorun {
inline namespace v0 {
namespace net {

// The peer process's pid, uid and gid (UnixStream::peer_credentials).
using PeerCredentials = sys::PeerCredentials;

namespace detail {
class SocketPath;  // The socket file a listener or datagram socket made.
}  // namespace detail

// A connected Unix stream socket. Reading, writing, shutdown_write, close and
// their cancel rules are StreamSocket's (stream.h).
class UnixStream : public StreamSocket {
 public:
  UnixStream() = default;

  // Connects to the listener at `path`, on the calling worker's runtime or
  // `handle`'s. A listener whose backlog is full makes Linux refuse at once
  // (EAGAIN); connect then tries again, 1 ms and doubling up to 100 ms,
  // until the listener takes it (put a time::timeout around it to bound the
  // wait). Nothing listening: Unavailable; no such file: NotFound.
  static Future<UnixStream> connect(std::string path);
  static Future<UnixStream> connect(std::string path, const Handle& handle);
  // Two connected ends (socketpair), for a pipe between tasks or to hand one
  // end to a child process via native_handle().
  static absl::StatusOr<std::pair<UnixStream, UnixStream>> pair(const Handle& handle);
  // Adopts a connected Unix stream socket this process already has (an
  // inherited fd): made non-blocking and close-on-exec, then owned by
  // nanorun. An fd that is not one is InvalidArgument and stays yours.
  static absl::StatusOr<UnixStream> from_native(int fd, const Handle& handle);

  // The path this end is bound to: "" for an unnamed end (the connecting
  // side usually is).
  absl::StatusOr<std::string> local_path() const;
  // The path the peer's end is bound to ("" if unnamed).
  absl::StatusOr<std::string> peer_path() const;
  // The peer process's pid, uid and gid as the kernel recorded them at
  // connect (SO_PEERCRED): for a daemon that trusts local users by uid.
  absl::StatusOr<PeerCredentials> peer_credentials() const;

 private:
  friend struct detail::NetAccess;

  explicit UnixStream(std::shared_ptr<detail::SocketCore> core) : StreamSocket(std::move(core)) {}
};

// How UnixListener::bind binds.
struct UnixListenOptions {
  // Connections the kernel queues before accept() takes them (listen's backlog).
  int backlog = 1024;
  // A socket file left at the path by an earlier run that did not remove it
  // makes bind fail (AlreadyExists). Set this to remove such a file first:
  // only a socket that nothing listens on is removed; a live listener's
  // socket or any other kind of file still fails the bind.
  bool replace_stale_socket = false;
  // Remove the socket file when the listener is closed or its last handle
  // goes, if the path still names the file this bind made.
  bool remove_on_close = true;
};

// A listening Unix stream socket at a path: accept() yields the connections.
// A cheap copyable handle: copies share one socket, which closes (and removes
// its file, see remove_on_close) with the last copy or at close().
class UnixListener {
 public:
  UnixListener() = default;

  // Binds `path` and listens, on the calling worker's runtime or `handle`'s.
  static absl::StatusOr<UnixListener> bind(std::string path);
  static absl::StatusOr<UnixListener> bind(std::string path, const Handle& handle);
  static absl::StatusOr<UnixListener> bind(std::string path, const UnixListenOptions& options);
  static absl::StatusOr<UnixListener> bind(std::string path, const UnixListenOptions& options,
                                           const Handle& handle);
  // Adopts a listening Unix socket this process inherited (systemd socket
  // activation passes them from fd 3): checked, made non-blocking and
  // close-on-exec, then owned. Its file is never removed by nanorun. An fd
  // that is not a listening Unix stream socket is InvalidArgument and stays
  // yours.
  static absl::StatusOr<UnixListener> from_native(int fd, const Handle& handle);

  // The next connection. Out of descriptors: waits and tries again, as
  // TcpListener::accept does. Stopped while waiting: no connection taken.
  // Cancel-safe.
  Future<UnixStream> accept() const;

  // The path it listens on.
  absl::StatusOr<std::string> local_path() const;
  // Fails pending accepts; removes the socket file (remove_on_close).
  void close() const;
  // False for a default-constructed listener.
  bool valid() const { return core_ != nullptr; }
  // The listening socket, lent (see StreamSocket::native_handle).
  int native_handle() const { return core_ != nullptr ? core_->fd() : -1; }

 private:
  UnixListener(std::shared_ptr<detail::SocketCore> core, std::shared_ptr<detail::SocketPath> path)
      : core_(std::move(core)), path_(std::move(path)) {}
  std::shared_ptr<detail::SocketCore> core_;
  std::shared_ptr<detail::SocketPath> path_;  // Null: no file to remove.
};

// Unix datagrams: each send is one message, delivered whole or not at all,
// in order, never lost while the receiver keeps up (a full receiver makes
// the sender wait, not drop). Cancel rules as UdpSocket's (udp.h).
class UnixDatagram {
 public:
  UnixDatagram() = default;

  // A socket bound to `path` (an existing file fails the bind, as for
  // listeners; the file is removed when the socket closes, under the same
  // rule).
  static absl::StatusOr<UnixDatagram> bind(std::string path, const Handle& handle);
  // A socket with no name, for sending (replies to it are impossible unless
  // it is half of a pair or connected).
  static absl::StatusOr<UnixDatagram> unbound(const Handle& handle);
  // Two connected sockets with no names (socketpair), e.g. for a child process.
  static absl::StatusOr<std::pair<UnixDatagram, UnixDatagram>> pair(const Handle& handle);
  // Adopts a Unix datagram socket this process already has (checked, made
  // non-blocking and close-on-exec, then owned); anything else is
  // InvalidArgument and stays yours.
  static absl::StatusOr<UnixDatagram> from_native(int fd, const Handle& handle);

  // Sets the default peer: send() goes there and recv() takes only its
  // messages.
  absl::Status connect(const std::string& path) const;
  // One message to the connected peer; waits while its queue is full.
  Future<size_t> send(absl::Span<const char> data) const;
  // The next message (truncated to buf.size()). Stopped while waiting: no
  // message taken (the next recv gets it).
  Future<size_t> recv(absl::Span<char> buf) const;
  // One message to `path`. While that receiver's queue is full this retries
  // every few ms (1 ms doubling to 50 ms): Linux wakes a blocked sender only
  // for its connected peer, so connect() + send() is the way to stream.
  Future<size_t> send_to(absl::Span<const char> data, std::string path) const;
  // The next message (truncated to buf.size()) and its sender's path ("" if
  // the sender is unbound).
  Future<std::pair<size_t, std::string>> recv_from(absl::Span<char> buf) const;

  // The path it is bound to ("" if unbound).
  absl::StatusOr<std::string> local_path() const;
  // Closes the socket now: pending operations fail with CancelledError; the
  // file goes as for a listener.
  void close() const;
  // False for a default-constructed socket.
  bool valid() const { return core_ != nullptr; }
  // The socket, lent (see StreamSocket::native_handle).
  int native_handle() const { return core_ != nullptr ? core_->fd() : -1; }

 private:
  UnixDatagram(std::shared_ptr<detail::SocketCore> core, std::shared_ptr<detail::SocketPath> path)
      : core_(std::move(core)), path_(std::move(path)) {}
  std::shared_ptr<detail::SocketCore> core_;
  std::shared_ptr<detail::SocketPath> path_;
};

}  // namespace net
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_NET_UNIX_H_
