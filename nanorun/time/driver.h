// One runtime's timers: the wheel behind a lock, its clock, and the rules
// for who advances it. The executor (the layer above) calls process() every
// 61st task on every worker and whenever a worker wakes, so timers fire on
// time even while every worker is busy; the worker that sleeps in the
// reactor sleeps only until the next deadline (begin_park), and a timer
// inserted earlier than that wakes it.
//
// Time is counted in 1 ms ticks from the driver's creation. A deadline is
// rounded up to the next tick and a tick is due once the clock has passed
// it, so a timer never fires early; it fires at most about one tick plus
// scheduling delay late.
#ifndef NANORUN_TIME_DRIVER_H_
#define NANORUN_TIME_DRIVER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "absl/time/time.h"
#include "nanorun/reactor/reactor.h"
#include "nanorun/sys/spin_lock.h"
#include "nanorun/time/clock.h"
#include "nanorun/time/wheel.h"

namespace nanorun {
inline namespace v0 {
namespace time {

class TimerDriver final : private ClockListener {
 public:
  static constexpr Nanos kTick = 1000 * 1000;  // 1 ms.

  // `reactor` is woken when an earlier timer arrives while a worker sleeps
  // in it; it must outlive the driver.
  TimerDriver(Clock clock, reactor::Reactor* reactor);
  ~TimerDriver();
  TimerDriver(const TimerDriver&) = delete;
  TimerDriver& operator=(const TimerDriver&) = delete;

  const Clock& clock() const { return clock_; }

  enum class Insert { kPending, kDue, kShutDown };
  // Schedules `e` to fire at monotonic time `deadline`. kDue: the deadline
  // has passed, `e` is not inserted and the caller completes it itself.
  // kShutDown: the runtime is gone; `e` is not inserted.
  Insert insert(TimerEntry* e, Nanos deadline);

  // Takes `e` out if it has not fired: true means it never will. False: it
  // fired, is firing on another thread right now, or was never inserted.
  bool cancel(TimerEntry* e);

  // Fires every timer that is due. When none is, this is one clock read and
  // one atomic load.
  void process();

  // For the worker about to sleep in the reactor: how long it may sleep
  // (InfiniteDuration when no timer is pending, or with a manual clock
  // until advance() wakes it). Until end_park(), an insert of an earlier
  // deadline wakes the reactor.
  absl::Duration begin_park();
  void end_park();

  // Fires every pending timer with cancelled = true; later inserts get
  // kShutDown. Call once no worker runs.
  void shutdown();

  size_t pending() const;

 private:
  void clock_advanced() override;
  uint64_t tick_at_or_after(Nanos t) const;  // Rounds up.
  uint64_t tick_at_or_before(Nanos t) const;  // Rounds down.
  Nanos time_of_tick(uint64_t tick) const;
  void publish_next_due_locked();
  static void FireAll(TimerList* due, bool cancelled);

  const Clock clock_;
  reactor::Reactor* const reactor_;
  const Nanos origin_;

  mutable sys::SpinLock mu_;
  TimerWheel wheel_;            // Guarded by mu_.
  bool shut_down_ = false;      // Guarded by mu_.
  bool parked_ = false;         // Guarded by mu_: a worker sleeps in the reactor
  Nanos parked_until_ = 0;      // until this time (or is woken).
  Nanos wake_hint_ = INT64_MAX;  // Guarded by mu_: see begin_park().
  // When process() next has work, for its lock-free early return.
  std::atomic<Nanos> next_due_;
};

}  // namespace time
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_TIME_DRIVER_H_
