// The Windows listener behind nanorun::signal::Signals: console control
// events as signals. Ctrl-C is SIGINT, Ctrl-Break SIGBREAK, and the console
// closing (or logoff, shutdown) SIGTERM. Windows runs the control handler on
// a thread of its own, not in signal context, so the handler takes a lock,
// counts the event for each listener and wakes it through a sync::Notify.
// An event nobody listens to is left to the next handler (by default the
// process ends), as if no handler were installed.
#include <windows.h>

#include <signal.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/strings/str_cat.h"
#include "nanorun/signal/listener.h"
#include "nanorun/sync/notify.h"

namespace nanorun {
inline namespace v0 {
namespace signal {
namespace detail {

class SignalsCore {
 public:
  explicit SignalsCore(std::vector<int> signals) : signals_(std::move(signals)) {}

  // Counts `sig` if this listener wants it and is not closed (a closed one
  // must not swallow Ctrl-C: the default, ending the process, comes back).
  // Under the hub's lock.
  bool count_if_wanted(int sig) {
    if (std::find(signals_.begin(), signals_.end(), sig) == signals_.end()) return false;
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return false;
    ++pending_[Index(sig)];
    return true;
  }
  // The next counted event (lowest signal number first), 0 if none, -1 once closed.
  int take() {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return -1;
    for (int sig : {SIGINT, SIGTERM, SIGBREAK}) {
      if (pending_[Index(sig)] > 0) {
        --pending_[Index(sig)];
        return sig;
      }
    }
    return 0;
  }
  void mark_closed() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  sync::Notify& notify() { return notify_; }

 private:
  static int Index(int sig) { return sig == SIGINT ? 0 : sig == SIGTERM ? 1 : 2; }
  const std::vector<int> signals_;
  std::mutex mu_;
  unsigned pending_[3] = {0, 0, 0};  // Guarded by mu_.
  bool closed_ = false;              // Guarded by mu_.
  sync::Notify notify_;
};

namespace {

std::mutex g_mu;
std::vector<std::weak_ptr<SignalsCore>> g_listeners;  // Guarded by g_mu.
bool g_installed = false;                            // Guarded by g_mu.

int SignalOf(DWORD event) {
  switch (event) {
    case CTRL_C_EVENT:
      return SIGINT;
    case CTRL_BREAK_EVENT:
      return SIGBREAK;
    default:  // CTRL_CLOSE_EVENT, CTRL_LOGOFF_EVENT, CTRL_SHUTDOWN_EVENT.
      return SIGTERM;
  }
}

BOOL WINAPI OnConsoleEvent(DWORD event) {
  int sig = SignalOf(event);
  std::vector<std::shared_ptr<SignalsCore>> woken;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    for (const auto& weak : g_listeners) {
      std::shared_ptr<SignalsCore> core = weak.lock();
      if (core != nullptr && core->count_if_wanted(sig)) woken.push_back(std::move(core));
    }
  }
  for (const auto& core : woken) core->notify().notify_one();
  return woken.empty() ? FALSE : TRUE;  // Nobody listens: the default (the process ends).
}

}  // namespace

absl::Status OpenListener(executor::Executor*, const std::vector<int>& signals,
                          std::shared_ptr<SignalsCore>* out) {
  for (int sig : signals) {
    if (sig != SIGINT && sig != SIGTERM && sig != SIGBREAK) {
      return absl::InvalidArgumentError(absl::StrCat(
          "signal ", sig, ": on Windows only SIGINT (Ctrl-C), SIGBREAK (Ctrl-Break) and "
          "SIGTERM (the console closing) can be waited for"));
    }
  }
  auto core = std::make_shared<SignalsCore>(signals);
  {
    std::lock_guard<std::mutex> lock(g_mu);
    g_listeners.erase(std::remove_if(g_listeners.begin(), g_listeners.end(),
                                     [](const std::weak_ptr<SignalsCore>& w) { return w.expired(); }),
                      g_listeners.end());
    g_listeners.push_back(core);
    if (!g_installed) {
      if (!SetConsoleCtrlHandler(&OnConsoleEvent, TRUE)) {
        return absl::InternalError(
            absl::StrCat("Signals: SetConsoleCtrlHandler failed (error ", GetLastError(), ")"));
      }
      g_installed = true;
    }
  }
  *out = std::move(core);
  return absl::OkStatus();
}

Future<int> NextSignal(const std::shared_ptr<SignalsCore>& core) {
  int sig = core->take();
  if (sig < 0) {
    return make_error_future<int>(
        absl::CancelledError("Signals::next: the Signals was closed"));
  }
  if (sig > 0) return make_ready_future(sig);
  // Counted before notified (OnConsoleEvent), and Notify keeps a permit for a
  // wake nobody waited for, so an event between take() and here is not lost.
  return core->notify().notified().then([core] { return NextSignal(core); });
}

bool DeliverConsoleEventForTest(unsigned long event) {
  return OnConsoleEvent(static_cast<DWORD>(event)) == TRUE;
}

void CloseListener(SignalsCore& core) {
  core.mark_closed();
  core.notify().notify_all();
  // Later events find it closed (it stays in the list until it expires).
}

}  // namespace detail
}  // namespace signal
}  // namespace v0
}  // namespace nanorun
