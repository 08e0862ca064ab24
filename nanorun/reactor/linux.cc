// Linux's Reactor::Create: epoll or io_uring, as the runtime asked (see
// reactor.h's Backend): kDefault is epoll for now, kAuto prefers io_uring
// where it can run.
#include <atomic>
#include <string>

#include "absl/strings/str_cat.h"
#include "nanorun/reactor/backends.h"
#include "nanorun/sys/linux/uring.h"

namespace nanorun {
inline namespace v0 {
namespace reactor {
namespace {

// Probed once per process: a seccomp policy or a kernel does not change
// while it runs.
const absl::Status& UringUsable() {
  static const absl::Status* const usable = new absl::Status(sys::Uring::Probe());
  return *usable;
}

std::atomic<bool> g_fallback_logged{false};

}  // namespace

absl::Status Reactor::Create(const Choice& choice, std::unique_ptr<Reactor>* out) {
  absl::StatusOr<Backend> wanted = RequestedBackend(choice.backend);
  if (!wanted.ok()) return wanted.status();
  if (*wanted == Backend::kEpoll || *wanted == Backend::kDefault) return CreateEpollReactor(out);
  absl::Status usable = UringUsable();
  if (*wanted == Backend::kUring) {
    if (!usable.ok()) {
      return absl::UnavailableError(absl::StrCat(
          "the io_uring reactor was asked for (RuntimeOptions::reactor or NANORUN_REACTOR) but "
          "cannot run here: ",
          usable.message(), "; ask for epoll or auto instead"));
    }
    return CreateUringReactor(out);
  }
  if (usable.ok()) {
    usable = CreateUringReactor(out);
    // A bad setting (NANORUN_URING_SOCKET_OPS) is the caller's to fix, not
    // a reason to fall back.
    if (usable.ok() || absl::IsInvalidArgument(usable)) return usable;
  }
  if (!g_fallback_logged.exchange(true, std::memory_order_relaxed)) {
    Log(choice, absl::StrCat("io_uring is not usable (", usable.message(),
                             "): the reactor is epoll"));
  }
  return CreateEpollReactor(out);
}

}  // namespace reactor
}  // namespace v0
}  // namespace nanorun
