// The timer wheel against a sorted multimap, driven by the fuzzer's bytes:
// each 3-byte op inserts (with a delay drawn from every level and past the
// range), cancels, precascades or advances; every fire must match the model
// in time and order.
#include <cstdint>
#include <cstring>
#include <map>
#include <vector>

#include "nanorun/time/wheel.h"
#include "tests/fuzz/check.h"

namespace {

using nanorun::time::TimerEntry;
using nanorun::time::TimerList;
using nanorun::time::TimerWheel;

void NoFire(TimerEntry*, bool) {}

struct Timer {
  Timer() : entry(&NoFire) {}
  TimerEntry entry;
  size_t id = 0;
  bool pending = false;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr size_t kTimers = 64;
  std::vector<Timer> timers(kTimers);
  for (size_t i = 0; i < kTimers; ++i) timers[i].id = i;
  TimerWheel wheel;
  uint64_t now = 0;
  std::multimap<uint64_t, size_t> model;
  std::vector<std::multimap<uint64_t, size_t>::iterator> where(kTimers);
  for (size_t i = 0; i + 3 <= size; i += 3) {
    uint8_t op = data[i], a = data[i + 1], b = data[i + 2];
    Timer& t = timers[a % kTimers];
    switch (op % 4) {
      case 0: {  // Insert: a delay of b scaled to one of the levels, or beyond.
        if (t.pending) break;
        int level = (op >> 2) % 8;
        uint64_t delay = level >= 7 ? TimerWheel::kMaxTicks + b
                                    : (uint64_t{b} << (6 * level)) + (op >> 5);
        bool inserted = wheel.insert(&t.entry, now + delay);
        FUZZ_CHECK(inserted == (delay > 0));
        if (!inserted) break;
        uint64_t clamped = now + (delay > TimerWheel::kMaxTicks ? TimerWheel::kMaxTicks : delay);
        FUZZ_CHECK(t.entry.deadline == clamped);
        where[t.id] = model.emplace(clamped, t.id);
        t.pending = true;
        break;
      }
      case 1:  // Cancel.
        FUZZ_CHECK(wheel.remove(&t.entry) == t.pending);
        if (t.pending) model.erase(where[t.id]);
        t.pending = false;
        break;
      case 2:
        wheel.precascade();
        break;
      default: {  // Advance by b scaled by a level, or to just before a boundary.
        int level = (op >> 2) % 7;
        uint64_t step = uint64_t{b} << (6 * (level % 6));
        if (level == 6) step = ((now >> 6) + 1) * 64 - 1 - now;
        uint64_t target = now + step;
        std::vector<size_t> expected;
        while (!model.empty() && model.begin()->first <= target) {
          expected.push_back(model.begin()->second);
          model.erase(model.begin());
        }
        TimerList due;
        wheel.advance(target, &due);
        std::vector<size_t> got;
        while (TimerEntry* e = due.pop_front()) {
          Timer* fired = reinterpret_cast<Timer*>(e);
          fired->pending = false;
          got.push_back(fired->id);
        }
        FUZZ_CHECK(got == expected);
        now = target;
      }
    }
    FUZZ_CHECK(wheel.size() == model.size());
    if (!model.empty()) FUZZ_CHECK(wheel.next_expiration() <= model.begin()->first);
  }
  return 0;
}
