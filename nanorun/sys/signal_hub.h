// The process-wide half of nanorun::signal: one handler per signal number,
// installed with sigaction while some listener wants that signal, which
// only counts the delivery for each listener and writes a byte to the
// listener's wake pipe (both async-signal-safe). No user code ever runs in
// signal context: the listener's future reads the count on a worker.
//
// A listener is a slot (at most kMaxSignalListeners at once). Each slot's
// pipe is made once and never closed, so a handler still running on another
// thread while its listener goes away writes to that slot's own pipe, never
// to an fd number that was reused. The listener reads a dup() of the read
// end, which it owns.
//
// When the last listener of a signal goes, the disposition that was there
// before the first one came back (SIG_DFL, SIG_IGN or a handler of yours).
// POSIX only (Linux here); Windows has no such signals (see
// docs/os.md).
#ifndef NANORUN_SYS_SIGNAL_HUB_H_
#define NANORUN_SYS_SIGNAL_HUB_H_

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace nanorun {
inline namespace v0 {
namespace sys {

constexpr int kMaxSignalListeners = 64;

// InvalidArgument, with the reason, for a number that is not a signal, one
// that cannot be caught (SIGKILL, SIGSTOP), or one that reports a fault in
// the thread that raised it (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS).
absl::Status CheckListenableSignal(int sig);

struct SignalListener {
  int slot = -1;
  int wake_fd = -1;  // A dup of the slot pipe's read end: the caller owns and closes it.
};
// Starts counting deliveries of `signals` (each checked as above) for a new
// listener. ResourceExhausted past kMaxSignalListeners.
absl::StatusOr<SignalListener> AddSignalListener(const std::vector<int>& signals);
// Stops counting for `slot`, restoring each signal's earlier disposition if
// no listener wants it any more. Deliveries not taken are forgotten.
void RemoveSignalListener(int slot);
// Takes one counted delivery for `slot` (the lowest signal number first):
// its number, or 0 if there is none. When there is none, the wake pipe is
// drained first and the counts looked at again, so a delivery that raced the
// look is never missed: it either is counted by then or its byte comes later.
int TakeSignal(int slot, int wake_fd);

}  // namespace sys
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_SYS_SIGNAL_HUB_H_
