// Armed failures per operation: a count and an error, consumed by CAS so
// that concurrent callers take each failure exactly once.
#include "nanorun/sys/fault_injection.h"

#include <atomic>

namespace nanorun {
inline namespace v0 {
namespace sys {
namespace fault {
namespace {

constexpr int kOps = 4;

struct Armed {
  std::atomic<int> err{0};
  std::atomic<int> remaining{0};
};

Armed armed[kOps];
// Set once anything is armed: the unarmed fast path is this one load.
std::atomic<bool> any_armed{false};

Armed& For(Op op) { return armed[static_cast<int>(op)]; }

}  // namespace

void FailNext(Op op, int err, int times) {
  Armed& a = For(op);
  a.err.store(err, std::memory_order_relaxed);
  a.remaining.store(times, std::memory_order_release);
  any_armed.store(true, std::memory_order_release);
}

void Reset() {
  for (Armed& a : armed) a.remaining.store(0, std::memory_order_release);
  any_armed.store(false, std::memory_order_release);
}

int Remaining(Op op) { return For(op).remaining.load(std::memory_order_acquire); }

int Take(Op op) {
  if (!any_armed.load(std::memory_order_relaxed)) return 0;
  Armed& a = For(op);
  int left = a.remaining.load(std::memory_order_acquire);
  while (left > 0) {
    if (a.remaining.compare_exchange_weak(left, left - 1, std::memory_order_acq_rel)) {
      return a.err.load(std::memory_order_relaxed);
    }
  }
  return 0;
}

}  // namespace fault
}  // namespace sys
}  // namespace v0
}  // namespace nanorun
