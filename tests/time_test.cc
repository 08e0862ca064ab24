// The time layer: the timer wheel against a reference model, boundaries and
// clamping, the driver's never-early rounding, and the manual clock.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "nanorun/time/clock.h"
#include "nanorun/time/driver.h"
#include "nanorun/time/wheel.h"
#include "tests/catch.h"

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

Timer* TimerOf(TimerEntry* e) { return reinterpret_cast<Timer*>(e); }

std::vector<size_t> Drain(TimerList* due) {
  std::vector<size_t> ids;
  while (TimerEntry* e = due->pop_front()) ids.push_back(TimerOf(e)->id);
  return ids;
}

// The model: deadline -> id, ties in insertion order (multimap keeps it).
struct Model {
  uint64_t now = 0;
  std::multimap<uint64_t, size_t> pending;
  std::vector<std::multimap<uint64_t, size_t>::iterator> where;
};

TEST_CASE("wheel matches a sorted multimap over a million random operations") {
  constexpr size_t kTimers = 4096;
  std::vector<Timer> timers(kTimers);
  for (size_t i = 0; i < kTimers; ++i) timers[i].id = i;
  TimerWheel wheel;
  Model model;
  model.where.resize(kTimers);
  std::mt19937_64 rng(20261126);
  auto pick = [&](uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n)(rng); };

  // Deadlines from every level, exact level boundaries, and beyond the
  // wheel's range (clamped).
  auto random_delay = [&]() -> uint64_t {
    switch (pick(9)) {
      case 0: return 0;                               // Due already.
      case 1: return 1 + pick(63);                    // Level 0.
      case 2: return 1 + pick(4095);                  // Level 1.
      case 3: return 1 + pick(262143);                // Level 2.
      case 4: return 1 + pick(TimerWheel::kMaxTicks); // Anywhere.
      case 5: return TimerWheel::kMaxTicks + pick(1000000);  // Clamped.
      case 6: {                                        // Exact 64^k boundary.
        uint64_t unit = uint64_t{1} << (6 * (1 + pick(5)));
        uint64_t boundary = (model.now / unit + 1 + pick(2)) * unit;
        return boundary - model.now;
      }
      default: return 1 + pick(300);
    }
  };

  size_t fired = 0;
  for (int op = 0; op < 1000000; ++op) {
    uint64_t action = pick(99);
    if (action < 55) {  // Insert (or re-insert) a timer that is not pending.
      Timer& t = timers[pick(kTimers - 1)];
      if (t.pending) continue;
      uint64_t delay = random_delay();
      uint64_t deadline = model.now + delay;
      uint64_t next_before = wheel.next_expiration();
      bool inserted = wheel.insert(&t.entry, deadline);
      REQUIRE(inserted == (delay > 0));
      if (!inserted) continue;
      // What the driver keeps its next wake by, without a scan.
      uint64_t slot_start = wheel.expiration_of(t.entry);
      REQUIRE(slot_start > wheel.now());
      REQUIRE(slot_start <= t.entry.deadline);
      REQUIRE(wheel.next_expiration() == std::min(next_before, slot_start));
      uint64_t clamped = std::min(deadline, model.now + TimerWheel::kMaxTicks);
      REQUIRE(t.entry.deadline == clamped);
      model.where[t.id] = model.pending.emplace(clamped, t.id);
      t.pending = true;
    } else if (action < 60) {
      // Precascading (the driver's step after firing) changes nothing that
      // can be observed: every fire time and order stays the model's.
      wheel.precascade();
    } else if (action < 80) {  // Cancel.
      Timer& t = timers[pick(kTimers - 1)];
      REQUIRE(wheel.remove(&t.entry) == t.pending);
      if (t.pending) {
        model.pending.erase(model.where[t.id]);
        t.pending = false;
      }
    } else {  // Advance, mostly a little, sometimes a lot.
      uint64_t step = pick(9) == 0 ? pick(uint64_t{1} << (6 * (1 + pick(5))))
                                   : pick(80);
      // Often stop just before a 64^k boundary, where precascade() acts.
      if (pick(3) == 0) {
        uint64_t unit = uint64_t{1} << (6 * (1 + pick(2)));
        step = (model.now / unit + 1) * unit - 1 - model.now;
      }
      uint64_t target = model.now + step;
      std::vector<size_t> expected;
      while (!model.pending.empty() && model.pending.begin()->first <= target) {
        expected.push_back(model.pending.begin()->second);
        model.pending.erase(model.pending.begin());
      }
      TimerList due;
      wheel.advance(target, &due);
      std::vector<size_t> got = Drain(&due);
      REQUIRE(got == expected);  // Same timers, same order: none early or late.
      for (size_t id : got) timers[id].pending = false;
      fired += got.size();
      model.now = target;
      REQUIRE(wheel.now() == target);
    }
    REQUIRE(wheel.size() == model.pending.size());
    if (!model.pending.empty()) {
      // Sleeping until next_expiration() never oversleeps a deadline.
      REQUIRE(wheel.next_expiration() <= model.pending.begin()->first);
      REQUIRE(wheel.next_expiration() > wheel.now());
    } else {
      REQUIRE(wheel.next_expiration() == TimerWheel::kNever);
    }
  }
  CHECK(fired > 100000);  // The run exercised firing, not just cancelling.
}

