// Sockets, for nanorun::net: thin wrappers that make every fd non-blocking
// and close-on-exec, never raise SIGPIPE, retry EINTR, and turn errno into
// an absl::Status naming the operation ("connect 127.0.0.1:1: Connection
// refused"). Addresses cross this boundary as IpAddress (no OS types), so
// the net layer stays free of platform headers.
#ifndef NANORUN_SYS_SOCKET_H_
#define NANORUN_SYS_SOCKET_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace nanorun {
inline namespace v0 {
namespace sys {

// An IPv4 or IPv6 address and port, in network byte order bytes.
struct IpAddress {
  bool v6 = false;
  uint8_t bytes[16] = {};  // IPv4 uses the first 4.
  uint16_t port = 0;       // Host order.
  uint32_t scope_id = 0;   // IPv6 only.
};

// Parses a numeric address without port ("127.0.0.1", "::1"); false if bad.
bool ParseIp(absl::string_view text, IpAddress* out);
// "127.0.0.1" or "::1" (no port, no brackets).
std::string FormatIp(const IpAddress& addr);

// The status for `err` (an errno value) in `operation`: the message is
// "<operation>: <strerror>", the code follows the error's meaning
// (ECONNREFUSED -> Unavailable, EADDRINUSE -> AlreadyExists, ...).
absl::Status ErrnoStatus(int err, absl::string_view operation);

enum class SocketType { kStream, kDatagram };

// What a socket handed to nanorun (from_native) must be.
enum class SocketFamily { kIp, kUnix };
enum class SocketRole { kConnected, kListening, kDatagram };
// Checks that `fd` is an open socket of `family` in `role` (a connected
// stream, a listening stream, or a datagram socket), then makes it
// non-blocking and close-on-exec. Otherwise InvalidArgument saying what `fd`
// is instead ("fd 7 is a datagram socket, not a listening one"), and `fd` is
// left as it was.
absl::Status AdoptSocket(int fd, SocketFamily family, SocketRole role);

// A new non-blocking, close-on-exec socket for `addr`'s family.
absl::StatusOr<int> OpenSocket(const IpAddress& addr, SocketType type);
void Close(int fd);

absl::Status SetReuseAddress(int fd);
absl::Status SetNoDelay(int fd, bool on);

// The socket options nanorun sets by name; each is the OS's own option
// (docs/os.md has the table per OS). Integers throughout: 0/1 for flags.
enum class SocketOption {
  kReusePort,      // SO_REUSEPORT (Linux); Unimplemented on Windows.
  kKeepAlive,      // SO_KEEPALIVE
  kKeepIdle,       // TCP_KEEPIDLE, seconds
  kKeepInterval,   // TCP_KEEPINTVL, seconds
  kKeepCount,      // TCP_KEEPCNT, probes
  kSendBuffer,     // SO_SNDBUF, bytes
  kReceiveBuffer,  // SO_RCVBUF, bytes
  kV6Only,         // IPV6_V6ONLY
  kTtl,            // IP_TTL, or IPV6_UNICAST_HOPS on an IPv6 socket
  kNoDelay,        // TCP_NODELAY
  kBroadcast,      // SO_BROADCAST
};
// "SO_SNDBUF", for messages.
const char* SocketOptionName(SocketOption option);
// Errors name the option: "setsockopt(SO_REUSEPORT): ...".
absl::Status SetSocketOption(int fd, SocketOption option, int value);
absl::StatusOr<int> GetSocketOption(int fd, SocketOption option);
// SO_LINGER. nullopt: off (close returns at once; the kernel still sends
// what is queued, then FIN). A value: close waits up to that many seconds for
// the queue to drain; 0 discards it and resets the connection (RST).
absl::Status SetLinger(int fd, std::optional<int> seconds);
absl::StatusOr<std::optional<int>> GetLinger(int fd);
absl::Status Bind(int fd, const IpAddress& addr);
absl::Status Listen(int fd, int backlog);
absl::StatusOr<IpAddress> LocalAddress(int fd);
absl::StatusOr<IpAddress> PeerAddress(int fd);
// how: 0 read, 1 write, 2 both.
absl::Status Shutdown(int fd, int how);

// The outcome of one non-blocking attempt: `n` bytes (or an fd for
// accept), or `err` (an errno value; EAGAIN means "would block").
struct IoResult {
  int64_t n = 0;
  int err = 0;
  bool would_block = false;  // err was EAGAIN / EWOULDBLOCK.
};

IoResult Read(int fd, char* buf, size_t len);
IoResult Write(int fd, const char* buf, size_t len);  // Never SIGPIPE.
// One piece of a vectored write.
struct ConstBuffer {
  const char* data;
  size_t size;
};
// The most pieces WriteVectored takes in one call (below every OS's IOV_MAX).
constexpr size_t kMaxIoVectors = 64;
// Writes from `count` (<= kMaxIoVectors) buffers in order, in one syscall
// (sendmsg / WSASend); n is the total bytes written. Never SIGPIPE.
IoResult WriteVectored(int fd, const ConstBuffer* parts, size_t count);
// accept4(NONBLOCK | CLOEXEC); n is the new fd. `peer` may be null (Unix
// sockets, whose peers are unnamed).
IoResult Accept(int fd, IpAddress* peer);
// Starts a connect: err 0 (connected), EINPROGRESS (wait for writable, then
// ConnectResult) or a failure.
int StartConnect(int fd, const IpAddress& addr);
// After writability: 0 if connected, else the errno (SO_ERROR).
int ConnectResult(int fd);
// A socket address in the OS's own form (a sockaddr_in or sockaddr_in6 in
// `bytes`), for a request that hands it to the kernel later and must own it
// until then (an io_uring connect).
struct RawSocketAddress {
  alignas(8) unsigned char bytes[128];  // sizeof(sockaddr_storage).
  uint32_t length = 0;
};
RawSocketAddress ToRawSocketAddress(const IpAddress& addr);
IoResult SendTo(int fd, const char* buf, size_t len, const IpAddress& to);
IoResult RecvFrom(int fd, char* buf, size_t len, IpAddress* from);

// Every IPv4 and IPv6 address of `host` (a name, or a numeric address), in
// the resolver's order (getaddrinfo's, which follows RFC 6724 and
// /etc/gai.conf), each with `port`. Blocks: the net layer runs it on the
// blocking pool. NotFound for a name that does not exist, Unavailable when
// no DNS server answered (try again), InvalidArgument for an empty or
// over-long name; every message names the host.
absl::StatusOr<std::vector<IpAddress>> ResolveHost(absl::string_view host, uint16_t port);

// What StartConnect says when the connection continues in the background.
extern const int kErrInProgress;

// What a listener should do about a failed accept.
enum class AcceptFailure {
  kSkip,     // That one connection failed before it was accepted (the peer
             // reset it, or a network error it carried): accept the next.
  kBackOff,  // Out of descriptors or kernel memory (EMFILE, ENFILE, ENOBUFS,
             // ENOMEM): wait and try again; the listener itself is fine.
  kFatal,    // The listener is broken (EBADF, EINVAL, ...): report it.
};
AcceptFailure ClassifyAcceptError(int err);

}  // namespace sys
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_SYS_SOCKET_H_
