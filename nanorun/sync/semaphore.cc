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
    if (head_ == nullptr && permits_ >= n) {
      permits_ -= n;
      return make_ready_future(SemaphorePermit(shared_from_this(), n));
    }
  }
  // Allocated outside the lock; the permits may have come back meanwhile, so
  // the grant loop runs once it is queued.
  void* memory = task::AllocateBlock(sizeof(Waiter));
  auto* w = new (memory) Waiter();
  w->alloc_size = sizeof(Waiter);
  w->n = n;
  w->core = shared_from_this();
  w->set_stop_hook(&w->hook);
  Waiter* granted = nullptr;
  bool closed;
  {
    std::lock_guard<sys::SpinLock> lock(mu_);
    closed = closed_;
    if (!closed) {
      w->prev = tail_;
      if (tail_ != nullptr) {
        tail_->next = w;
      } else {
        head_ = w;
      }
      tail_ = w;
      grant_locked(&granted);
    }
  }
  if (closed) {
    std::shared_ptr<SemaphoreCore> keep = std::move(w->core);
    w->free_without_result();
    return make_error_future<SemaphorePermit>(ClosedError());
  }
  Future<SemaphorePermit> out = Future<SemaphorePermit>::FromState(w);
  settle_granted(granted);  // May be `w` itself: its future is ready then.
  return out;
}

std::optional<SemaphorePermit> SemaphoreCore::try_acquire(size_t n) {
  if (n == 0) return std::nullopt;
  std::lock_guard<sys::SpinLock> lock(mu_);
  if (closed_ || head_ != nullptr || permits_ < n) return std::nullopt;
  permits_ -= n;
  return SemaphorePermit(shared_from_this(), n);
}

void SemaphoreCore::release(size_t n) {
  Waiter* granted = nullptr;
  {
    std::lock_guard<sys::SpinLock> lock(mu_);
    permits_ += n;
    grant_locked(&granted);
  }
  settle_granted(granted);
}

void SemaphoreCore::close() {
  Waiter* claimed = nullptr;
  {
    std::lock_guard<sys::SpinLock> lock(mu_);
    closed_ = true;
    for (Waiter* w = head_; w != nullptr;) {
      Waiter* next = w->next;
      int queued = Waiter::kQueued;
      // A waiter being stopped is left to its hook, which unlinks it.
      if (w->phase.compare_exchange_strong(queued, Waiter::kClaimed, std::memory_order_acq_rel)) {
        unlink_locked(w);
        w->next = claimed;
        claimed = w;
      }
      w = next;
    }
  }
  while (claimed != nullptr) {
    Waiter* next = claimed->next;
    std::shared_ptr<SemaphoreCore> keep = std::move(claimed->core);
    settle(claimed, ClosedError());
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

void SemaphoreCore::grant_locked(Waiter** granted) {
  Waiter** tail = granted;
  while (*tail != nullptr) tail = &(*tail)->next;
  for (Waiter* w = head_; w != nullptr;) {
    Waiter* next = w->next;
    if (w->phase.load(std::memory_order_acquire) == Waiter::kStopping) {
      w = next;  // Leaving: its hook unlinks it.
      continue;
    }
    if (permits_ < w->n) break;  // FIFO: nobody passes the first waiter.
    int queued = Waiter::kQueued;
    if (w->phase.compare_exchange_strong(queued, Waiter::kClaimed, std::memory_order_acq_rel)) {
      permits_ -= w->n;
      unlink_locked(w);
      *tail = w;
      tail = &w->next;
    }
    w = next;
  }
}

void SemaphoreCore::unlink_locked(Waiter* w) {
  if (w->prev != nullptr) {
    w->prev->next = w->next;
  } else {
    head_ = w->next;
  }
  if (w->next != nullptr) {
    w->next->prev = w->prev;
  } else {
    tail_ = w->prev;
  }
  w->prev = nullptr;
  w->next = nullptr;
}

void SemaphoreCore::settle(Waiter* w, nanorun::detail::Result<SemaphorePermit> r) {
  w->store(std::move(r));
  if (nanorun::detail::Continuation* c = nanorun::detail::Publish<SemaphorePermit>(w)) {
    nanorun::detail::Dispatch(c, w);  // Last touch: the consumer may free w.
  }
}

void SemaphoreCore::settle_granted(Waiter* granted) {
  while (granted != nullptr) {
    Waiter* next = granted->next;
    // The waiter's core reference becomes the permit's.
    SemaphorePermit permit(std::move(granted->core), granted->n);
    settle(granted, std::move(permit));
    granted = next;
  }
}

nanorun::detail::StopStep SemaphoreCore::OnStop(nanorun::detail::StateBase* state) {
  auto* w = static_cast<Waiter*>(static_cast<nanorun::detail::SharedState<SemaphorePermit>*>(state));
  int queued = Waiter::kQueued;
  if (w->phase.compare_exchange_strong(queued, Waiter::kStopping, std::memory_order_acq_rel)) {
    // Still queued, so its core reference keeps the core alive; it is ours now.
    std::shared_ptr<SemaphoreCore> core = std::move(w->core);
    Waiter* granted = nullptr;
    {
      std::lock_guard<sys::SpinLock> lock(core->mu_);
      core->unlink_locked(w);
      core->grant_locked(&granted);  // Leaving the head may let others through.
    }
    settle(w, absl::CancelledError(
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
