// StreamSocket: what TcpStream and UnixStream share, a connected byte stream
// over the reactor. Reading, writing (vectored too), half-close and close are
// written once here, so both kinds keep the same contract.
//
// A StreamSocket is a cheap, copyable handle to a shared socket: copy it into
// each continuation that uses it; the socket stays open exactly as long as
// some handle or some pending operation needs it (socket_core.h). Buffers
// given as absl::Span are NOT owned: keep them alive until the returned future
// completes, or use the std::string forms, which own their data.
//
// Operations may be started from any thread; pending ones complete on the
// runtime the socket was made on. Errors are absl::Status values naming the
// operation and the peer ("read from 127.0.0.1:80: Connection reset by peer").
#ifndef NANORUN_NET_STREAM_H_
#define NANORUN_NET_STREAM_H_

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "nanorun/future/future.h"
#include "nanorun/net/socket_core.h"

namespace nanorun {
inline namespace v0 {
namespace net {

// Cancel-safety, per operation (docs/cancellation.md): an operation is stopped
// when its future is dropped, a time::timeout around it passes, or the task
// awaiting it is aborted. Stopped while it waits for the socket, it settles with
// CancelledError at once: its syscall does not run again, it releases your
// buffer and its hold on the socket. Stopped after its syscall ran, it completes
// normally (a timeout then returns what it read). close() fails every pending
// one. Any number of operations may be pending on one socket (docs/net.md,
// "Sharing a socket").
class StreamSocket {
 public:
  // Up to buf.size() bytes as soon as any arrive; 0 means the peer closed
  // its side (end of stream). Stopped while waiting: nothing read (the next read
  // gets the bytes). Cancel-safe.
  Future<size_t> read(absl::Span<char> buf) const;
  // Up to max_bytes, owned; empty at end of stream. Stopped: as read(). An
  // attempt that finds nothing to read allocates nothing; up to 16 KiB the
  // bytes are read on the stack and the string is made to fit them.
  Future<std::string> read_some(size_t max_bytes) const;
  // Exactly buf.size() bytes; OutOfRange if the stream ends first. Stopped
  // while waiting: the bytes read so far are in `buf` and the rest stays in the
  // socket: the stream is mid-message (not cancel-safe: close it, or resync).
  Future<void> read_exact(absl::Span<char> buf) const;

  // Writes some of `data` (at least 1 byte); returns how much. Stopped while
  // waiting: nothing written; `data` is released.
  Future<size_t> write(absl::Span<const char> data) const;
  // Writes all of `data`. Stopped while waiting: a prefix may be written
  // already, the rest is not (not cancel-safe: the peer sees a partial message).
  // The std::string form writes from its own copy.
  Future<void> write_all(absl::Span<const char> data) const;
  Future<void> write_all(std::string data) const;
  // Writes every part, in order, as one stream (writev/sendmsg: a header and
  // a body go out in one syscall, with no copy into a joined buffer). The
  // spans are not owned; the strings are. Stopped: as write_all.
  Future<void> write_all_vectored(std::vector<absl::Span<const char>> parts) const;
  Future<void> write_all_vectored(std::vector<std::string> parts) const;

  // Sends FIN: the peer reads end of stream; reading here goes on.
  absl::Status shutdown_write() const;
  // Fails pending and later operations with CancelledError. The fd closes
  // when the last handle and operation let go; dropping every handle
  // closes it too, without close().
  void close() const;

  bool valid() const { return core_ != nullptr; }
  // The OS socket (an fd; a SOCKET on Windows), lent: it stays nanorun's, in
  // non-blocking mode, and closes with the last handle. For setsockopt and
  // libraries that want to look at it, not to read or close it behind
  // nanorun's back. -1 for an empty handle.
  int native_handle() const { return core_ != nullptr ? core_->fd() : -1; }

 protected:
  StreamSocket() = default;
  explicit StreamSocket(std::shared_ptr<detail::SocketCore> core) : core_(std::move(core)) {}
  std::shared_ptr<detail::SocketCore> core_;
};

namespace detail {
absl::Status EmptySocket(const char* op);
}  // namespace detail

}  // namespace net
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_NET_STREAM_H_
