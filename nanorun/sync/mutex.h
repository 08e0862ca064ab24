// nanorun::sync::Mutex: an async, FIFO-fair mutex (a one-permit Semaphore).
// lock() never blocks a thread: it returns a Future<MutexGuard> that settles
// when the mutex is free, in the order the locks were asked for; the guard
// unlocks when it is destroyed. Use it to serialise writes to one socket, or
// any critical section that waits inside (for a critical section that never
// waits, a plain absl::Mutex held briefly is cheaper).
//
// Cancel rules: a lock() whose future is dropped, timed out or whose task is
// aborted leaves the queue and never holds the mutex; if the mutex was handed
// to it at that moment, the guard is in the dropped result and unlocks.
//
// Mutex is a cheap copyable handle: copies share one lock. A guard keeps the
// lock's state alive, so a guard outliving every Mutex handle stays safe.
#ifndef NANORUN_SYNC_MUTEX_H_
#define NANORUN_SYNC_MUTEX_H_

#include <optional>
#include <utility>

#include "nanorun/future/future.h"
#include "nanorun/sync/semaphore.h"

namespace nanorun {
inline namespace v0 {
namespace sync {

// Holds the mutex until destroyed (or unlock()ed). Move-only.
class [[nodiscard]] MutexGuard {
 public:
  MutexGuard() = default;
  // Move-only; a moved-from guard holds nothing.
  MutexGuard(MutexGuard&&) noexcept = default;
  MutexGuard& operator=(MutexGuard&&) noexcept = default;

  // Unlocks now (the destructor then does nothing).
  void unlock() { permit_.release(); }
  // True while this guard holds the mutex.
  bool owns_lock() const { return permit_.count() != 0; }

 private:
  // The semaphore grants the guard directly (no conversion step).
  friend class Mutex;
  friend class detail::SemaphoreCore;

  explicit MutexGuard(SemaphorePermit permit) : permit_(std::move(permit)) {}

  SemaphorePermit permit_;
};

// An async, FIFO-fair mutex (see the file's comment). A cheap copyable
// handle: copies share one lock.
class Mutex {
 public:
  Mutex() : permits_(1) {}

  // The mutex, once every earlier lock() has had it. Continuations follow the
  // usual rules (docs/futures.md): the next holder's runs when the guard before
  // it is destroyed, on its own runtime.
  Future<MutexGuard> lock() const {
    return permits_.core()->acquire_as<MutexGuard>(1, permits_.core());
  }
  // The mutex now, if it is free and nobody waits for it.
  std::optional<MutexGuard> try_lock() const {
    std::optional<SemaphorePermit> p = permits_.try_acquire(1);
    if (!p.has_value()) return std::nullopt;
    return MutexGuard(std::move(*p));
  }

 private:
  Semaphore permits_;
};

}  // namespace sync
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_SYNC_MUTEX_H_
