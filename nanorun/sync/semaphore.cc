// The semaphore's core: the FIFO of waiting acquires, grants, close, and the
// stop hook that takes a waiter out (see semaphore.h).
#include "nanorun/sync/semaphore.h"

#include <mutex>
#include <new>
#include <utility>

#include "absl/status/status.h"
#include "nanorun/task/block_cache.h"

namespace nanorun {
inline namespace v0 {
namespace sync {

Semaphore::Semaphore(size_t permits)
    : core_(std::make_shared<detail::SemaphoreCore>(permits)) {}

Future<SemaphorePermit> Semaphore::acquire(size_t n) const { return core_->acquire(n); }
std::optional<SemaphorePermit> Semaphore::try_acquire(size_t n) const {
  return core_->try_acquire(n);
}
void Semaphore::add_permits(size_t n) const {
  if (n > 0) core_->release(n);
}
size_t Semaphore::available_permits() const { return core_->available(); }
void Semaphore::close() const { core_->close(); }
bool Semaphore::is_closed() const { return core_->closed(); }

void SemaphorePermit::release() {
  size_t n = std::exchange(count_, 0);
  std::shared_ptr<detail::SemaphoreCore> core = std::move(core_);
  if (core != nullptr && n > 0) core->release(n);
}

namespace detail {
namespace {

absl::Status ClosedError() {
  return absl::FailedPreconditionError(
      "Semaphore::acquire: the semaphore is closed (close() was called)");
}

}  // namespace

// No waiter can be queued here: each holds a reference to the core.
SemaphoreCore::~SemaphoreCore() = default;

Future<SemaphorePermit> SemaphoreCore::acquire(size_t n) {
  if (n == 0) {
    return make_error_future<SemaphorePermit>(absl::InvalidArgumentError(
        "Semaphore::acquire(0): ask for at least one permit"));
  }
  {
    std::lock_guard<sys::SpinLock> lock(mu_);
    if (closed_) return make_error_future<SemaphorePermit>(ClosedError());
    if (waiters_.empty() && permits_ >= n) {
      permits_ -= n;
      return make_ready_future(SemaphorePermit(shared_from_this(), n));
    }
  }
  // Allocated outside the lock; the permits may have come back meanwhile, so
  // the grant loop runs once it is queued.
  PermitWaiter* w = PermitWaiter::Create(shared_from_this(), n, &OnStop);
  WaiterLinks* granted = nullptr;
  bool closed;
  {
    std::lock_guard<sys::SpinLock> lock(mu_);
    closed = closed_;
    if (!closed) {
      waiters_.push_back(w);
      grant_locked(&granted);
    }
  }
  if (closed) {
    w->discard();
    return make_error_future<SemaphorePermit>(ClosedError());
  }
  Future<SemaphorePermit> out = Future<SemaphorePermit>::FromState(w);
  settle_granted(granted);  // May be `w` itself: its future is ready then.
  return out;
}

std::optional<SemaphorePermit> SemaphoreCore::try_acquire(size_t n) {
  if (n == 0) return std::nullopt;
  std::lock_guard<sys::SpinLock> lock(mu_);
  if (closed_ || !waiters_.empty() || permits_ < n) return std::nullopt;
  permits_ -= n;
  return SemaphorePermit(shared_from_this(), n);
}

void SemaphoreCore::release(size_t n) {
  WaiterLinks* granted = nullptr;
  {
    std::lock_guard<sys::SpinLock> lock(mu_);
    permits_ += n;
    grant_locked(&granted);
  }
  settle_granted(granted);
}

void SemaphoreCore::close() {
  WaiterLinks* claimed;
  {
    std::lock_guard<sys::SpinLock> lock(mu_);
    closed_ = true;
    claimed = waiters_.claim_all();  // One being stopped is left to its hook.
  }
  PermitWaiter::settle_all(claimed, ClosedError());
}

size_t SemaphoreCore::available() const {
  std::lock_guard<sys::SpinLock> lock(mu_);
  return permits_;
}

bool SemaphoreCore::closed() const {
  std::lock_guard<sys::SpinLock> lock(mu_);
  return closed_;
}

void SemaphoreCore::grant_locked(WaiterLinks** granted) {
  WaiterLinks** tail = granted;
  while (*tail != nullptr) tail = &(*tail)->next;
  for (WaiterLinks* l = waiters_.front(); l != nullptr;) {
    WaiterLinks* next = l->next;
    if (l->stopping()) {
      l = next;  // Leaving: its hook unlinks it.
      continue;
    }
    PermitWaiter* w = PermitWaiter::from_links(l);
    if (permits_ < w->n) break;  // FIFO: nobody passes the first waiter.
    if (w->claim()) {
      permits_ -= w->n;
      waiters_.unlink(w);
      *tail = w;
      tail = &w->next;
    }
    l = next;
  }
}

void SemaphoreCore::settle_granted(WaiterLinks* granted) {
  while (granted != nullptr) {
    WaiterLinks* next = granted->next;
    PermitWaiter* w = PermitWaiter::from_links(granted);
    // The waiter's core reference becomes the permit's.
    SemaphorePermit permit(std::move(w->core), w->n);
    w->settle(std::move(permit));
    granted = next;
  }
}

nanorun::detail::StopStep SemaphoreCore::OnStop(nanorun::detail::StateBase* state) {
  PermitWaiter* w = PermitWaiter::from_state(state);
  if (w->claim_for_stop()) {
    // Still queued, so its core reference keeps the core alive; it is ours now.
    std::shared_ptr<SemaphoreCore> core = std::move(w->core);
    WaiterLinks* granted = nullptr;
    {
      std::lock_guard<sys::SpinLock> lock(core->mu_);
      core->waiters_.unlink(w);
      core->grant_locked(&granted);  // Leaving the front may let others through.
    }
    w->settle(absl::CancelledError(
        "Semaphore::acquire: stopped while it waited (its future was dropped, a "
        "timeout passed, or its task was aborted); it took no permit"));
    settle_granted(granted);
  }
  // Otherwise a grant or close() claimed it and settles it now.
  return nanorun::detail::StopStep{nullptr, nullptr, /*stoppable=*/true};
}

}  // namespace detail
}  // namespace sync
}  // namespace v0
}  // namespace nanorun
