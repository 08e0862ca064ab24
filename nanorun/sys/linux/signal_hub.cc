// POSIX signal hub (see signal_hub.h): sigaction handlers that count per
// listener and wake through a pipe.
#include "nanorun/sys/signal_hub.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <atomic>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "nanorun/sys/socket.h"

namespace nanorun {
inline namespace v0 {
namespace sys {
namespace {

constexpr int kMaxSignal = 65;  // Signal numbers are 1..64 on Linux (NSIG - 1).

struct Slot {
  std::atomic<bool> active{false};
  std::atomic<bool> wants[kMaxSignal];  // Static storage: zero-initialized.
  std::atomic<uint32_t> pending[kMaxSignal];
  std::atomic<int> pipe_write{-1};  // Made once, never closed.
  int pipe_read = -1;               // Guarded by g_mu; never closed.
};

Slot g_slots[kMaxSignalListeners];
std::mutex g_mu;                                 // Adding and removing listeners.
int g_listeners_of[kMaxSignal] = {};             // Guarded by g_mu.
struct sigaction g_previous[kMaxSignal];         // Guarded by g_mu: restored by the last.

// Signal context: only atomics and write(2).
void OnSignal(int sig) {
  int saved_errno = errno;
  if (sig > 0 && sig < kMaxSignal) {
    for (Slot& slot : g_slots) {
      if (!slot.active.load(std::memory_order_acquire)) continue;
      if (!slot.wants[sig].load(std::memory_order_relaxed)) continue;
      slot.pending[sig].fetch_add(1, std::memory_order_release);
      int fd = slot.pipe_write.load(std::memory_order_relaxed);
      char byte = static_cast<char>(sig);
      ssize_t ignored = write(fd, &byte, 1);  // EAGAIN: a byte is there already.
      (void)ignored;
    }
  }
  errno = saved_errno;
}

absl::Status MakePipe(Slot* slot) {
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return ErrnoStatus(errno, "signal: pipe2");
  slot->pipe_read = fds[0];
  slot->pipe_write.store(fds[1], std::memory_order_relaxed);
  return absl::OkStatus();
}

void Drain(int fd) {
  char buf[256];
  while (read(fd, buf, sizeof(buf)) > 0) {
  }
}

}  // namespace

absl::Status CheckListenableSignal(int sig) {
  if (sig <= 0 || sig >= kMaxSignal) {
    return absl::InvalidArgumentError(
        absl::StrCat("signal ", sig, ": not a signal number (1..", kMaxSignal - 1, ")"));
  }
  if (sig == SIGKILL || sig == SIGSTOP) {
    return absl::InvalidArgumentError(absl::StrCat(
        "signal ", sig, " (", strsignal(sig), "): it cannot be caught, so it cannot be waited for"));
  }
  if (sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL || sig == SIGTRAP ||
      sig == SIGSYS) {
    return absl::InvalidArgumentError(absl::StrCat(
        "signal ", sig, " (", strsignal(sig),
        "): it reports a fault in the thread that raised it; a handler that returns would "
        "run the faulting code again"));
  }
  return absl::OkStatus();
}

absl::StatusOr<SignalListener> AddSignalListener(const std::vector<int>& signals) {
  for (int sig : signals) {
    absl::Status ok = CheckListenableSignal(sig);
    if (!ok.ok()) return ok;
  }
  std::lock_guard<std::mutex> lock(g_mu);
  int index = -1;
  for (int i = 0; i < kMaxSignalListeners; ++i) {
    if (!g_slots[i].active.load(std::memory_order_relaxed)) {
      index = i;
      break;
    }
  }
  if (index < 0) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "signal: ", kMaxSignalListeners,
        " listeners exist already; share one Signals between the tasks that need it"));
  }
  Slot& slot = g_slots[index];
  if (slot.pipe_read < 0) {
    absl::Status made = MakePipe(&slot);
    if (!made.ok()) return made;
  }
  int wake = fcntl(slot.pipe_read, F_DUPFD_CLOEXEC, 0);
  if (wake < 0) return ErrnoStatus(errno, "signal: dup");
  // A slot used before may hold counts and bytes of its last listener.
  Drain(slot.pipe_read);
  for (int s = 0; s < kMaxSignal; ++s) {
    slot.wants[s].store(false, std::memory_order_relaxed);
    slot.pending[s].store(0, std::memory_order_relaxed);
  }
  for (int sig : signals) slot.wants[sig].store(true, std::memory_order_relaxed);
  slot.active.store(true, std::memory_order_release);
  for (int sig : signals) {
    if (g_listeners_of[sig]++ > 0) continue;
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = &OnSignal;
    sigfillset(&action.sa_mask);      // One handler at a time per thread.
    action.sa_flags = SA_RESTART;     // Other threads' syscalls are not interrupted.
    sigaction(sig, &action, &g_previous[sig]);
  }
  return SignalListener{index, wake};
}

void RemoveSignalListener(int slot_index) {
  if (slot_index < 0 || slot_index >= kMaxSignalListeners) return;
  std::lock_guard<std::mutex> lock(g_mu);
  Slot& slot = g_slots[slot_index];
  if (!slot.active.load(std::memory_order_relaxed)) return;
  slot.active.store(false, std::memory_order_release);
  for (int sig = 1; sig < kMaxSignal; ++sig) {
    if (!slot.wants[sig].load(std::memory_order_relaxed)) continue;
    slot.wants[sig].store(false, std::memory_order_relaxed);
    if (--g_listeners_of[sig] == 0) sigaction(sig, &g_previous[sig], nullptr);
  }
}

int TakeSignal(int slot_index, int wake_fd) {
  Slot& slot = g_slots[slot_index];
  for (int round = 0; round < 2; ++round) {
    for (int sig = 1; sig < kMaxSignal; ++sig) {
      std::atomic<uint32_t>& count = slot.pending[sig];
      uint32_t n = count.load(std::memory_order_acquire);
      while (n > 0) {
        if (count.compare_exchange_weak(n, n - 1, std::memory_order_acq_rel)) return sig;
      }
    }
    if (round == 0) Drain(wake_fd);  // Then look again (see signal_hub.h).
  }
  return 0;
}

}  // namespace sys
}  // namespace v0
}  // namespace nanorun
