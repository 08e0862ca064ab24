// Where a runtime's timers read the time: the system's monotonic clock, or a
// ManualClock that moves only when a test tells it to (like tokio's
// time::pause), so timer logic is tested without sleeping.
#ifndef NANORUN_TIME_CLOCK_H_
#define NANORUN_TIME_CLOCK_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace nanorun {
inline namespace v0 {
namespace time {

// Nanoseconds on a monotonic scale (the steady clock's, or a manual clock's).
using Nanos = int64_t;

// Something to tell when a manual clock moves (a runtime's timer driver).
class ClockListener {
 public:
  virtual void clock_advanced() = 0;

 protected:
  ~ClockListener() = default;
};

// A clock for tests. Give it to a runtime (RuntimeOptions::clock) and that
// runtime's timers see only this clock: a sleep(1h) completes as soon as the
// test calls advance(1h), and never on its own. Time does not move while
// the runtime is idle (unlike tokio's auto-advance): only advance() moves it.
// Thread-safe.
class ManualClock {
 public:
  // Starts at `start` on the wall-clock scale (what time::now() reports).
  explicit ManualClock(absl::Time start = absl::UnixEpoch()) : start_(start) {}
  ManualClock(const ManualClock&) = delete;
  ManualClock& operator=(const ManualClock&) = delete;

  // Moves time forward by `d` and wakes every runtime using this clock so
  // that the timers now due fire (on their workers, shortly after this
  // returns). A negative `d` is misuse (time never moves backwards):
  // reported through ReportMisuse and ignored.
  void advance(absl::Duration d);

  // The current time, on the wall-clock scale.
  absl::Time now() const { return start_ + absl::Nanoseconds(elapsed()); }
  // Nanoseconds advanced since construction (the monotonic scale).
  Nanos elapsed() const;

  // For timer drivers: told on every advance() until removed.
  void add_listener(ClockListener* listener);
  void remove_listener(ClockListener* listener);

 private:
  const absl::Time start_;
  mutable absl::Mutex mu_;
  Nanos elapsed_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<ClockListener*> listeners_ ABSL_GUARDED_BY(mu_);
};

// A runtime's view of time: the steady clock, or a manual clock.
class Clock {
 public:
  explicit Clock(std::shared_ptr<ManualClock> manual = nullptr)
      : manual_(std::move(manual)) {}

  // Monotonic now.
  Nanos now() const { return manual_ != nullptr ? manual_->elapsed() : SteadyNow(); }
  // Wall-clock now (absl::Now(), or the manual clock's now()).
  absl::Time wall_now() const;
  ManualClock* manual() const { return manual_.get(); }

  static Nanos SteadyNow();

 private:
  std::shared_ptr<ManualClock> manual_;
};

// Adds a duration to a monotonic time, saturating instead of overflowing
// (InfiniteDuration and huge durations land far in the future).
Nanos AddSaturating(Nanos t, absl::Duration d);
inline Nanos AddSaturating(Nanos t, Nanos delta) {
  Nanos sum;
  if (__builtin_add_overflow(t, delta, &sum)) {
    return delta > 0 ? INT64_MAX : INT64_MIN;
  }
  return sum;
}

}  // namespace time
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_TIME_CLOCK_H_
