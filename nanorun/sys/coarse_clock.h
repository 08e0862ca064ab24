// A cheap monotonic clock with coarse resolution, for accounting that sums
// many intervals (the executor's per-worker busy time): on Linux,
// CLOCK_MONOTONIC_COARSE, read from the vDSO in ~10 ns here against ~50 ns
// for the precise clock, with the kernel tick's resolution (1-4 ms).
//
// Why coarse is enough: an interval read with a clock of resolution r comes
// out as a whole number of ticks, but with the interval's phase against the
// ticks random, its expected value is the interval itself; summed over many
// park cycles, busy time is right on average, and off by at most a few ticks
// for any one reading.
#ifndef NANORUN_SYS_COARSE_CLOCK_H_
#define NANORUN_SYS_COARSE_CLOCK_H_

#include <cstdint>

namespace nanorun {
inline namespace v0 {
namespace sys {

// Nanoseconds on a monotonic clock (the same origin as std::chrono's
// steady_clock on Linux, but do not mix the two: resolutions differ).
int64_t CoarseMonotonicNanos();

}  // namespace sys
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_SYS_COARSE_CLOCK_H_
