// How one worker sleeps. Whoever gets the runtime's driver token sleeps in
// the reactor (so I/O and timers can wake it); the others sleep on their own
// condition variable. unpark() costs a syscall only if the target is really
// asleep: a worker that is awake just finds NOTIFIED on its next park().
#ifndef NANORUN_EXECUTOR_PARKER_H_
#define NANORUN_EXECUTOR_PARKER_H_

#include <atomic>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "nanorun/reactor/reactor.h"
#include "nanorun/sys/cpu_relax.h"
#include "nanorun/time/driver.h"

namespace nanorun {
inline namespace v0 {
namespace executor {

// The runtime-wide token: at most one worker blocks in the reactor, and it
// sleeps only until the next timer is due.
class Driver {
 public:
  Driver(reactor::Reactor* reactor, time::TimerDriver* timers)
      : reactor_(reactor), timers_(timers) {}
  bool try_acquire() {
    return !taken_.exchange(true, std::memory_order_acquire);
  }
  void release() { taken_.store(false, std::memory_order_release); }
  reactor::Reactor& reactor() { return *reactor_; }
  time::TimerDriver& timers() { return *timers_; }

 private:
  reactor::Reactor* reactor_;
  time::TimerDriver* timers_;
  std::atomic<bool> taken_{false};
};

class Parker {
 public:
  // Sleeps until unpark() (or, for the driver, until the reactor returns).
  // Returns at once if unpark() was called since the last park().
  // `submit_ring`: completion requests this worker queued still wait to be
  // submitted; the reactor's park submits them, so a worker that sleeps
  // anywhere else submits them first.
  void park(Driver& driver, bool submit_ring = false) {
    if (take_notification()) {
      if (submit_ring) driver.reactor().submit_queued();
      return;
    }
    if (driver.try_acquire()) {
      // The reactor's sleeper: it spins only when no socket is registered,
      // since while it spins nobody collects I/O edges (timers have 1 ms
      // ticks, so a spin cannot make one late).
      bool parked = false;
      if (driver.reactor().io_registrations() != 0 || !spin_for_notification()) {
        parked = park_on_driver(driver);
      }
      if (!parked && submit_ring) driver.reactor().submit_queued();
      driver.release();
    } else {
      if (submit_ring) driver.reactor().submit_queued();
      if (!spin_for_notification()) park_on_condvar();
    }
  }

  void unpark(Driver& driver) {
    // acq_rel: the work the unparker published before this call is visible
    // to the parked worker once it sees NOTIFIED.
    int prev = state_.exchange(kNotified, std::memory_order_acq_rel);
    if (prev == kParkedCondvar) {
      // Taking the lock orders us after the sleeper's check-then-wait.
      mu_.Lock();
      mu_.Unlock();
      cv_.Signal();
    } else if (prev == kParkedDriver) {
      driver.reactor().wake();
    }
  }

 private:
  enum : int { kEmpty, kParkedCondvar, kParkedDriver, kNotified };
  static constexpr int kSpinsBeforeSleep = 600;  // See sys/cpu_relax.h.

  bool take_notification() {
    int expected = kNotified;
    return state_.compare_exchange_strong(expected, kEmpty, std::memory_order_acquire);
  }

  // Spins a little (bounded, ~16 us) for an unpark: one that comes within it
  // costs the unparker one exchange and no syscall, and this worker no sleep
  // (a futex or eventfd round trip is ~15 us here). True if it came.
  bool spin_for_notification() {
    for (int i = 0; i < kSpinsBeforeSleep; ++i) {
      if (state_.load(std::memory_order_relaxed) == kNotified) return take_notification();
      sys::CpuRelax();
    }
    return take_notification();
  }

  // True if it parked in the reactor (whose park submits queued requests).
  bool park_on_driver(Driver& driver) {
    int expected = kEmpty;
    if (!state_.compare_exchange_strong(expected, kParkedDriver,
                                        std::memory_order_acq_rel)) {
      state_.store(kEmpty, std::memory_order_release);  // Was NOTIFIED.
      return false;
    }
    driver.reactor().park(driver.timers().begin_park());
    driver.timers().end_park();
    // Woken by unpark() or by the reactor itself: either way we are awake.
    state_.exchange(kEmpty, std::memory_order_acq_rel);
    return true;
  }

  void park_on_condvar() {
    absl::MutexLock lock(&mu_);
    int expected = kEmpty;
    if (!state_.compare_exchange_strong(expected, kParkedCondvar,
                                        std::memory_order_acq_rel)) {
      state_.store(kEmpty, std::memory_order_release);  // Was NOTIFIED.
      return;
    }
    for (;;) {
      cv_.Wait(&mu_);
      expected = kNotified;
      if (state_.compare_exchange_strong(expected, kEmpty,
                                         std::memory_order_acq_rel)) {
        return;
      }
      // Spurious wake-up: still parked.
    }
  }

  std::atomic<int> state_{kEmpty};
  absl::Mutex mu_;
  absl::CondVar cv_;
};

}  // namespace executor
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_EXECUTOR_PARKER_H_
