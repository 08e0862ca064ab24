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
#include "nanorun/nanorun.h"
#include "tests/catch.h"
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
    ntime::sleep(absl::Milliseconds(10)).then([&] { done = true; }).detach();
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
    ntime::sleep_until(ntime::now() + absl::Milliseconds(5)).then([&] { done = true; }).detach();
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
    ntime::timeout(absl::Milliseconds(10), p.get_future())
        .then_result([&](absl::StatusOr<int> r) {
          seen = r.status();
          done = true;
        })
        .detach();
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
      ntime::timeout(absl::Milliseconds(10), std::move(inner))
          .then_result([&](absl::StatusOr<int> r) { result = r.ok() ? *r : -1; })
          .detach();
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
    Run(m.rt, [&] { iv.tick().then([&] { ++ticks; }).detach(); });
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
      ntime::sleep(absl::Hours(1)).then([&] { ++continuations_run; }).detach();
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

// --- Stopping: what a drop, an abort or a timeout does to the work underneath --------
// (docs/cancellation.md). Each case observes the work itself: the timer wheel
// (pending_timers), the callbacks that run, the loop's steps.
namespace stopping {

using nanorun::JoinHandle;
using nanorun::make_error_future;

// Waits until the runtime has no pending timer; false after 30 s.
bool TimersDrain(Runtime& rt) {
  return WaitFor([&] { return rt.handle().pending_timers() == 0; });
}

TEST_CASE("stop: aborting a task parked in sleep(1h) takes the timer out of the wheel") {
  Runtime rt = Runtime::with_workers(2);
  JoinHandle<void> h = rt.handle().spawn([] { return ntime::sleep(absl::Hours(1)); });
  REQUIRE(WaitFor([&] { return rt.handle().pending_timers() == 1; }));
  h.abort();
  CHECK(TimersDrain(rt));
  CHECK(rt.block_on(std::move(h)).code() == absl::StatusCode::kCancelled);
}

TEST_CASE("stop: timeout(20ms, sleep(1h)) fails with DeadlineExceeded and the sleep is gone") {
  Runtime rt = Runtime::with_workers(2);
  absl::Status s = rt.block_on([] {
    return ntime::timeout(absl::Milliseconds(20), ntime::sleep(absl::Hours(1)));
  });
  CHECK(s.code() == absl::StatusCode::kDeadlineExceeded);
  CHECK(absl::StrContains(s.message(), "did not complete within 20ms"));
  CHECK(rt.handle().pending_timers() == 0);  // Both timers, at once: no wait.
}

TEST_CASE("stop: dropping a timeout stops what it limits; so does aborting its task") {
  Runtime rt = Runtime::with_workers(2);
  Run(rt, [] { (void)ntime::timeout(absl::Hours(1), ntime::sleep(absl::Hours(2))); });
  CHECK(TimersDrain(rt));
  JoinHandle<void> h = rt.handle().spawn(
      [] { return ntime::timeout(absl::Hours(1), ntime::sleep(absl::Hours(2))); });
  REQUIRE(WaitFor([&] { return rt.handle().pending_timers() == 2; }));
  h.abort();
  CHECK(TimersDrain(rt));
}

TEST_CASE("stop: a dropped .then chain stops its sleep; then() never runs, finally() does") {
  Runtime rt = Runtime::with_workers(2);
  std::atomic<int> then_ran{0}, finally_ran{0};
  Run(rt, [&] {
    Future<int> chain = ntime::sleep(absl::Hours(1))
                            .then([&] { ++then_ran; })
                            .finally([&] { ++finally_ran; })
                            .then([&] {
                              ++then_ran;
                              return 1;
                            });
    CHECK(nanorun::Handle::current().pending_timers() == 1);
  });  // `chain` dropped here.
  CHECK(TimersDrain(rt));
  REQUIRE(WaitFor([&] { return finally_ran.load() == 1; }));
  CHECK(then_ran == 0);
}

TEST_CASE("stop: a stop that comes while a callback runs applies to the future it returns") {
  Runtime rt = Runtime::with_workers(2);
  Promise<int> p;
  std::atomic<bool> callback_ran{false};
  Run(rt, [&] {
    Future<void> chain = p.get_future().then([&](int) {
      callback_ran = true;
      return ntime::sleep(absl::Hours(1));
    });
    CHECK_FALSE(chain.request_stop());  // A promise cannot stop: the stop waits.
  });
  Run(rt, [&] { p.set_value(1); });
  CHECK(callback_ran);  // Its input arrived: the callback ran...
  CHECK(TimersDrain(rt));  // ...and the sleep it returned was stopped at once.
}

TEST_CASE("stop: request_stop says whether the work can stop, and settles it") {
  Runtime rt = Runtime::with_workers(2);
  Run(rt, [] {
    Future<void> s = ntime::sleep(absl::Hours(1));
    CHECK(s.request_stop());
    REQUIRE(s.is_ready());  // Settled inside the call.
    absl::Status r = s.take_result();
    CHECK(r.code() == absl::StatusCode::kCancelled);
    CHECK(absl::StrContains(r.message(), "stopped before its deadline"));
    Promise<int> p;
    Future<int> f = p.get_future();
    CHECK_FALSE(f.request_stop());
    CHECK_FALSE(f.is_ready());
    Future<int> ready = nanorun::make_ready_future(3);
    CHECK(ready.request_stop());
    CHECK(ready.take_result().value() == 3);
  });
  CHECK(rt.handle().pending_timers() == 0);
}

TEST_CASE("stop: detach() lets the work run to its end with nobody waiting") {
  Runtime rt = Runtime::with_workers(2);
  std::atomic<bool> ran{false};
  Run(rt, [&] { ntime::sleep(absl::Milliseconds(5)).then([&] { ran = true; }).detach(); });
  CHECK(WaitFor([&] { return ran.load(); }));
}

TEST_CASE("stop: aborting a task that returned a repeat loop stops the loop") {
  Runtime rt = Runtime::with_workers(2);
  auto steps = std::make_shared<std::atomic<int>>(0);
  JoinHandle<void> h = rt.handle().spawn([steps] {
    return nanorun::repeat([steps] {
      steps->fetch_add(1);
      return nanorun::yield_now().then([] { return false; });
    });
  });
  REQUIRE(WaitFor([&] { return steps->load() > 1000; }));
  h.abort();
  CHECK(rt.block_on(std::move(h)).code() == absl::StatusCode::kCancelled);
  // At most the step that was running when the stop came finishes.
  int after_abort = steps->load();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK(steps->load() <= after_abort + 1);
}

TEST_CASE("stop: a dropped repeat loop stops the sleep it waits on, and starts no step") {
  Runtime rt = Runtime::with_workers(2);
  std::atomic<int> steps{0};
  Run(rt, [&] {
    Future<void> loop = nanorun::repeat([&] {
      ++steps;
      return ntime::sleep(absl::Hours(1)).then([] { return false; });
    });
  });
  CHECK(TimersDrain(rt));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(steps == 1);
}

TEST_CASE("stop: when_any stops the inputs that lost; when_all stops the rest on an error") {
  Runtime rt = Runtime::with_workers(2);
  auto any = rt.block_on([] {
    std::vector<Future<void>> inputs;
    inputs.push_back(ntime::sleep(absl::Hours(1)));
    inputs.push_back(ntime::sleep(absl::Milliseconds(1)));
    inputs.push_back(ntime::sleep(absl::Hours(2)));
    return nanorun::when_any(std::move(inputs));
  });
  REQUIRE(any.ok());
  CHECK(*any == 1);
  CHECK(TimersDrain(rt));
  absl::Status all = rt.block_on([] {
    std::vector<Future<void>> inputs;
    inputs.push_back(ntime::sleep(absl::Hours(1)));
    inputs.push_back(ntime::sleep(absl::Milliseconds(1)).then(
        [] { return absl::InternalError("input 1 failed"); }));
    return nanorun::when_all(std::move(inputs));
  });
  CHECK(all.code() == absl::StatusCode::kInternal);
  CHECK(TimersDrain(rt));
  // The tuple form too.
  auto tuple = rt.block_on([] {
    return nanorun::when_all(ntime::sleep(absl::Hours(1)),
                             make_error_future<int>(absl::NotFoundError("gone")));
  });
  CHECK(tuple.status().code() == absl::StatusCode::kNotFound);
  CHECK(TimersDrain(rt));
}

TEST_CASE("stop: dropping a chain of 200,000 .then steps walks it without recursion") {
  Runtime rt = Runtime::with_workers(2);
  const int kSteps = kSanitized ? 20000 : 200000;
  std::atomic<int> ran{0};
  Run(rt, [&] {
    Future<int> f = ntime::sleep(absl::Hours(1)).then([] { return 0; });
    for (int i = 0; i < kSteps; ++i) {
      f = std::move(f).then([&](int v) {
        ++ran;
        return v + 1;
      });
    }
  });  // Dropped: the stop walks 200,000 nodes up to the sleep.
  CHECK(rt.handle().pending_timers() == 0);
  CHECK(ran == 0);
}

TEST_CASE("stop stress: timeouts racing their sleeps settle once, with a result or the deadline") {
  Runtime rt = Runtime::with_workers(2);
  const int kRounds = kSanitized ? 300 : 3000;
  std::atomic<int> ok{0}, deadline{0}, other{0};
  std::vector<JoinHandle<void>> tasks;
  for (int i = 0; i < kRounds; ++i) {
    tasks.push_back(rt.handle().spawn([&, i] {
      absl::Duration limit = absl::Microseconds(500 + (i * 7919) % 1500);
      absl::Duration work = absl::Microseconds(500 + (i * 104729) % 1500);
      return ntime::timeout(limit, ntime::sleep(work)).then_result([&](absl::Status s) {
        if (s.ok()) {
          ++ok;
        } else if (s.code() == absl::StatusCode::kDeadlineExceeded) {
          ++deadline;
        } else {
          ++other;
        }
      });
    }));
  }
  for (auto& t : tasks) REQUIRE(rt.block_on(std::move(t)).ok());
  CHECK(ok + deadline == kRounds);
  CHECK(other == 0);
  CHECK(rt.handle().pending_timers() == 0);
}

}  // namespace stopping

