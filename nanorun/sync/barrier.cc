// Barrier's core: counting arrivals of a round, releasing it, and the stop
// hook that takes a wait out of the round (see barrier.h).
#include "nanorun/sync/barrier.h"

#include <mutex>
#include <utility>

#include "absl/status/status.h"

namespace nanorun {
inline namespace v0 {
namespace sync {

Barrier::Barrier(size_t n) : core_(std::make_shared<detail::BarrierCore>(n)) {}
Future<bool> Barrier::wait() const { return core_->wait(); }
size_t Barrier::waiting() const { return core_->waiting(); }

namespace detail {

Future<bool> BarrierCore::wait() {
  // Allocated before the lock: most waits wait. The leader frees it unused.
  BarrierWaiter* w = BarrierWaiter::Create(shared_from_this(), &OnStop);
  WaiterLinks* released;
  {
    std::lock_guard<sys::SpinLock> lock(mu_);
    if (arrived_ + 1 < n_) {
      waiters_.push_back(w);
      task::NoteWait(task::WaitKind::kLock);  // For Handle::dump().
      ++arrived_;
      return nanorun::detail::FutureAccess::from_state<bool>(w);
    }
    arrived_ = 0;
    released = waiters_.claim_all();  // One being stopped is left to its hook.
  }
  w->discard();
  while (released != nullptr) {
    WaiterLinks* next = released->next;
    BarrierWaiter* r = BarrierWaiter::from_links(released);
    std::shared_ptr<BarrierCore> keep = std::move(r->core);
    (void)r->settle(false);
    released = next;
  }
  return make_ready_future(true);
}

size_t BarrierCore::waiting() const {
  std::lock_guard<sys::SpinLock> lock(mu_);
  return arrived_;
}

nanorun::detail::StopStep BarrierCore::OnStop(nanorun::detail::StateBase* state) {
  BarrierWaiter* w = BarrierWaiter::from_state(state);
  if (w->claim_for_stop()) {
    std::shared_ptr<BarrierCore> core = std::move(w->core);
    {
      std::lock_guard<sys::SpinLock> lock(core->mu_);
      core->waiters_.unlink(w);  // Its arrival stays counted (barrier.h).
    }
    (void)w->settle(absl::CancelledError(
        "Barrier::wait: stopped before its round completed (its future was dropped, a "
        "timeout passed, or its task was aborted); its arrival still counts"));
  }
  // Otherwise its round was released and it settles now.
  return nanorun::detail::StopStep{nullptr, nullptr, /*stoppable=*/true};
}

}  // namespace detail
}  // namespace sync
}  // namespace v0
}  // namespace nanorun
