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

Future<SemaphorePermit> Semaphore::acquire(size_t n) const {
  return core_->acquire_as<SemaphorePermit>(n, core_);
}
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

absl::Status SemaphoreCore::ClosedError() {
  return absl::FailedPreconditionError(
      "Semaphore::acquire: the semaphore is closed (close() was called)");
}

// No waiter can be queued here: each holds a reference to the core.
SemaphoreCore::~SemaphoreCore() = default;

SemaphoreCore::Fast SemaphoreCore::try_take(size_t n) {
  std::lock_guard<sys::SpinLock> lock(mu_);
  if (closed_) return Fast::kClosed;
  if (waiters_.empty() && permits_ >= n) {
    permits_ -= n;
    return Fast::kTaken;
  }
  return Fast::kWait;
}

bool SemaphoreCore::enqueue(PermitLinks* w, WaiterLinks** granted) {
  std::lock_guard<sys::SpinLock> lock(mu_);
  if (closed_) return false;
  waiters_.push_back(w);
  task::NoteWait(task::WaitKind::kLock);  // For Handle::dump().
  grant_locked(granted);
  update_hint_locked();
  return true;
}

void SemaphoreCore::leave(PermitLinks* w, WaiterLinks** granted) {
  std::lock_guard<sys::SpinLock> lock(mu_);
  waiters_.unlink(w);
  grant_locked(granted);  // Leaving the front may let others through.
  update_hint_locked();
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
    update_hint_locked();
  }
  settle_granted(granted);
}

void SemaphoreCore::close() {
  WaiterLinks* claimed;
  {
    std::lock_guard<sys::SpinLock> lock(mu_);
    closed_ = true;
    claimed = waiters_.claim_all();  // One being stopped is left to its hook.
    update_hint_locked();
  }
  absl::Status error = ClosedError();
  while (claimed != nullptr) {
    WaiterLinks* next = claimed->next;
    auto* w = static_cast<PermitLinks*>(claimed);
    w->finish(w, &error);
    claimed = next;
  }
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
    auto* w = static_cast<PermitLinks*>(l);
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
    auto* w = static_cast<PermitLinks*>(granted);
    w->finish(w, nullptr);  // Last touch: the consumer may free it.
    granted = next;
  }
}

}  // namespace detail
}  // namespace sync
}  // namespace v0
}  // namespace nanorun
