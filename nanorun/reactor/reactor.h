// The reactor contract: what every backend (epoll.cc and uring.cc on Linux,
// iocp.cc on Windows, fallback.cc elsewhere) provides: parking, cross-thread
// wake, and I/O readiness. One Reactor per runtime; one worker at a time (the
// one holding the driver token) blocks in park(); any thread may call wake().
#ifndef NANORUN_REACTOR_REACTOR_H_
#define NANORUN_REACTOR_REACTOR_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nanorun/reactor/io.h"

namespace nanorun {
inline namespace v0 {
namespace reactor {

// Which backend a runtime parks in (RuntimeOptions::reactor). Linux has two:
// epoll (readiness) and io_uring; Windows has IOCP, other systems the
// portable fallback. Asking for epoll or io_uring elsewhere fails.
enum class Backend {
  // What nanorun recommends here, unless the environment's NANORUN_REACTOR
  // (epoll, uring or auto) says otherwise: epoll on Linux for now, because
  // io_uring parks there but still reads and writes with syscalls, and
  // measures slower (docs/performance.md); kAuto once its completion
  // operations are measured faster.
  kDefault,
  // io_uring where the kernel and the process's seccomp policy allow it
  // (probed once per process), else epoll, saying so once through
  // Choice::log.
  kAuto,
  kEpoll,  // Linux only.
  kUring,  // Linux only; fails (Unavailable, and why) if io_uring cannot run.
};

// What Reactor::Create is asked for (from RuntimeOptions).
struct Choice {
  // The backend; see Backend.
  Backend backend = Backend::kDefault;
  // Where the one line about a fallback goes; null: stderr.
  std::function<void(absl::string_view)> log;
};

// A socket operation the kernel carries out and completes (backends with
// completion operations: io_uring), instead of an edge and a syscall. The
// caller owns it and keeps it alive until `done` has run.
struct RingOp {
  // Runs exactly once, on the thread that harvested the completion (inside
  // park(), or in close_all_io()), with the kernel's result: bytes moved
  // (0 at end of stream), or -errno (-ECANCELED: stopped before doing
  // anything, by a cancel or because the thread whose syscall handed it to
  // the kernel exited first, which io_uring treats as a cancel: queue it
  // again; -ENOBUFS: a recv found every receive buffer in use, so it read
  // nothing). For a recv, `data` holds the `result` bytes received,
  // valid only during the call; it is null for a send.
  void (*done)(RingOp* op, int32_t result, const char* data) = nullptr;
  // Set by the backend before each `done` of a multishot request
  // (queue_accept): true while the request stays armed and completes again;
  // the `done` with false is its last. Always false for a recv or a send.
  bool more = false;
};

class Reactor {
 public:
  // Creates the backend `choice` names for this platform. Fails with the OS
  // error if the kernel refuses the resources (e.g. out of file
  // descriptors), and with a status that says why if the backend asked for
  // (by `choice` or NANORUN_REACTOR) does not exist or cannot run here.
  static absl::Status Create(const Choice& choice, std::unique_ptr<Reactor>* out);
  static absl::Status Create(std::unique_ptr<Reactor>* out) { return Create(Choice(), out); }
  virtual ~Reactor() = default;

  // Blocks until wake() is called or `timeout` passes (InfiniteDuration:
  // no timeout; ZeroDuration: just look). A wake() that happened before
  // park() makes it return at once. Spurious returns are allowed. Called by
  // one thread at a time.
  virtual void park(absl::Duration timeout) = 0;

  // Makes the current or next park() return. Thread-safe; never allocates.
  virtual void wake() = 0;

  // I/O readiness (io.h). park() delivers the edges it sees to their
  // registrations, which wake the waiting tasks. Backends without I/O (the
  // fallback) return Unimplemented.
  //
  // Registers non-blocking `fd` for read and write edges.
  virtual absl::StatusOr<IoRegistration*> register_io(int fd) {
    (void)fd;
    return absl::UnimplementedError(
        "this reactor has no I/O (the portable fallback): nanorun::net needs "
        "epoll (Linux) or IOCP (Windows)");
  }
  // Closes `r` (its waiters wake and see is_closed()), stops its events and
  // frees it. Call before closing the fd, and only once no operation will
  // touch `r` again.
  virtual void deregister_io(IoRegistration* r) { (void)r; }
  // Registrations alive: busy workers poll for I/O only when there are some.
  virtual size_t io_registrations() const { return 0; }
  // Runtime shutdown: closes every registration, so pending operations
  // fail (CancelledError) instead of waiting for edges nobody will deliver,
  // and cancels every queued completion operation, returning only once each
  // one's `done` has run. Called once no thread parks any more.
  virtual void close_all_io() {}

  // Completion operations (io_uring's stage two; docs/architecture.md).
  // Each queue_* returns false, queueing nothing, where the backend has none
  // or its queue is full right now: the caller takes the readiness path. A
  // queued operation goes to the kernel with the next park() or
  // submit_queued() on any thread; the kernel then carries it out as task
  // work of the thread that submitted it, so queue from the thread about to
  // park and call submit_queued() only from one that will park soon.
  //
  // A recv of up to `max` bytes (at most ring_recv_limit()) from `fd`, into
  // a buffer of the backend's: none of the caller's memory is held while it
  // waits. `poll_first`: the caller believes the socket is empty now, so the
  // kernel waits for data before it tries (no failed attempt). `data` of a
  // send must stay valid until its `done`.
  virtual bool queue_recv(int fd, size_t max, bool poll_first, RingOp* op) {
    (void)fd, (void)max, (void)poll_first, (void)op;
    return false;
  }
  virtual bool queue_send(int fd, const void* data, size_t length, RingOp* op) {
    (void)fd, (void)data, (void)length, (void)op;
    return false;
  }
  // A connect of the non-blocking socket `fd` to the socket address of
  // `length` bytes at `addr`, which stays valid until `done`: result 0 once
  // connected, else -errno. Offered with the other socket operations.
  virtual bool queue_connect(int fd, const void* addr, size_t length, RingOp* op) {
    (void)fd, (void)addr, (void)length, (void)op;
    return false;
  }
  // A multishot accept on the listening socket `fd`: `done` runs once per
  // connection the kernel accepts (result: the new fd, non-blocking and
  // close-on-exec, now the caller's), with `op->more` set while the request
  // stays armed, and a last time with `more` false when it ends (an error
  // such as -EMFILE, the listener shut down, or a cancel: -ECANCELED). While
  // armed it holds the listener's file: shut the socket down (shutdown(2)
  // stops a TCP listener at once) as well as cancelling it.
  virtual bool queue_accept(int fd, RingOp* op) {
    (void)fd, (void)op;
    return false;
  }
  // Whether queue_accept is offered (io_uring with
  // NANORUN_URING_SOCKET_OPS=on), so a listener can tell before it waits.
  virtual bool accepts_by_ring() const { return false; }
  // Asks the kernel to stop queued `op`. It still completes once, with what
  // it did: -ECANCELED if nothing (a recv's bytes are then still in the
  // socket), else its result. So a cancel loses no byte.
  virtual void cancel(RingOp* op) { (void)op; }
  // Hands what was queued to the kernel now, from this thread (one syscall).
  virtual void submit_queued() {}
  // The most a recv returns (its buffers' size); 0 where the backend has no
  // completion operations, so a caller can tell before it builds one.
  virtual size_t ring_recv_limit() const { return 0; }
  // Every read of `r`'s socket from now on is a completion operation (a TCP
  // stream on io_uring): its read edges would only wake the reactor for
  // nothing, once per arrival, so the backend may stop reporting them.
  // Write edges (and hang-ups, errors) still come.
  virtual void reads_by_ring(IoRegistration* r) { (void)r; }
  // Queued operations whose `done` has not run yet.
  virtual size_t ring_ops_in_flight() const { return 0; }

  // The backend's name, for logs and benchmarks ("epoll", "io_uring",
  // "iocp", "fallback").
  virtual const char* name() const = 0;

  // Readiness events park() delivered to registrations so far (metrics).
  uint64_t io_events() const { return io_events_.load(std::memory_order_relaxed); }
  // Completion operations (RingOp) whose `done` has run so far (metrics).
  uint64_t ring_completions() const { return ring_completions_.load(std::memory_order_relaxed); }

 protected:
  // For park(): `n` events were just delivered. Only one thread parks at a
  // time, but not always the same one: hence an atomic (one add per park
  // that saw events; nothing when built with NANORUN_NO_METRICS).
  void count_io_events(uint64_t n) {
#ifndef NANORUN_NO_METRICS
    if (n != 0) io_events_.fetch_add(n, std::memory_order_relaxed);
#else
    (void)n;
#endif
  }
  // For the harvester: `n` completion operations just completed.
  void count_ring_completions(uint64_t n) {
#ifndef NANORUN_NO_METRICS
    if (n != 0) ring_completions_.fetch_add(n, std::memory_order_relaxed);
#else
    (void)n;
#endif
  }

 private:
  std::atomic<uint64_t> io_events_{0};
  std::atomic<uint64_t> ring_completions_{0};
};

}  // namespace reactor
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_REACTOR_REACTOR_H_