TEST_CASE("entries due exactly at a 64^k boundary fire at that tick, not before") {
  for (int k = 1; k <= 6; ++k) {
    TimerWheel wheel;
    Timer t;
    uint64_t boundary = k == 6 ? TimerWheel::kMaxTicks : uint64_t{1} << (6 * k);
    REQUIRE(wheel.insert(&t.entry, boundary));
    TimerList due;
    wheel.advance(boundary - 1, &due);
    CHECK(due.empty());
    wheel.advance(boundary, &due);
    CHECK(due.head == &t.entry);
    CHECK(wheel.size() == 0);
  }
}

TEST_CASE("deadlines beyond the wheel's range are clamped to it") {
  TimerWheel wheel(12345);
  Timer t;
  REQUIRE(wheel.insert(&t.entry, 12345 + TimerWheel::kMaxTicks * 3));
  CHECK(t.entry.deadline == 12345 + TimerWheel::kMaxTicks);
  TimerList due;
  wheel.advance(12345 + TimerWheel::kMaxTicks - 1, &due);
  CHECK(due.empty());
  wheel.advance(12345 + TimerWheel::kMaxTicks, &due);
  CHECK(due.head == &t.entry);
}

TEST_CASE("a removed entry is unlinked at once and never fires") {
  TimerWheel wheel;
  std::vector<Timer> timers(3);
  for (auto& t : timers) REQUIRE(wheel.insert(&t.entry, 10));
  CHECK(wheel.remove(&timers[1].entry));
  CHECK_FALSE(wheel.remove(&timers[1].entry));
  CHECK(wheel.size() == 2);
  TimerList due;
  wheel.advance(10, &due);
  CHECK(due.head == &timers[0].entry);
  CHECK(due.tail == &timers[2].entry);
}

// The driver rounds deadlines up to the next 1 ms tick and fires a tick only
// once the clock has passed it, so a timer is never early.
struct Recorder {
  TimerEntry entry{&Fire};
  int fires = 0;
  bool cancelled = false;
  static void Fire(TimerEntry* e, bool cancelled) {
    auto* r = reinterpret_cast<Recorder*>(e);
    ++r->fires;
    r->cancelled = cancelled;
  }
};

class NullReactor final : public nanorun::reactor::Reactor {
 public:
  void park(absl::Duration) override {}
  void wake() override { ++wakes; }
  const char* name() const override { return "null"; }
  int wakes = 0;
};

TEST_CASE("driver: never early, on a manual clock") {
  auto manual = std::make_shared<nanorun::time::ManualClock>();
  NullReactor reactor;
  nanorun::time::TimerDriver driver(nanorun::time::Clock(manual), &reactor);
  Recorder r;
  // 2.5 ms: rounds up to tick 3.
  nanorun::time::Nanos deadline = 2500 * 1000;
  REQUIRE(driver.insert(&r.entry, deadline) == nanorun::time::TimerDriver::Insert::kPending);
  manual->advance(absl::Microseconds(2999));
  driver.process();
  CHECK(r.fires == 0);
  manual->advance(absl::Microseconds(1));
  driver.process();
  CHECK(r.fires == 1);
  CHECK_FALSE(r.cancelled);
  CHECK(reactor.wakes >= 2);  // Each advance() told the driver's reactor.
}

