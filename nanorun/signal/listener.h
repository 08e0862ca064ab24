// What signal.cc needs of a platform's signal listener (listener_posix.cc,
// listener_windows.cc). Internal to nanorun/signal.
#ifndef NANORUN_SIGNAL_LISTENER_H_
#define NANORUN_SIGNAL_LISTENER_H_

#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "nanorun/executor/executor.h"
#include "nanorun/future/future.h"

namespace nanorun {
inline namespace v0 {
namespace signal {
namespace detail {

class SignalsCore;  // Defined by each platform's listener.

// Starts listening for `signals` on `e`: InvalidArgument for a signal this
// platform cannot deliver, ResourceExhausted past its listener limit.
absl::Status OpenListener(executor::Executor* e, const std::vector<int>& signals,
                          std::shared_ptr<SignalsCore>* out);
// The next delivery (cancel-safe: a stopped one takes none).
Future<int> NextSignal(const std::shared_ptr<SignalsCore>& core);
// Pending and later NextSignal calls fail with CancelledError; the
// platform's default comes back for signals nobody else listens to.
void CloseListener(SignalsCore& core);

#if defined(_WIN32)
// Tests: runs the console control handler for `event` (CTRL_C_EVENT, ...) as
// Windows would on its own thread; true when some listener took it.
bool DeliverConsoleEventForTest(unsigned long event);
#endif

}  // namespace detail
}  // namespace signal
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_SIGNAL_LISTENER_H_
