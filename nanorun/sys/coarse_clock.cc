// CoarseMonotonicNanos (coarse_clock.h).
#include "nanorun/sys/coarse_clock.h"

#if defined(__linux__)
#include <time.h>
#else
#include <chrono>
#endif

namespace nanorun {
inline namespace v0 {
namespace sys {

int64_t CoarseMonotonicNanos() {
#if defined(__linux__)
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
#else
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
#endif
}

}  // namespace sys
}  // namespace v0
}  // namespace nanorun