TEST_CASE("driver: an insert earlier than the parked deadline wakes the reactor once") {
  auto manual = std::make_shared<nanorun::time::ManualClock>();
  NullReactor reactor;
  nanorun::time::TimerDriver driver(nanorun::time::Clock(manual), &reactor);
  Recorder late, early, later;
  REQUIRE(driver.insert(&late.entry, 50 * 1000000) == nanorun::time::TimerDriver::Insert::kPending);
  CHECK(driver.begin_park() == absl::InfiniteDuration());  // Manual: wait for advance().
  int before = reactor.wakes;
  REQUIRE(driver.insert(&early.entry, 10 * 1000000) == nanorun::time::TimerDriver::Insert::kPending);
  CHECK(reactor.wakes == before + 1);
  REQUIRE(driver.insert(&later.entry, 20 * 1000000) == nanorun::time::TimerDriver::Insert::kPending);
  CHECK(reactor.wakes == before + 1);
  driver.end_park();
  CHECK(driver.pending() == 3);
  CHECK(driver.cancel(&later.entry));
  CHECK_FALSE(driver.cancel(&later.entry));
  driver.shutdown();
  CHECK(late.fires == 1);
  CHECK(late.cancelled);
  CHECK(early.cancelled);
  CHECK(later.fires == 0);
  Recorder after;
  CHECK(driver.insert(&after.entry, 1) == nanorun::time::TimerDriver::Insert::kShutDown);
}

TEST_CASE("driver: arming and cancelling timeouts does not wake the parked reactor each time") {
  NullReactor reactor;
  nanorun::time::TimerDriver driver(nanorun::time::Clock(), &reactor);
  nanorun::time::Nanos start = nanorun::time::Clock::SteadyNow();
  constexpr nanorun::time::Nanos kTenSeconds = 10LL * 1000 * 1000 * 1000;
  for (int i = 0; i < 100; ++i) {
    driver.begin_park();  // The worker sleeps (its timeout: the first deadline).
    Recorder r;
    REQUIRE(driver.insert(&r.entry, start + kTenSeconds + i) ==
            nanorun::time::TimerDriver::Insert::kPending);
    REQUIRE(driver.cancel(&r.entry));  // The RPC answered first.
    driver.end_park();
  }
  CHECK(reactor.wakes == 1);  // Only the first insert had to shorten the sleep.
}

TEST_CASE("driver: a timer behind a cascade is not left waiting (the worker never spins)") {
  auto manual = std::make_shared<nanorun::time::ManualClock>();
  NullReactor reactor;
  nanorun::time::TimerDriver driver(nanorun::time::Clock(manual), &reactor);
  manual->advance(absl::Milliseconds(32));
  Recorder first;
  REQUIRE(driver.insert(&first.entry, 33 * 1000000) == nanorun::time::TimerDriver::Insert::kPending);
  driver.process();  // Nothing due yet.
  manual->advance(absl::Milliseconds(1));
  driver.process();  // Fires `first`: the wheel stands at tick 33.
  REQUIRE(first.fires == 1);
  // Due at 70 ms: placed on level 1, in the slot that starts at 64 ms.
  Recorder r;
  REQUIRE(driver.insert(&r.entry, 70 * 1000000) == nanorun::time::TimerDriver::Insert::kPending);
  manual->advance(absl::Milliseconds(31));  // 64 ms: the cascade is due.
  // The parked worker is told to wake now (timeout zero) and, having woken,
  // must find process() doing that cascade, after which it may sleep again.
  CHECK(driver.begin_park() == absl::ZeroDuration());
  driver.end_park();
  driver.process();
  CHECK(driver.begin_park() == absl::InfiniteDuration());  // Manual clock: sleep.
  driver.end_park();
  CHECK(r.fires == 0);
  manual->advance(absl::Milliseconds(6));
  driver.process();
  CHECK(r.fires == 1);
}

TEST_CASE("driver: a deadline already passed is reported due, not inserted") {
  auto manual = std::make_shared<nanorun::time::ManualClock>();
  NullReactor reactor;
  nanorun::time::TimerDriver driver(nanorun::time::Clock(manual), &reactor);
  Recorder first;
  REQUIRE(driver.insert(&first.entry, 5 * 1000000) == nanorun::time::TimerDriver::Insert::kPending);
  manual->advance(absl::Milliseconds(5));
  driver.process();  // The wheel now stands at tick 5.
  CHECK(first.fires == 1);
  Recorder r;
  CHECK(driver.insert(&r.entry, 4 * 1000000) == nanorun::time::TimerDriver::Insert::kDue);
  CHECK(driver.pending() == 0);
}

