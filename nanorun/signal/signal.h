// nanorun::signal: waiting for POSIX signals (SIGINT, SIGTERM, SIGHUP, ...)
// as futures, without a helper thread and without user code in signal
// context (tokio's tokio::signal).
//
//   nanorun::signal::Signals signals({SIGTERM, SIGHUP}, handle);
//   repeat([signals] {
//     return signals.next().then([](int sig) {
//       if (sig == SIGHUP) reload_config();
//       return sig == SIGTERM;  // done
//     });
//   });
//   // or, once: nanorun::signal::ctrl_c().then([] { ... });
//
// How (POSIX): while a Signals listens to a signal, nanorun's handler is installed
// for it (sigaction); it only counts the delivery and wakes the listener's
// pipe, which its runtime's reactor watches (sys/signal_hub.h). Every
// listener of a signal gets every delivery. When the last listener of a
// signal goes, the earlier disposition comes back (SIG_DFL: Ctrl-C kills the
// process again).
//
// Threads: a signal reaches the handler on whichever thread has it
// unblocked, so do not block the signals you listen to (a thread that blocks
// SIGINT just passes it on to another; if every thread blocks it, it stays
// pending and nothing is delivered).
//
// Deliveries that come while nobody waits are kept, counted per signal (the
// kernel itself merges a standard signal sent twice before it is handled).
// next() returns them one by one, lowest signal number first.
//
// POSIX (Linux here). On Windows, console control events stand in: Ctrl-C
// is SIGINT, Ctrl-Break SIGBREAK, the console closing SIGTERM; no other
// signal can be waited for (docs/os.md). With the portable fallback reactor
// this package is not built.
#ifndef NANORUN_SIGNAL_SIGNAL_H_
#define NANORUN_SIGNAL_SIGNAL_H_

#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "nanorun/future/future.h"
#include "nanorun/future/runtime.h"

namespace nanorun {
inline namespace v0 {
namespace signal {

namespace detail {
class SignalsCore;
}

// Receives POSIX signals (and Ctrl-C/Ctrl-Break on Windows) as futures on a
// runtime, instead of in a signal handler: each delivery is taken by one
// next(). Copies share one listener; close(), or dropping the last copy,
// stops listening.
class Signals {
 public:
  // Starts listening on the calling worker's runtime (or `handle`'s). A bad
  // signal number (not a signal, SIGKILL, SIGSTOP, a fault signal such as
  // SIGSEGV), no runtime, or too many listeners is reported by status(), and
  // next() fails with it.
  explicit Signals(std::vector<int> signals);
  Signals(std::vector<int> signals, const Handle& handle);

  // OK, or why listening could not start (next() fails with the same).
  absl::Status status() const;
  // The next delivery's signal number. Stopped (dropped, timed out): it takes
  // no delivery (the next next() gets it). Cancel-safe.
  Future<int> next() const;
  // Stops listening: pending and later next() fail with CancelledError, and
  // the signals go back to their earlier disposition if nobody else listens.
  // Dropping the last copy does the same.
  void close() const;

 private:
  std::shared_ptr<detail::SignalsCore> core_;
  absl::Status error_;
};

// Completes at the next SIGINT (Ctrl-C), on the calling worker's runtime (or
// `handle`'s). While it waits, Ctrl-C does not kill the process; once it
// completed (or was dropped), the earlier disposition is back.
Future<void> ctrl_c();
Future<void> ctrl_c(const Handle& handle);

}  // namespace signal
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_SIGNAL_SIGNAL_H_
