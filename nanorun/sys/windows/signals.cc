// Windows: Ctrl-C / Ctrl-Break / console close through a console control
// handler, reported as SIGINT (2) or SIGTERM (15) like on POSIX.
#include "nanorun/sys/signals.h"

#include <windows.h>

#include <condition_variable>
#include <mutex>

namespace nanorun {
inline namespace v0 {
namespace sys {
namespace {

std::mutex g_mu;
std::condition_variable g_cv;
int g_signal = 0;

BOOL WINAPI OnConsoleEvent(DWORD event) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_signal = event == CTRL_C_EVENT ? 2 : 15;
  g_cv.notify_all();
  return TRUE;  // Handled: WaitForTerminationSignal's caller shuts down.
}

}  // namespace

void BlockTerminationSignals() { SetConsoleCtrlHandler(&OnConsoleEvent, TRUE); }

int WaitForTerminationSignal() {
  std::unique_lock<std::mutex> lock(g_mu);
  g_cv.wait(lock, [] { return g_signal != 0; });
  return g_signal;
}

}  // namespace sys
}  // namespace v0
}  // namespace nanorun
