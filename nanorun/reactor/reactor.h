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
  // fail (CancelledError) instead of waiting for edges nobody will deliver.
  virtual void close_all_io() {}

  // The backend's name, for logs and benchmarks ("epoll", "io_uring",
  // "iocp", "fallback").
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
