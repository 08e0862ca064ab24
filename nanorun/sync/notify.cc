// Notify's core: the permit, the FIFO of waiters, and the stop hook that takes
// a waiter out (see notify.h and wait_list.h).
#include "nanorun/sync/notify.h"

#include <mutex>
#include <utility>

#include "absl/status/status.h"

namespace nanorun {
inline namespace v0 {
namespace sync {

Notify::Notify() : core_(std::make_shared<detail::NotifyCore>()) {}
void Notify::notify_one() const { core_->notify_one(); }
void Notify::notify_all() const { core_->notify_all(); }
Future<void> Notify::notified() const { return core_->notified(); }

namespace detail {

Future<void> NotifyCore::notified() {
  NotifyWaiter* w = NotifyWaiter::Create(shared_from_this(), &OnStop);
  bool had_permit;
  {
    std::lock_guard<sys::SpinLock> lock(mu_);
    had_permit = permit_;
    if (had_permit) {
      permit_ = false;
    } else {
      waiters_.push_back(w);
      task::NoteWait(task::WaitKind::kLock);  // For Handle::dump().
    }
  }
  if (had_permit) {
    w->discard();
    return make_ready_future();
  }
  return nanorun::detail::FutureAccess::from_state<void>(w);
}

void NotifyCore::notify_one() {
  for (;;) {
    NotifyWaiter* picked = nullptr;
    {
      std::lock_guard<sys::SpinLock> lock(mu_);
      for (WaiterLinks* l = waiters_.front(); l != nullptr; l = l->next) {
        if (l->claim()) {  // One being stopped is left to its hook.
          waiters_.unlink(l);
          picked = NotifyWaiter::from_links(l);
          break;
        }
      }
      if (picked == nullptr) {
        permit_ = true;
        return;
      }
    }
    std::shared_ptr<NotifyCore> keep = std::move(picked->core);
    uint32_t old = picked->settle(absl::OkStatus());
    // Its consumer had dropped it before the notification came: the
    // notification was not received, so it goes on to the next waiter.
    if (!(old & nanorun::detail::StateBase::kConsumerGone)) return;
  }
}

void NotifyCore::notify_all() {
  WaiterLinks* woken;
  {
    std::lock_guard<sys::SpinLock> lock(mu_);
    woken = waiters_.claim_all();
  }
  NotifyWaiter::settle_all(woken, absl::OkStatus());
}

nanorun::detail::StopStep NotifyCore::OnStop(nanorun::detail::StateBase* state) {
  NotifyWaiter* w = NotifyWaiter::from_state(state);
  if (w->claim_for_stop()) {
    std::shared_ptr<NotifyCore> core = std::move(w->core);
    {
      std::lock_guard<sys::SpinLock> lock(core->mu_);
      core->waiters_.unlink(w);
    }
    (void)w->settle(absl::CancelledError(
        "Notify::notified: stopped while it waited (its future was dropped, a timeout "
        "passed, or its task was aborted); it took no notification"));
  }
  return nanorun::detail::StopStep{nullptr, nullptr, /*stoppable=*/true};
}

}  // namespace detail
}  // namespace sync
}  // namespace v0
}  // namespace nanorun
