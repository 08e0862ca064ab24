// The reactor contract: what every backend (epoll.cc, fallback.cc, and later
// iocp.cc) provides: parking, cross-thread wake, and I/O readiness. One Reactor per runtime; one worker at a time (the one
// holding the driver token) blocks in park(); any thread may call wake().
#ifndef NANORUN_REACTOR_REACTOR_H_
#define NANORUN_REACTOR_REACTOR_H_

#include <atomic>
#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nanorun/reactor/io.h"

namespace nanorun {
inline namespace v0 {
namespace reactor {

class Reactor {
 public:
  // Creates the backend for this platform. Fails (with the OS error) only if
  // the kernel refuses the resources (e.g. out of file descriptors).
  static absl::Status Create(std::unique_ptr<Reactor>* out);
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
  // fail (CancelledError) instead of waiting for edges nobody will deliver.
  virtual void close_all_io() {}

  // The backend's name, for logs and benchmarks ("epoll", "fallback").
  virtual const char* name() const = 0;

  // Readiness events park() delivered to registrations so far (metrics).
  uint64_t io_events() const { return io_events_.load(std::memory_order_relaxed); }

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

 private:
  std::atomic<uint64_t> io_events_{0};
};

}  // namespace reactor
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_REACTOR_REACTOR_H_
