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

class TimerDriver;

// One worker thread's timers that are not in the wheel yet (see
// TimerDriver::insert_staged). The worker owns it and keeps it alive while
// attached; only its own thread links and unlinks entries.
class TimerStaging {
 public:
  TimerStaging() = default;
  bool empty() const { return head_ == nullptr; }
  TimerStaging(const TimerStaging&) = delete;
  TimerStaging& operator=(const TimerStaging&) = delete;

 private:
  friend class TimerDriver;
  TimerDriver* driver_ = nullptr;
  uint32_t tag_ = 0;              // Written into each staged entry.
  TimerEntry* head_ = nullptr;    // Doubly linked through prev/next, in
  TimerEntry* tail_ = nullptr;    // the order they were staged.
  std::atomic<size_t> count_{0};  // Written by the owner; read by pending().
  TimerStaging* next_ = nullptr;  // The driver's list of attached ones (its lock).
};

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

  // Lazy registration, for timers that are usually cancelled within the
  // task's turn (a timeout around an RPC reply: pingora registers its
  // timeouts only once still pending, for the same reason). On a worker that
  // attached a staging list, `e` waits there instead of in the wheel: no
  // lock, no shared cache line. flush_staged() moves what is still there into
  // the wheel; the worker calls it between tasks and before it sleeps, so a
  // staged timer is late by at most the rest of the turn that armed it.
  // Elsewhere, the same as insert(). Returns kPending or kShutDown.
  //
  // One rule more than insert(): if cancel() is called from another thread
  // while `e` is staged, it returns false and the flush fires `e` with
  // cancelled = true soon after (the canceller waits for that, as for a
  // timer firing right now).
  Insert insert_staged(TimerEntry* e, Nanos deadline);

  // Takes `e` out if it has not fired: true means it never will. False: it
  // fired, is firing on another thread right now, or was never inserted.
  bool cancel(TimerEntry* e);

  // For a worker: staging lists live on the worker's thread while attached.
  // detach_staging() flushes first.
  void attach_staging(TimerStaging* staging);
  void detach_staging();
  // Moves this thread's staged entries into the wheel under one lock (and
  // fires those due, or cancelled meanwhile). Cheap when there are none.
  void flush_staged();

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
  // Timers fired on time so far (not cancelled ones): for metrics.
  uint64_t fired() const { return fired_.load(std::memory_order_relaxed); }

 private:
  void count_fired(uint64_t n);
  void clock_advanced() override;
  uint64_t tick_at_or_after(Nanos t) const;  // Rounds up.
  uint64_t tick_at_or_before(Nanos t) const;  // Rounds down.
  Nanos time_of_tick(uint64_t tick) const;
  void publish_next_due_locked();
  // False if `e` is due (not inserted); sets *wake if the reactor must wake.
  bool insert_locked(TimerEntry* e, uint64_t tick, bool* wake);
  static uint64_t FireAll(TimerList* due, bool cancelled);

  const Clock clock_;
  reactor::Reactor* const reactor_;
  const Nanos origin_;

  mutable sys::SpinLock mu_;
  TimerWheel wheel_;            // Guarded by mu_.
  bool shut_down_ = false;      // Guarded by mu_.
  bool parked_ = false;         // Guarded by mu_: a worker sleeps in the reactor
  Nanos parked_until_ = 0;      // until this time (or is woken).
  Nanos wake_hint_ = INT64_MAX;  // Guarded by mu_: see begin_park().
  TimerStaging* stagings_ = nullptr;  // Guarded by mu_: attached ones, for pending().
  // Staged entries cancelled from another thread and not yet flushed: still
  // in their owner's count, but not pending. Raised by cancel(), lowered by
  // the flush (under mu_); read by pending().
  std::atomic<int64_t> staged_cancels_{0};
  // When process() next has work, for its lock-free early return.
  std::atomic<Nanos> next_due_;
  // Only where timers fire, once per batch; never on the insert path.
  std::atomic<uint64_t> fired_{0};
};

}  // namespace time
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_TIME_DRIVER_H_
