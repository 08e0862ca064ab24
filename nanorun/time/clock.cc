// The steady clock, the manual clock and saturating time arithmetic.
#include "nanorun/time/clock.h"

#include <algorithm>
#include <chrono>
#include <limits>

#include "nanorun/sys/misuse.h"

namespace nanorun {
inline namespace v0 {
namespace time {

void ManualClock::advance(absl::Duration d) {
  if (d < absl::ZeroDuration()) {
    ReportMisuse(
        "ManualClock::advance called with a negative duration; time never "
        "moves backwards (pass a duration >= 0)");
    return;
  }
  absl::MutexLock lock(&mu_);
  elapsed_ = AddSaturating(elapsed_, d);
  // Under the lock, so a listener cannot be removed (and destroyed) while
  // it is being told; clock_advanced() only wakes a reactor.
  for (ClockListener* listener : listeners_) listener->clock_advanced();
}

Nanos ManualClock::elapsed() const {
  absl::MutexLock lock(&mu_);
  return elapsed_;
}

void ManualClock::add_listener(ClockListener* listener) {
  absl::MutexLock lock(&mu_);
  listeners_.push_back(listener);
}

void ManualClock::remove_listener(ClockListener* listener) {
  absl::MutexLock lock(&mu_);
  listeners_.erase(std::remove(listeners_.begin(), listeners_.end(), listener),
                   listeners_.end());
}

absl::Time Clock::wall_now() const {
  return manual_ != nullptr ? manual_->now() : absl::Now();
}

Nanos Clock::SteadyNow() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Nanos AddSaturating(Nanos t, absl::Duration d) {
  // ToInt64Nanoseconds saturates, infinite durations included.
  return AddSaturating(t, absl::ToInt64Nanoseconds(d));
}

}  // namespace time
}  // namespace v0
}  // namespace nanorun
