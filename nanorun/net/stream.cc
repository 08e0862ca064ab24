// StreamSocket's operations: each is one non-blocking attempt, retried by
// IoOp on readiness edges (socket_core.h); a TCP stream's reads that would
// wait go into the reactor's ring instead where it has one (ring_read.h).
#include "nanorun/net/stream.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "absl/strings/str_cat.h"
#include "nanorun/net/ring_read.h"
#include "nanorun/net/ring_write.h"

namespace nanorun {
inline namespace v0 {
namespace net {

using detail::IoOp;
using detail::Result;
using detail::SocketCore;
using detail::Step;
using reactor::Direction;

namespace detail {
absl::Status EmptySocket(const char* op) {
  return absl::FailedPreconditionError(
      absl::StrCat(op, " on an empty socket (default-constructed or moved-from)"));
}
}  // namespace detail

namespace {

// The reads, as ring_read.h's Readers: each tries a plain read(2) first and
// takes bytes the ring or the stash hands it (TCP on io_uring); elsewhere
// only the attempt is used, retried on readiness edges by IoOp.

// read(): up to buf.size() bytes into the caller's buffer.
struct SpanReader {
  absl::Span<char> buf;

  size_t want() const { return buf.size(); }
  Step<size_t> attempt(SocketCore& c) {
    sys::IoResult r = sys::Read(c.fd(), buf.data(), buf.size());
    if (r.would_block) return Step<size_t>::would_block();
    if (r.err != 0) return Step<size_t>::done(c.errno_error(r.err, "read from"));
    size_t n = static_cast<size_t>(r.n);
    if (n > 0 && n < buf.size()) return Step<size_t>::done_short_read(n);
    return Step<size_t>::done(n);
  }
  std::optional<Result<size_t>> consume(const SocketCore&, const char* data, size_t n) {
    if (n > 0) std::memcpy(buf.data(), data, n);
    return Result<size_t>(n);
  }
};

// Reads this large or smaller go through the stack: the string is then made
// to fit what arrived (no allocation at all up to its inline capacity), and a
// would-block attempt costs no allocation.
constexpr size_t kStackRead = 16 * 1024;

// read_some() up to kStackRead.
struct SmallStringReader {
  size_t max_bytes;

  size_t want() const { return max_bytes; }
  Step<std::string> attempt(SocketCore& c) {
    char buf[kStackRead];
    sys::IoResult r = sys::Read(c.fd(), buf, max_bytes);
    if (r.would_block) return Step<std::string>::would_block();
    if (r.err != 0) return Step<std::string>::done(c.errno_error(r.err, "read from"));
    size_t n = static_cast<size_t>(r.n);
    if (n > 0 && n < max_bytes) return Step<std::string>::done_short_read(std::string(buf, n));
    return Step<std::string>::done(std::string(buf, n));
  }
  std::optional<Result<std::string>> consume(const SocketCore&, const char* data, size_t n) {
    return Result<std::string>(std::string(data, n));
  }
};

// Larger: one buffer for the whole operation, made at the first attempt and
// kept across would-blocks, handed over as the result.
struct LargeStringReader {
  size_t max_bytes;
  std::string out;

  size_t want() const { return max_bytes; }
  Step<std::string> attempt(SocketCore& c) {
    if (out.size() != max_bytes) out.resize(max_bytes);
    sys::IoResult r = sys::Read(c.fd(), &out[0], out.size());
    if (r.would_block) return Step<std::string>::would_block();
    if (r.err != 0) return Step<std::string>::done(c.errno_error(r.err, "read from"));
    size_t n = static_cast<size_t>(r.n);
    out.resize(n);
    if (n > 0 && n < max_bytes) return Step<std::string>::done_short_read(std::move(out));
    return Step<std::string>::done(std::move(out));
  }
  std::optional<Result<std::string>> consume(const SocketCore&, const char* data, size_t n) {
    out.assign(data, n);
    return Result<std::string>(std::move(out));
  }
};

// read_exact(): fills buf, over as many reads as it takes.
struct ExactReader {
  absl::Span<char> buf;
  size_t filled = 0;

  size_t want() const { return buf.size() - filled; }
  Step<void> attempt(SocketCore& c) {
    while (filled < buf.size()) {
      sys::IoResult r = sys::Read(c.fd(), buf.data() + filled, buf.size() - filled);
      if (r.would_block) return Step<void>::would_block();
      if (r.err != 0) return Step<void>::done(c.errno_error(r.err, "read_exact from"));
      if (r.n == 0) return Step<void>::done(ended(c));
      filled += static_cast<size_t>(r.n);
    }
    return Step<void>::done(absl::OkStatus());
  }
  std::optional<absl::Status> consume(const SocketCore& c, const char* data, size_t n) {
    if (n > 0) std::memcpy(buf.data() + filled, data, n);
    filled += n;
    if (filled == buf.size()) return absl::OkStatus();
    if (n == 0) return ended(c);
    return std::nullopt;  // More to come.
  }
  absl::Status ended(const SocketCore& c) const {
    return absl::OutOfRangeError(absl::StrCat("read_exact from ", c.label(),
                                              ": the peer closed the stream after ", filled,
                                              " of ", buf.size(), " bytes"));
  }
};

}  // namespace

Future<size_t> StreamSocket::read(absl::Span<char> buf) const {
  return detail::StreamRead<size_t>(core_, "read", SpanReader{buf});
}

Future<std::string> StreamSocket::read_some(size_t max_bytes) const {
  if (max_bytes <= kStackRead) {
    return detail::StreamRead<std::string>(core_, "read", SmallStringReader{max_bytes});
  }
  return detail::StreamRead<std::string>(core_, "read", LargeStringReader{max_bytes, {}});
}

Future<void> StreamSocket::read_exact(absl::Span<char> buf) const {
  return detail::StreamRead<void>(core_, "read_exact", ExactReader{buf});
}

namespace {

// Whether this stream's writes are ring requests (ring_write.h).
bool WritesByRing(const std::shared_ptr<SocketCore>& core) {
  return core != nullptr && core->ring_recv_limit() != 0;
}

}  // namespace

Future<size_t> StreamSocket::write(absl::Span<const char> data) const {
  if (WritesByRing(core_)) {
    return detail::RingWriteNode<size_t>::Start(core_, std::string(data.data(), data.size()));
  }
  return IoOp<size_t>(core_, Direction::kWrite, "write", true, [data](SocketCore& c) {
    sys::IoResult r = sys::Write(c.fd(), data.data(), data.size());
    if (r.would_block) return Step<size_t>::would_block();
    if (r.err != 0) return Step<size_t>::done(c.errno_error(r.err, "write to"));
    return Step<size_t>::done(static_cast<size_t>(r.n));
  });
}

namespace {

// Writes data[*sent..] until done or the socket would block.
Step<void> WriteSome(SocketCore& c, const char* data, size_t size, size_t* sent) {
  while (*sent < size) {
    sys::IoResult r = sys::Write(c.fd(), data + *sent, size - *sent);
    if (r.would_block) return Step<void>::would_block();
    if (r.err != 0) return Step<void>::done(c.errno_error(r.err, "write to"));
    *sent += static_cast<size_t>(r.n);
  }
  return Step<void>::done(absl::OkStatus());
}

// Where a vectored write has got to: part `index`, `offset` bytes into it.
struct VectorPosition {
  size_t index = 0;
  size_t offset = 0;
};

// Writes parts[pos..] until done or the socket would block, up to
// sys::kMaxIoVectors parts per syscall.
template <class Part>
Step<void> WriteSomeVectored(SocketCore& c, const std::vector<Part>& parts, VectorPosition* pos) {
  for (;;) {
    while (pos->index < parts.size() && pos->offset == parts[pos->index].size()) {
      ++pos->index;
      pos->offset = 0;
    }
    if (pos->index == parts.size()) return Step<void>::done(absl::OkStatus());
    sys::ConstBuffer buffers[sys::kMaxIoVectors];
    size_t count = 0;
    for (size_t i = pos->index; i < parts.size() && count < sys::kMaxIoVectors; ++i) {
      size_t skip = i == pos->index ? pos->offset : 0;
      if (parts[i].size() == skip) continue;
      buffers[count++] = sys::ConstBuffer{parts[i].data() + skip, parts[i].size() - skip};
    }
    sys::IoResult r = sys::WriteVectored(c.fd(), buffers, count);
    if (r.would_block) return Step<void>::would_block();
    if (r.err != 0) return Step<void>::done(c.errno_error(r.err, "write to"));
    // Advance past what went out.
    auto left = static_cast<size_t>(r.n);
    while (left > 0) {
      size_t in_part = parts[pos->index].size() - pos->offset;
      size_t step = std::min(left, in_part);
      pos->offset += step;
      left -= step;
      if (pos->offset == parts[pos->index].size()) {
        ++pos->index;
        pos->offset = 0;
      }
    }
  }
}

}  // namespace

Future<void> StreamSocket::write_all(absl::Span<const char> data) const {
  if (WritesByRing(core_)) {
    return detail::RingWriteNode<void>::Start(core_, std::string(data.data(), data.size()));
  }
  size_t sent = 0;
  return IoOp<void>(core_, Direction::kWrite, "write", true,
                    [data, sent](SocketCore& c) mutable {
                      return WriteSome(c, data.data(), data.size(), &sent);
                    });
}

Future<void> StreamSocket::write_all(std::string data) const {
  if (WritesByRing(core_)) return detail::RingWriteNode<void>::Start(core_, std::move(data));
  size_t sent = 0;
  return IoOp<void>(core_, Direction::kWrite, "write", true,
                    [data = std::move(data), sent](SocketCore& c) mutable {
                      return WriteSome(c, data.data(), data.size(), &sent);
                    });
}

namespace {

// A vectored write as one ring send: the parts joined (they are copied anyway).
template <class Part>
std::string Joined(const std::vector<Part>& parts) {
  size_t total = 0;
  for (const Part& p : parts) total += p.size();
  std::string out;
  out.reserve(total);
  for (const Part& p : parts) out.append(p.data(), p.size());
  return out;
}

}  // namespace

Future<void> StreamSocket::write_all_vectored(std::vector<absl::Span<const char>> parts) const {
  if (WritesByRing(core_)) return detail::RingWriteNode<void>::Start(core_, Joined(parts));
  VectorPosition pos;
  return IoOp<void>(core_, Direction::kWrite, "write", true,
                    [parts = std::move(parts), pos](SocketCore& c) mutable {
                      return WriteSomeVectored(c, parts, &pos);
                    });
}

Future<void> StreamSocket::write_all_vectored(std::vector<std::string> parts) const {
  if (WritesByRing(core_)) return detail::RingWriteNode<void>::Start(core_, Joined(parts));
  VectorPosition pos;
  return IoOp<void>(core_, Direction::kWrite, "write", true,
                    [parts = std::move(parts), pos](SocketCore& c) mutable {
                      return WriteSomeVectored(c, parts, &pos);
                    });
}

absl::Status StreamSocket::shutdown_write() const {
  if (core_ == nullptr) return detail::EmptySocket("shutdown_write");
  absl::Status s = sys::Shutdown(core_->fd(), 1);
  if (!s.ok()) return absl::Status(s.code(), absl::StrCat(s.message(), " (", core_->label(), ")"));
  return s;
}

void StreamSocket::close() const {
  if (core_ != nullptr) core_->close();
}

}  // namespace net
}  // namespace v0
}  // namespace nanorun