TEST_CASE("driver on the real clock: a sleep's timeout is the time to the next tick") {
  NullReactor reactor;
  nanorun::time::TimerDriver driver(nanorun::time::Clock(), &reactor);
  Recorder r;
  nanorun::time::Nanos start = nanorun::time::Clock::SteadyNow();
  REQUIRE(driver.insert(&r.entry, start + 3 * 1000000) == nanorun::time::TimerDriver::Insert::kPending);
  absl::Duration wait = driver.begin_park();
  driver.end_park();
  CHECK(wait > absl::ZeroDuration());
  CHECK(wait <= absl::Milliseconds(4));  // Rounded up to a tick, at most.
  while (r.fires == 0) driver.process();
  // Never early: it fired only after its deadline.
  CHECK(nanorun::time::Clock::SteadyNow() >= start + 3 * 1000000);
}

TEST_CASE("saturating time arithmetic") {
  using nanorun::time::AddSaturating;
  CHECK(AddSaturating(5, absl::InfiniteDuration()) == INT64_MAX);
  CHECK(AddSaturating(-5, -absl::InfiniteDuration()) == INT64_MIN);
  CHECK(AddSaturating(INT64_MAX - 1, absl::Seconds(1)) == INT64_MAX);
  CHECK(AddSaturating(5, absl::Nanoseconds(7)) == 12);
}

}  // namespace

// Lazy registration (TimerDriver::insert_staged): a worker's timers wait in
// its staging list until its turn ends. These run the driver on the test's
// own thread, attached as a worker would be.
TEST_CASE("driver: a staged timer skips the wheel until the flush, and fires on time after it") {
  auto manual = std::make_shared<nanorun::time::ManualClock>();
  NullReactor reactor;
  nanorun::time::TimerDriver driver(nanorun::time::Clock(manual), &reactor);
  nanorun::time::TimerStaging staging;
  driver.attach_staging(&staging);
  Recorder a, b;
  REQUIRE(driver.insert_staged(&a.entry, 3 * 1000000) == nanorun::time::TimerDriver::Insert::kPending);
  REQUIRE(driver.insert_staged(&b.entry, 3 * 1000000) == nanorun::time::TimerDriver::Insert::kPending);
  CHECK_FALSE(staging.empty());
  CHECK(driver.pending() == 2);  // Counted while staged.
  manual->advance(absl::Milliseconds(3));
  driver.process();
  CHECK(a.fires == 0);  // Not in the wheel yet: process() cannot see it.
  // Cancelled on its own thread while staged: it never reaches the wheel.
  CHECK(driver.cancel(&b.entry));
  CHECK(driver.pending() == 1);
  driver.flush_staged();  // Due by now: the next process() fires it.
  CHECK(staging.empty());
  CHECK(a.fires == 0);
  driver.process();
  CHECK(a.fires == 1);
  CHECK_FALSE(a.cancelled);
  CHECK(b.fires == 0);
  Recorder c;
  REQUIRE(driver.insert_staged(&c.entry, 10 * 1000000) == nanorun::time::TimerDriver::Insert::kPending);
  driver.flush_staged();
  CHECK(driver.pending() == 1);
  manual->advance(absl::Microseconds(6999));
  driver.process();
  CHECK(c.fires == 0);  // Never early.
  manual->advance(absl::Microseconds(1));
  driver.process();
  CHECK(c.fires == 1);
  CHECK(driver.pending() == 0);
  // Staged with a deadline the wheel has already passed: the flush fires it.
  Recorder d;
  REQUIRE(driver.insert_staged(&d.entry, 5 * 1000000) == nanorun::time::TimerDriver::Insert::kPending);
  driver.flush_staged();
  CHECK(d.fires == 1);
  CHECK_FALSE(d.cancelled);
  CHECK(driver.pending() == 0);
  driver.detach_staging();
}

