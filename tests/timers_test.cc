// nanorun::time's futures on a real runtime: sleep, sleep_until, timeout,
// interval, the manual clock, cancellation, shutdown, and timers firing
// while every worker is busy. Real-clock tests assert ordering (never
// early, fired before X), never speed.
#include <atomic>
#include <chrono>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "catch2/catch.hpp"
#include "nanorun/nanorun.h"
#include "tests/test_util.h"

namespace {

using nanorun::Future;
using nanorun::Promise;
using nanorun::Runtime;
using nanorun::RuntimeOptions;
namespace ntime = nanorun::time;

using nanorun_test::kSanitized;
using nanorun_test::WaitFor;

struct ManualRuntime {
  std::shared_ptr<ntime::ManualClock> clock = std::make_shared<ntime::ManualClock>();
  Runtime rt{Options(clock)};
  static RuntimeOptions Options(std::shared_ptr<ntime::ManualClock> c) {
    RuntimeOptions o;
    o.workers = 2;
    o.clock = std::move(c);
    return o;
  }
};

// Runs f on the runtime and waits for it.
template <class F>
void Run(Runtime& rt, F f) {
  REQUIRE(rt.block_on(std::move(f)).ok());
}

int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

TEST_CASE("off a runtime, timer functions fail with a message that says how to fix it") {
  absl::Status s = ntime::sleep(absl::Milliseconds(1)).then_result([](absl::Status r) { return r; }).take_result();
  CHECK(s.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(absl::StrContains(s.message(), "outside a runtime"));
  CHECK(absl::StrContains(s.message(), "block_on"));
  Promise<int> p;
  auto t = ntime::timeout(absl::Seconds(1), p.get_future()).take_result();
  CHECK(t.status().code() == absl::StatusCode::kFailedPrecondition);
  ntime::Interval iv = ntime::interval(absl::Milliseconds(5));
  absl::Status tick = iv.tick().take_result();
  CHECK(absl::StrContains(tick.message(), "interval called outside a runtime"));
  CHECK(ntime::sleep_until(absl::Now()).take_result().code() == absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("manual clock: a sleep completes exactly when time reaches it, never before") {
  ManualRuntime m;
  std::atomic<bool> done{false};
  Run(m.rt, [&] {
    (void)ntime::sleep(absl::Milliseconds(10)).then([&] { done = true; });
  });
  m.clock->advance(absl::Microseconds(9999));
  std::this_thread::sleep_for(std::chrono::milliseconds(30));  // Real time passes...
  CHECK_FALSE(done.load());  // ...but runtime time does not.
  CHECK(m.rt.handle().pending_timers() == 1);
  m.clock->advance(absl::Microseconds(1));
  CHECK(WaitFor([&] { return done.load(); }));
  CHECK(m.rt.handle().pending_timers() == 0);
}

TEST_CASE("manual clock: time::now and sleep_until follow it") {
  ManualRuntime m;
  std::atomic<bool> done{false};
  absl::Time seen = m.rt.block_on([&] {
    (void)ntime::sleep_until(ntime::now() + absl::Milliseconds(5)).then([&] { done = true; });
    return ntime::now();
  }).value();
  CHECK(seen == m.clock->now());
  m.clock->advance(absl::Milliseconds(4));
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK_FALSE(done.load());
  m.clock->advance(absl::Milliseconds(1));
  CHECK(WaitFor([&] { return done.load(); }));
}

TEST_CASE("real clock: sleeps are never early") {
  Runtime rt = Runtime::with_workers(2);
  constexpr int kSleeps = 2000;
  std::atomic<int> early{0}, fired{0};
  absl::Status s = rt.block_on([&] {
    std::vector<Future<void>> all;
    std::mt19937 rng(7);
    for (int i = 0; i < kSleeps; ++i) {
      int64_t wait_us = std::uniform_int_distribution<int>(1, 20000)(rng);
      int64_t start = SteadyNanos();
      all.push_back(ntime::sleep(absl::Microseconds(wait_us)).then([&, start, wait_us] {
        if (SteadyNanos() - start < wait_us * 1000) ++early;
        ++fired;
      }));
    }
    return nanorun::when_all(std::move(all));
  });
  REQUIRE(s.ok());
  CHECK(fired == kSleeps);
  CHECK(early == 0);
}

TEST_CASE("100,000 concurrent sleeps all complete, none early") {
  Runtime rt = Runtime::with_workers(2);
  constexpr int kSleeps = 100000;
  std::atomic<int> early{0}, fired{0};
  absl::Status s = rt.block_on([&] {
    std::vector<Future<void>> all;
    all.reserve(kSleeps);
    int64_t start = SteadyNanos();
    for (int i = 0; i < kSleeps; ++i) {
      int64_t wait_ms = 1 + i % 50;
      all.push_back(ntime::sleep(absl::Milliseconds(wait_ms)).then([&, start, wait_ms] {
        if (SteadyNanos() - start < wait_ms * 1000000) ++early;
        ++fired;
      }));
    }
    return nanorun::when_all(std::move(all));
  });
  REQUIRE(s.ok());
  CHECK(fired == kSleeps);
  CHECK(early == 0);
  CHECK(rt.handle().pending_timers() == 0);
}

TEST_CASE("timeout: the inner result when it comes first, and its timer is gone at once") {
  Runtime rt = Runtime::with_workers(2);
  Promise<int> p;
  Future<int> inner = p.get_future();
  auto r = rt.block_on([&] {
    Future<int> t = ntime::timeout(absl::Seconds(10), std::move(inner));
    CHECK(nanorun::Handle::current().pending_timers() == 1);
    p.set_value(42);
    CHECK(nanorun::Handle::current().pending_timers() == 0);  // Cancelled in O(1).
    return t;
  });
  REQUIRE(r.ok());
  CHECK(*r == 42);
}

TEST_CASE("timeout: DeadlineExceeded when the deadline comes first") {
  ManualRuntime m;
  Promise<int> p;
  std::atomic<bool> done{false};
  absl::Status seen;
  Run(m.rt, [&] {
    (void)ntime::timeout(absl::Milliseconds(10), p.get_future())
        .then_result([&](absl::StatusOr<int> r) {
          seen = r.status();
          done = true;
        });
  });
  m.clock->advance(absl::Milliseconds(10));
  REQUIRE(WaitFor([&] { return done.load(); }));
  CHECK(seen.code() == absl::StatusCode::kDeadlineExceeded);
  CHECK(absl::StrContains(seen.message(), "did not complete within 10ms"));
  p.set_value(1);  // Late: dropped, nothing leaks.
}

TEST_CASE("timeout: when inner and deadline are ready on the same wake, inner wins") {
  ManualRuntime m;
  for (int round = 0; round < 50; ++round) {
    std::atomic<int> result{0};
    Run(m.rt, [&] {
      Future<int> inner = ntime::sleep(absl::Milliseconds(10)).then([] { return 7; });
      (void)ntime::timeout(absl::Milliseconds(10), std::move(inner))
          .then_result([&](absl::StatusOr<int> r) { result = r.ok() ? *r : -1; });
    });
    m.clock->advance(absl::Milliseconds(10));
    REQUIRE(WaitFor([&] { return result.load() != 0; }));
    CHECK(result == 7);
  }
}

TEST_CASE("an abandoned sleep releases its timer at once") {
  Runtime rt = Runtime::with_workers(2);
  Run(rt, [&] {
    {
      Future<void> f = ntime::sleep(absl::Hours(1));
      CHECK(nanorun::Handle::current().pending_timers() == 1);
    }
    CHECK(nanorun::Handle::current().pending_timers() == 0);
  });
}

TEST_CASE("timeouts racing completions from another thread: every outcome accounted for") {
  Runtime rt = Runtime::with_workers(2);
  const int kRounds = kSanitized ? 2000 : 20000;
  std::vector<Promise<int>> promises(kRounds);
  std::atomic<int> values{0}, deadlines{0}, other{0};
  std::thread fulfiller([&] {
    for (int i = 0; i < kRounds; ++i) {
      if (i % 64 == 0) std::this_thread::sleep_for(std::chrono::microseconds(500));
      promises[i].set_value(i);
    }
  });
  absl::Status s = rt.block_on([&] {
    std::vector<Future<void>> all;
    for (int i = 0; i < kRounds; ++i) {
      all.push_back(ntime::timeout(absl::Milliseconds(1 + i % 3), promises[i].get_future())
                        .then_result([&, i](absl::StatusOr<int> r) {
                          if (r.ok() && *r == i) {
                            ++values;
                          } else if (r.status().code() == absl::StatusCode::kDeadlineExceeded) {
                            ++deadlines;
                          } else {
                            ++other;
                          }
                        }));
    }
    return nanorun::when_all(std::move(all));
  });
  fulfiller.join();
  REQUIRE(s.ok());
  CHECK(values + deadlines == kRounds);
  CHECK(other == 0);
  CHECK(WaitFor([&] { return rt.handle().pending_timers() == 0; }));
}

TEST_CASE("interval: first tick at once, then on the grid; missed ticks are skipped") {
  ManualRuntime m;
  ntime::Interval iv;
  std::atomic<int> ticks{0};
  auto tick_once = [&] {
    Run(m.rt, [&] { (void)iv.tick().then([&] { ++ticks; }); });
  };
  Run(m.rt, [&] { iv = ntime::interval(absl::Milliseconds(10)); });
  tick_once();
  REQUIRE(WaitFor([&] { return ticks == 1; }));  // At once.
  tick_once();                                    // Due at 10 ms.
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(ticks == 1);
  m.clock->advance(absl::Milliseconds(10));
  REQUIRE(WaitFor([&] { return ticks == 2; }));
  m.clock->advance(absl::Milliseconds(25));  // Now 35 ms: ticks at 20 and 30 missed.
  tick_once();
  REQUIRE(WaitFor([&] { return ticks == 3; }));  // One tick at once, not two.
  tick_once();                                    // The grid: 40 ms, not 45.
  m.clock->advance(absl::Milliseconds(4));
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(ticks == 3);
  m.clock->advance(absl::Milliseconds(1));
  REQUIRE(WaitFor([&] { return ticks == 4; }));
  CHECK(iv.period() == absl::Milliseconds(10));
  CHECK(ntime::interval(absl::ZeroDuration()).tick().take_result().code() ==
        absl::StatusCode::kFailedPrecondition);  // Off a runtime comes first.
  absl::Status bad = m.rt.block_on([] {
    return ntime::interval(absl::ZeroDuration()).tick();
  });
  CHECK(bad.code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("std::chrono durations work too") {
  Runtime rt = Runtime::with_workers(1);
  int64_t start = SteadyNanos();
  absl::Status s = rt.block_on([] { return ntime::sleep(std::chrono::milliseconds(3)); });
  CHECK(s.ok());
  CHECK(SteadyNanos() - start >= 3000000);
  auto r = rt.block_on([] {
    Promise<int> never;
    return ntime::timeout(std::chrono::milliseconds(2), never.get_future());
  });
  // The promise died with the lambda: broken promise, before the deadline.
  CHECK(r.status().code() == absl::StatusCode::kCancelled);
}

TEST_CASE("timers fire on time while every worker is busy") {
  Runtime rt = Runtime::with_workers(2);
  std::atomic<bool> busy{true};
  std::atomic<bool> fired_while_busy{false};
  absl::Status s = rt.block_on([&] {
    std::vector<Future<void>> all;
    int64_t end = SteadyNanos() + 1500 * 1000000LL;
    // Two tasks (one per worker) that never leave the run queue empty.
    for (int w = 0; w < 2; ++w) {
      all.push_back(nanorun::spawn([end, &busy] {
        return nanorun::repeat([end, &busy] {
          return nanorun::yield_now().then([end, &busy] {
            bool over = SteadyNanos() >= end;
            if (over) busy = false;
            return over;
          });
        });
      }));
    }
    all.push_back(ntime::sleep(absl::Milliseconds(20)).then([&] {
      fired_while_busy = busy.load();
    }));
    return nanorun::when_all(std::move(all));
  });
  REQUIRE(s.ok());
  CHECK(fired_while_busy);  // Not in a lump when the workers went idle.
}

TEST_CASE("a runtime destroyed with many pending timers cancels them all, leaking nothing") {
  const int kTimers = kSanitized ? 100000 : 1000000;
  std::vector<Future<void>> sleeps;
  sleeps.reserve(kTimers);
  std::atomic<int> continuations_run{0};
  Future<int> kept_timeout;
  Promise<int> never;
  {
    Runtime rt = Runtime::with_workers(2);
    Run(rt, [&] {
      for (int i = 0; i < kTimers; ++i) {
        sleeps.push_back(ntime::sleep(absl::Hours(1) + absl::Milliseconds(i)));
      }
      // Bound to the runtime: cancelled with it, never run (futures.md rule 6).
      (void)ntime::sleep(absl::Hours(1)).then([&] { ++continuations_run; });
      kept_timeout = ntime::timeout(absl::Hours(2), never.get_future());
    });
    CHECK(rt.handle().pending_timers() == static_cast<size_t>(kTimers) + 2);
  }
  CHECK(continuations_run == 0);
  int cancelled = 0;
  for (auto& f : sleeps) {
    REQUIRE(f.is_ready());
    absl::Status s = f.take_result();
    if (s.code() == absl::StatusCode::kCancelled && absl::StrContains(s.message(), "shut down")) {
      ++cancelled;
    }
  }
  CHECK(cancelled == kTimers);
  REQUIRE(kept_timeout.is_ready());
  CHECK(kept_timeout.take_result().status().code() == absl::StatusCode::kCancelled);
}

TEST_CASE("misuse: timeout on an empty future fails with a message") {
  Runtime rt = Runtime::with_workers(1);
  auto r = rt.block_on([] { return ntime::timeout(absl::Seconds(1), Future<int>()); });
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(absl::StrContains(r.status().message(), "the future to limit is empty"));
}

TEST_CASE("ManualClock::advance with a negative duration is reported misuse") {
  std::string message;
  static std::string* sink = nullptr;
  sink = &message;
  nanorun::MisuseHandler previous =
      nanorun::SetMisuseHandler([](absl::string_view m) { *sink = std::string(m); });
  ntime::ManualClock clock;
  clock.advance(-absl::Seconds(1));
  nanorun::SetMisuseHandler(previous);
  CHECK(absl::StrContains(message, "negative"));
  CHECK(clock.elapsed() == 0);
}

}  // namespace
