// The portable reactor for targets with neither epoll nor IOCP: a mutex and a
// condition variable. It supports parking and cross-thread wakes (and so
// timers), but no I/O; nanorun::net is not built on such targets.
#include "absl/synchronization/mutex.h"
#include "nanorun/reactor/backends.h"
#include "nanorun/reactor/reactor.h"

namespace nanorun {
inline namespace v0 {
namespace reactor {
namespace {

class FallbackReactor final : public Reactor {
 public:
  void park(absl::Duration timeout) override {
    absl::MutexLock lock(&mu_);
    if (!woken_) {
      // One wait: spurious returns are allowed by the contract.
      cv_.WaitWithTimeout(&mu_, timeout);
    }
    woken_ = false;
  }

  void wake() override {
    absl::MutexLock lock(&mu_);
    woken_ = true;
    cv_.Signal();
  }

  const char* name() const override { return "fallback"; }

 private:
  absl::Mutex mu_;
  absl::CondVar cv_;
  bool woken_ = false;  // Guarded by mu_: a wake that no park has seen yet.
};

}  // namespace

absl::Status Reactor::Create(const Choice& choice, std::unique_ptr<Reactor>* out) {
  absl::Status allowed = OnlyBackendHere(
      choice,
      "this build's reactor is the portable fallback (no epoll or io_uring: built with "
      "--define=nanorun_reactor=fallback, or not on Linux)");
  if (!allowed.ok()) return allowed;
  *out = std::make_unique<FallbackReactor>();
  return absl::OkStatus();
}

}  // namespace reactor
}  // namespace v0
}  // namespace nanorun