TEST_CASE("driver: a staged timer cancelled from another thread fires as cancelled at the flush") {
  NullReactor reactor;
  nanorun::time::TimerDriver driver(nanorun::time::Clock(), &reactor);
  nanorun::time::TimerStaging staging;
  driver.attach_staging(&staging);
  Recorder r;
  nanorun::time::Nanos far = nanorun::time::Clock::SteadyNow() + 10LL * 1000 * 1000 * 1000;
  REQUIRE(driver.insert_staged(&r.entry, far) == nanorun::time::TimerDriver::Insert::kPending);
  bool cancelled_at_once = true;
  std::thread other([&] { cancelled_at_once = driver.cancel(&r.entry); });
  other.join();
  // It could not unlink it from this thread's list: it asked the flush.
  CHECK_FALSE(cancelled_at_once);
  CHECK(r.fires == 0);
  // Yet it is no longer pending: the canceller's caller may report its result
  // (timeout() does) long before this thread's turn ends and it flushes.
  CHECK(driver.pending() == 0);
  driver.flush_staged();
  CHECK(r.fires == 1);
  CHECK(r.cancelled);
  CHECK(driver.pending() == 0);
  // Once flushed, a cancel from another thread takes it out of the wheel.
  Recorder s;
  REQUIRE(driver.insert_staged(&s.entry, far) == nanorun::time::TimerDriver::Insert::kPending);
  driver.flush_staged();
  bool removed = false;
  std::thread third([&] { removed = driver.cancel(&s.entry); });
  third.join();
  CHECK(removed);
  CHECK(s.fires == 0);
  driver.detach_staging();
}

TEST_CASE("driver: off a staging thread insert_staged is insert; detach flushes into the wheel") {
  auto manual = std::make_shared<nanorun::time::ManualClock>();
  NullReactor reactor;
  nanorun::time::TimerDriver driver(nanorun::time::Clock(manual), &reactor);
  Recorder plain;
  REQUIRE(driver.insert_staged(&plain.entry, 5 * 1000000) == nanorun::time::TimerDriver::Insert::kPending);
  CHECK(driver.pending() == 1);
  nanorun::time::TimerStaging staging;
  driver.attach_staging(&staging);
  Recorder staged;
  REQUIRE(driver.insert_staged(&staged.entry, 5 * 1000000) == nanorun::time::TimerDriver::Insert::kPending);
  driver.detach_staging();
  CHECK(staging.empty());
  CHECK(driver.pending() == 2);
  driver.shutdown();  // Both were in the wheel: both fire as cancelled.
  CHECK(plain.fires == 1);
  CHECK(plain.cancelled);
  CHECK(staged.fires == 1);
  CHECK(staged.cancelled);
}

TEST_CASE("driver: staged timers racing cancels from another thread fire exactly once or never",
          "[stress]") {
  NullReactor reactor;
  nanorun::time::TimerDriver driver(nanorun::time::Clock(), &reactor);
  nanorun::time::TimerStaging staging;
  driver.attach_staging(&staging);
  constexpr int kTimers = 20000;
  std::vector<Recorder> timers(kTimers);
  std::vector<std::atomic<int>> removed(kTimers);
  std::atomic<int> armed{0};
  nanorun::time::Nanos far = nanorun::time::Clock::SteadyNow() + 10LL * 1000 * 1000 * 1000;
  std::thread canceller([&] {
    for (int i = 0; i < kTimers; ++i) {
      while (armed.load(std::memory_order_acquire) <= i) {
      }
      removed[i] = driver.cancel(&timers[i].entry) ? 1 : 0;
    }
  });
  for (int i = 0; i < kTimers; ++i) {
    REQUIRE(driver.insert_staged(&timers[i].entry, far) == nanorun::time::TimerDriver::Insert::kPending);
    armed.store(i + 1, std::memory_order_release);
    if (i % 7 == 0) driver.flush_staged();  // Some reach the wheel first.
  }
  canceller.join();
  driver.flush_staged();
  for (int i = 0; i < kTimers; ++i) {
    // Removed from the wheel: never fired. Otherwise: fired once, cancelled.
    if (removed[i].load() == 1) {
      CHECK(timers[i].fires == 0);
    } else {
      CHECK(timers[i].fires == 1);
      CHECK(timers[i].cancelled);
    }
  }
  CHECK(driver.pending() == 0);
  driver.detach_staging();
}
