// Signals and ctrl_c over the platform's listener (listener.h): a sigaction
// handler and a pipe on POSIX, the console control handler on Windows.
#include "nanorun/signal/signal.h"

#include <signal.h>

#include <utility>

#include "nanorun/net/tcp.h"
#include "nanorun/signal/listener.h"

namespace nanorun {
inline namespace v0 {
namespace signal {

Signals::Signals(std::vector<int> signals) {
  executor::Executor* e = net::detail::RuntimeFor(nullptr, "Signals", &error_);
  if (e != nullptr) error_ = detail::OpenListener(e, signals, &core_);
}

Signals::Signals(std::vector<int> signals, const Handle& handle) {
  executor::Executor* e = net::detail::RuntimeFor(&handle, "Signals", &error_);
  if (e != nullptr) error_ = detail::OpenListener(e, signals, &core_);
}

absl::Status Signals::status() const { return error_; }

Future<int> Signals::next() const {
  if (!error_.ok()) return make_error_future<int>(error_);
  if (core_ == nullptr) {
    return make_error_future<int>(absl::FailedPreconditionError("Signals::next: moved from"));
  }
  return detail::NextSignal(core_);
}

void Signals::close() const {
  if (core_ != nullptr) detail::CloseListener(*core_);
}

Future<void> ctrl_c() {
  Signals s({SIGINT});
  return s.next().then([s](int) {});
}

Future<void> ctrl_c(const Handle& handle) {
  Signals s({SIGINT}, handle);
  return s.next().then([s](int) {});
}

}  // namespace signal
}  // namespace v0
}  // namespace nanorun
