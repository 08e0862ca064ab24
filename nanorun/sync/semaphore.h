// nanorun::sync::Semaphore: a FIFO-fair async counting semaphore, for
// admission control ("at most 64 requests in flight") and as the base of
// Mutex. acquire() never blocks a thread: it returns a Future that settles
// with a SemaphorePermit once the permits are free, in the order the acquires
// were made.
//
// Cancel rules (docs/cancellation.md, docs/sync.md): an acquire whose future is
// dropped, timed out or whose task is aborted leaves the queue at once and
// takes no permit; if its permit was granted at that same moment, the permit is
// in the result that is dropped, and goes back. A waiter that leaves the head of
// the queue lets the ones behind it through if the permits now suffice.
//
// Lifetimes: Semaphore is a cheap copyable handle to one shared core; permits
// and queued acquires hold the core too, so a permit that outlives every handle
// stays safe (its permits go back to a core nobody else uses any more).
#ifndef NANORUN_SYNC_SEMAPHORE_H_
#define NANORUN_SYNC_SEMAPHORE_H_

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>

#include "nanorun/future/core.h"
#include "nanorun/future/future.h"
#include "nanorun/sync/wait_list.h"
#include "nanorun/sys/spin_lock.h"

namespace nanorun {
inline namespace v0 {
namespace sync {

namespace detail {
class SemaphoreCore;
}

// `count()` permits of one semaphore, given back when the permit is destroyed
// (or release()d). Move-only.
class [[nodiscard]] SemaphorePermit {
 public:
  SemaphorePermit() = default;
  // Move-only; a moved-from permit holds none.
  SemaphorePermit(SemaphorePermit&& other) noexcept
      : core_(std::move(other.core_)), count_(std::exchange(other.count_, 0)) {}
  SemaphorePermit& operator=(SemaphorePermit&& other) noexcept {
    if (this != &other) {
      release();
      core_ = std::move(other.core_);
      count_ = std::exchange(other.count_, 0);
    }
    return *this;
  }
  SemaphorePermit(const SemaphorePermit&) = delete;
  SemaphorePermit& operator=(const SemaphorePermit&) = delete;
  ~SemaphorePermit() { release(); }

  // How many permits this holds (0 once released, forgotten or moved from).
  size_t count() const { return count_; }
  // Gives the permits back now.
  void release();
  // Keeps the permits out of the semaphore for good (its capacity shrinks).
  void forget() {
    core_.reset();
    count_ = 0;
  }

 private:
  friend class detail::SemaphoreCore;  // The only maker of permits.

  SemaphorePermit(std::shared_ptr<detail::SemaphoreCore> core, size_t count)
      : core_(std::move(core)), count_(count) {}

  std::shared_ptr<detail::SemaphoreCore> core_;
  size_t count_ = 0;
};

// An async, FIFO-fair counting semaphore (see the file's comment). A cheap
// copyable handle: copies share one semaphore.
class Semaphore {
 public:
  // A semaphore with `permits` free permits.
  explicit Semaphore(size_t permits);

  // `n` permits (n >= 1), FIFO: an acquire waits behind every earlier one that
  // still waits, even if the permits it needs are free. Fails with
  // FailedPrecondition once the semaphore is closed (pending ones too), and
  // with InvalidArgument for n == 0.
  Future<SemaphorePermit> acquire(size_t n = 1) const;
  // The permits now, if they are free and nobody waits; never waits.
  std::optional<SemaphorePermit> try_acquire(size_t n = 1) const;
  // Adds permits (waiters they satisfy are granted, in order).
  void add_permits(size_t n) const;
  // Free permits now (a snapshot: others may take them meanwhile).
  size_t available_permits() const;
  // Pending and later acquires fail with FailedPrecondition; permits held stay
  // valid and go back as usual.
  void close() const;
  // True once close() was called.
  bool is_closed() const;

 private:
  friend class Mutex;  // Built on a one-permit semaphore's core.

  const std::shared_ptr<detail::SemaphoreCore>& core() const { return core_; }

  std::shared_ptr<detail::SemaphoreCore> core_;
};

namespace detail {

// The shared state: free permits and the FIFO of waiting acquires, under one
// spin lock (held for a few pointer moves, never while a continuation runs).
class SemaphoreCore : public std::enable_shared_from_this<SemaphoreCore> {
 public:
  explicit SemaphoreCore(size_t permits) : permits_(permits) {}
  ~SemaphoreCore();

  // Settles with P(SemaphorePermit): SemaphorePermit itself, or a type that
  // wraps one (MutexGuard), so no conversion step follows the grant.
  // `self` is this core's own shared_ptr (the caller's handle): copying it
  // is cheaper than shared_from_this().
  template <class P>
  Future<P> acquire_as(size_t n, const std::shared_ptr<SemaphoreCore>& self);
  std::optional<SemaphorePermit> try_acquire(size_t n);
  void release(size_t n);
  void close();
  size_t available() const;
  bool closed() const;

 private:
  // What the grant loop reads of a waiter without knowing its result type.
  struct PermitLinks : WaiterLinks {
    size_t n = 0;  // Permits asked for.
    // Settles the claimed waiter: with its permit if `error` is null (the
    // waiter's core reference becomes the permit's), else with *error.
    void (*finish)(PermitLinks* self, const absl::Status* error) = nullptr;
  };
  template <class P>
  using PermitWaiter = Waiter<P, SemaphoreCore, NoPayload, PermitLinks>;

  enum class Fast { kTaken, kClosed, kWait };
  Fast try_take(size_t n);
  // Queues `w` (unless closed: false) and grants what the permits allow.
  bool enqueue(PermitLinks* w, WaiterLinks** granted);

  template <class P>
  static void FinishAs(PermitLinks* self, const absl::Status* error);
  template <class P>
  static nanorun::detail::StopStep OnStopAs(nanorun::detail::StateBase* state);
  // The stop hook's work once it has claimed the waiter: unlink, and grant
  // whoever that lets through (settled by the caller, after).
  void leave(PermitLinks* w, WaiterLinks** granted);
  // Under mu_: grants waiters from the front while the permits suffice, and
  // chains them (through `next`) onto *granted, settled by the caller outside
  // the lock.
  void grant_locked(WaiterLinks** granted);
  static void settle_granted(WaiterLinks* granted);
  static absl::Status ClosedError();

  // Under mu_: keeps has_waiters_ in step with the list.
  void update_hint_locked() {
    has_waiters_.store(!waiters_.empty(), std::memory_order_relaxed);
  }

  mutable sys::SpinLock mu_;
  size_t permits_;       // Guarded by mu_.
  bool closed_ = false;  // Guarded by mu_.
  WaitList waiters_;     // Guarded by mu_.
  // A hint, read without the lock: an acquire that sees waiters queues at
  // once (one lock instead of two). Never trusted for correctness: the queue
  // under mu_ decides.
  std::atomic<bool> has_waiters_{false};
};

template <class P>
Future<P> SemaphoreCore::acquire_as(size_t n, const std::shared_ptr<SemaphoreCore>& self) {
  if (n == 0) {
    return make_error_future<P>(absl::InvalidArgumentError(
        "Semaphore::acquire(0): ask for at least one permit"));
  }
  // While others wait, this one will too (FIFO): skip the first look.
  Fast fast = has_waiters_.load(std::memory_order_relaxed) ? Fast::kWait : try_take(n);
  switch (fast) {
    case Fast::kTaken:
      return make_ready_future(P(SemaphorePermit(self, n)));
    case Fast::kClosed:
      return make_error_future<P>(ClosedError());
    case Fast::kWait:
      break;
  }
  // Allocated outside the lock; the permits may have come back meanwhile, so
  // the grant loop runs once it is queued.
  PermitWaiter<P>* w = PermitWaiter<P>::Create(self, &OnStopAs<P>);
  w->n = n;
  w->finish = &FinishAs<P>;
  WaiterLinks* granted = nullptr;
  if (!enqueue(w, &granted)) {
    w->discard();
    return make_error_future<P>(ClosedError());
  }
  Future<P> out = nanorun::detail::FutureAccess::from_state<P>(w);
  settle_granted(granted);  // May be `w` itself: its future is ready then.
  return out;
}

template <class P>
void SemaphoreCore::FinishAs(PermitLinks* self, const absl::Status* error) {
  PermitWaiter<P>* w = PermitWaiter<P>::from_links(self);
  std::shared_ptr<SemaphoreCore> core = std::move(w->core);
  if (error != nullptr) {
    w->settle(*error);  // `core` outlives the settle: the caller may hold no other.
    return;
  }
  w->settle(P(SemaphorePermit(std::move(core), w->n)));
}

template <class P>
nanorun::detail::StopStep SemaphoreCore::OnStopAs(nanorun::detail::StateBase* state) {
  PermitWaiter<P>* w = PermitWaiter<P>::from_state(state);
  if (w->claim_for_stop()) {
    // Still queued, so its core reference keeps the core alive; it is ours now.
    std::shared_ptr<SemaphoreCore> core = std::move(w->core);
    WaiterLinks* granted = nullptr;
    core->leave(w, &granted);
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

#endif  // NANORUN_SYNC_SEMAPHORE_H_