namespace stopping_combinators {

TEST_CASE("stop: dropping a when_all or when_any, or timing it out, stops its inputs") {
  Runtime rt = Runtime::with_workers(2);
  auto sleeps = [] {
    std::vector<Future<void>> in;
    in.push_back(ntime::sleep(absl::Hours(1)));
    in.push_back(ntime::sleep(absl::Hours(2)));
    return in;
  };
  Run(rt, [&] {
    (void)nanorun::when_all(sleeps());
    (void)nanorun::when_any(sleeps());
    (void)nanorun::when_all(ntime::sleep(absl::Hours(1)), ntime::sleep(absl::Hours(2)));
  });
  CHECK(WaitFor([&] { return rt.handle().pending_timers() == 0; }));
  auto any = rt.block_on(
      [&] { return ntime::timeout(absl::Milliseconds(20), nanorun::when_any(sleeps())); });
  CHECK(any.status().code() == absl::StatusCode::kDeadlineExceeded);
  CHECK(rt.handle().pending_timers() == 0);
}

TEST_CASE("stop stress: a when_any dropped while its inputs settle settles once, leaking nothing") {
  Runtime rt = Runtime::with_workers(2);
  const int kRounds = kSanitized ? 300 : 3000;
  for (int i = 0; i < kRounds; ++i) {
    Promise<int> p;
    std::thread fulfil([&] { p.set_value(i); });
    Run(rt, [&] {
      std::vector<Future<int>> in;
      in.push_back(p.get_future());
      in.push_back(ntime::sleep(absl::Hours(1)).then([] { return -1; }));
      (void)nanorun::when_any(std::move(in));
    });
    fulfil.join();
  }
  CHECK(WaitFor([&] { return rt.handle().pending_timers() == 0; }));
}

TEST_CASE("when_all whose input's continuation dies with its runtime settles CancelledError") {
  Promise<int> p;
  Future<std::vector<int>> all;
  {
    Runtime rt = Runtime::with_workers(2);
    Run(rt, [&] {
      std::vector<Future<int>> in;
      in.push_back(p.get_future());  // The continuation on it is bound to rt.
      all = nanorun::when_all(std::move(in));
    });
  }
  p.set_value(1);  // Its continuation cannot run on a runtime that is gone.
  REQUIRE(all.is_ready());
  auto r = all.take_result();
  CHECK(r.status().code() == absl::StatusCode::kCancelled);
  CHECK(absl::StrContains(r.status().message(), "dropped before it ran"));
}

}  // namespace stopping_combinators

