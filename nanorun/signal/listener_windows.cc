// The Windows listener behind nanorun::signal::Signals: console control
// events as signals. Ctrl-C is SIGINT, Ctrl-Break SIGBREAK, and the console
// closing (or logoff, shutdown) SIGTERM. An event nobody listens to is left
// to the next handler (by default the process ends), as if no handler were
// installed.
//
// Windows runs the control handler on a thread it creates for the event, so
// the handler only counts the event in atomics and sets an event object; a
// dispatcher thread of ours (started with the first listener, never joined:
// it sleeps until process exit) counts it for each listener and wakes it
// through a sync::Notify. Doing that work on the system's thread made the
// thread take nanorun's and Abseil's per-thread state, whose destructors
// then run in that thread's exit under the loader lock; under Wine such a
// thread was seen never to finish exiting, and every later thread exit (the
// runtime's workers at shutdown) waited behind it forever.
#include <windows.h>

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "nanorun/signal/listener.h"
#include "nanorun/sync/notify.h"

namespace nanorun {
inline namespace v0 {
namespace signal {
namespace detail {

// How many open listeners want each signal (index SignalIndex), read by the
// console handler to decide whether the event is taken.
std::atomic<int> g_wanting[3];

int SignalIndex(int sig) { return sig == SIGINT ? 0 : sig == SIGTERM ? 1 : 2; }
constexpr int kSignalOfIndex[3] = {SIGINT, SIGTERM, SIGBREAK};

class SignalsCore {
 public:
  explicit SignalsCore(std::vector<int> signals) : signals_(std::move(signals)) {
    std::sort(signals_.begin(), signals_.end());
    signals_.erase(std::unique(signals_.begin(), signals_.end()), signals_.end());
    for (int sig : signals_) g_wanting[SignalIndex(sig)].fetch_add(1, std::memory_order_acq_rel);
  }
  ~SignalsCore() { mark_closed(); }

  // Counts `n` deliveries of `sig` if this listener wants it and is not
  // closed. Under the hub's lock.
  bool count_if_wanted(int sig, unsigned n) {
    if (std::find(signals_.begin(), signals_.end(), sig) == signals_.end()) return false;
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return false;
    pending_[SignalIndex(sig)] += n;
    return true;
  }
  // The next counted event (lowest signal number first), 0 if none, -1 once closed.
  int take() {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return -1;
    for (int sig : {SIGINT, SIGTERM, SIGBREAK}) {
      if (pending_[SignalIndex(sig)] > 0) {
        --pending_[SignalIndex(sig)];
        return sig;
      }
    }
    return 0;
  }
  // Once: it stops wanting its signals (a closed listener must not swallow
  // Ctrl-C: the default, ending the process, comes back).
  void mark_closed() {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    closed_ = true;
    for (int sig : signals_) g_wanting[SignalIndex(sig)].fetch_sub(1, std::memory_order_acq_rel);
  }
  sync::Notify& notify() { return notify_; }

 private:
  std::vector<int> signals_;  // Sorted, each once.
  std::mutex mu_;
  unsigned pending_[3] = {0, 0, 0};  // Guarded by mu_.
  bool closed_ = false;              // Guarded by mu_.
  sync::Notify notify_;
};

namespace {

std::mutex g_mu;
std::vector<std::weak_ptr<SignalsCore>> g_listeners;  // Guarded by g_mu.
bool g_installed = false;                            // Guarded by g_mu.
// Events the handler took and the dispatcher has not handed out yet.
std::atomic<unsigned> g_raised[3];
HANDLE g_raised_event = nullptr;  // Auto-reset; set once g_installed.

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

// On the system's thread: atomics and SetEvent only (see the top of the file).
BOOL WINAPI OnConsoleEvent(DWORD event) {
  int index = SignalIndex(SignalOf(event));
  if (g_wanting[index].load(std::memory_order_acquire) == 0) {
    return FALSE;  // Nobody listens: the default (the process ends).
  }
  g_raised[index].fetch_add(1, std::memory_order_acq_rel);
  SetEvent(g_raised_event);
  return TRUE;
}

// The dispatcher thread: hands each taken event to every listener that
// wants it. A listener closed in between misses it (it no longer listens).
void DispatchForever() {
  for (;;) {
    WaitForSingleObject(g_raised_event, INFINITE);
    for (int index = 0; index < 3; ++index) {
      unsigned n = g_raised[index].exchange(0, std::memory_order_acq_rel);
      if (n == 0) continue;
      std::vector<std::shared_ptr<SignalsCore>> woken;
      {
        std::lock_guard<std::mutex> lock(g_mu);
        for (const auto& weak : g_listeners) {
          std::shared_ptr<SignalsCore> core = weak.lock();
          if (core != nullptr && core->count_if_wanted(kSignalOfIndex[index], n)) {
            woken.push_back(std::move(core));
          }
        }
      }
      for (const auto& core : woken) core->notify().notify_one();
    }
  }
}

// Under g_mu, until it succeeds.
absl::Status Install() {
  if (g_raised_event == nullptr) {
    g_raised_event = CreateEventW(nullptr, FALSE, FALSE, nullptr);
    if (g_raised_event == nullptr) {
      return absl::InternalError(
          absl::StrCat("Signals: CreateEvent failed (error ", GetLastError(), ")"));
    }
    std::thread(&DispatchForever).detach();
  }
  if (!SetConsoleCtrlHandler(&OnConsoleEvent, TRUE)) {
    return absl::InternalError(
        absl::StrCat("Signals: SetConsoleCtrlHandler failed (error ", GetLastError(), ")"));
  }
  return absl::OkStatus();
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
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_installed) {
    absl::Status installed = Install();
    if (!installed.ok()) return installed;
    g_installed = true;
  }
  auto core = std::make_shared<SignalsCore>(signals);
  g_listeners.erase(std::remove_if(g_listeners.begin(), g_listeners.end(),
                                   [](const std::weak_ptr<SignalsCore>& w) { return w.expired(); }),
                    g_listeners.end());
  g_listeners.push_back(core);
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
  // Counted before notified (DispatchForever), and Notify keeps a permit for a
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
