// A tiny test-and-test-and-set lock for the shortest critical sections (a
// few pointer writes: linking a task into the owned list or the injector, a
// timer into its wheel slot). Uncontended it is one exchange and one store,
// against ~50 instructions for pthread_mutex; under contention it spins
// briefly, then yields the CPU so a preempted holder can finish (2 shared
// cores here). It lives in sys because both the time and executor layers
// use it.
#ifndef NANORUN_SYS_SPIN_LOCK_H_
#define NANORUN_SYS_SPIN_LOCK_H_

#include <atomic>
#include <thread>

namespace nanorun {
inline namespace v0 {
namespace sys {

class SpinLock {
 public:
  void lock() {
    for (int spins = 0;; ++spins) {
      // acquire: the holder's writes inside the section are visible to us.
      if (!locked_.exchange(true, std::memory_order_acquire)) return;
      while (locked_.load(std::memory_order_relaxed)) {
        if (++spins > 64) {
          std::this_thread::yield();
          spins = 0;
        }
      }
    }
  }
  // release: our writes inside the section are visible to the next holder.
  void unlock() { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};

}  // namespace sys
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_SYS_SPIN_LOCK_H_