namespace stopping_tokens {

TEST_CASE("with_stop: one StopSource stops the waits of many tasks, and nothing else") {
  Runtime rt = Runtime::with_workers(2);
  nanorun::StopSource stop;
  std::vector<nanorun::JoinHandle<void>> tasks;
  for (int i = 0; i < 10; ++i) {
    tasks.push_back(rt.handle().spawn([token = stop.get_token()] {
      return nanorun::with_stop(token, ntime::sleep(absl::Hours(1)));
    }));
  }
  // Not stopped: the result passes through.
  absl::Status quick = rt.block_on([token = stop.get_token()] {
    return nanorun::with_stop(token, ntime::sleep(absl::Milliseconds(1)));
  });
  CHECK(quick.ok());
  REQUIRE(WaitFor([&] { return rt.handle().pending_timers() == 10; }));
  CHECK(stop.request_stop());
  for (auto& t : tasks) {
    absl::Status s = rt.block_on(std::move(t));
    CHECK(s.code() == absl::StatusCode::kCancelled);
    CHECK(absl::StrContains(s.message(), "stopped before its deadline"));
  }
  CHECK(rt.handle().pending_timers() == 0);
  // Already stopped: the future is asked at once.
  absl::Status late = rt.block_on([token = stop.get_token()] {
    return nanorun::with_stop(token, ntime::sleep(absl::Hours(1)));
  });
  CHECK(late.code() == absl::StatusCode::kCancelled);
  // A value that is there wins; a promise cannot be stopped and still delivers.
  Promise<int> p;
  auto from_promise = rt.block_on([&] {
    Future<int> f = nanorun::with_stop(stop.get_token(), p.get_future());
    p.set_value(5);
    return f;
  });
  REQUIRE(from_promise.ok());
  CHECK(*from_promise == 5);
}

TEST_CASE("with_stop stress: a stop racing the result settles once, leaking nothing") {
  Runtime rt = Runtime::with_workers(2);
  const int kRounds = kSanitized ? 300 : 3000;
  int ok = 0, cancelled = 0;
  for (int i = 0; i < kRounds; ++i) {
    nanorun::StopSource stop;
    nanorun::JoinHandle<void> h = rt.handle().spawn([token = stop.get_token(), i] {
      return nanorun::with_stop(token, ntime::sleep(absl::Microseconds(i % 1500)));
    });
    std::thread stopper([&] { stop.request_stop(); });
    absl::Status s = rt.block_on(std::move(h));
    stopper.join();
    if (s.ok()) ++ok;
    if (s.code() == absl::StatusCode::kCancelled) ++cancelled;
  }
  CHECK(ok + cancelled == kRounds);
  CHECK(rt.handle().pending_timers() == 0);
}

}  // namespace stopping_tokens
