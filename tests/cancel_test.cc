// Layer: cancel. StopSource / StopToken / StopCallback: each rule stop_token.h
// states, and a stress case racing registration, deregistration and request.
#include <atomic>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "nanorun/cancel/stop_token.h"
#include "tests/catch.h"
#include "tests/test_util.h"

using nanorun::StopCallback;
using nanorun::StopSource;
using nanorun::StopToken;

TEST_CASE("a token sees the request; only the first request_stop makes it", "[cancel]") {
  StopSource source;
  StopToken token = source.get_token();
  CHECK(token.stop_possible());
  CHECK_FALSE(token.stop_requested());
  CHECK(source.request_stop());
  CHECK_FALSE(source.request_stop());
  CHECK(token.stop_requested());
  CHECK(StopToken(token).stop_requested());  // Copies share the state.
}

TEST_CASE("a default token can never be stopped; a token outlives its source", "[cancel]") {
  StopToken none;
  CHECK_FALSE(none.stop_possible());
  CHECK_FALSE(none.stop_requested());
  int ran = 0;
  { StopCallback cb(none, [&] { ++ran; }); }
  CHECK(ran == 0);

  std::optional<StopSource> source(StopSource{});
  StopToken token = source->get_token();
  source.reset();  // The last source: the token can no longer be stopped.
  CHECK_FALSE(token.stop_possible());
  CHECK_FALSE(token.stop_requested());

  StopSource stopped;
  StopToken kept = stopped.get_token();
  stopped.request_stop();
  { StopSource gone = std::move(stopped); }
  CHECK(kept.stop_requested());  // Requested before the sources went: stays so.
  CHECK(kept.stop_possible());
}

TEST_CASE("callbacks run exactly once on request, in the constructor if already requested",
          "[cancel]") {
  StopSource source;
  int a = 0, b = 0, late = 0;
  StopCallback ca(source.get_token(), [&] { ++a; });
  StopCallback cb(source.get_token(), [&] { ++b; });
  CHECK(a + b == 0);
  source.request_stop();
  source.request_stop();
  CHECK(a == 1);
  CHECK(b == 1);
  StopCallback cl(source.get_token(), [&] { ++late; });
  CHECK(late == 1);  // Ran in its constructor.
}

TEST_CASE("a callback deregistered before the request never runs", "[cancel]") {
  StopSource source;
  int ran = 0;
  { StopCallback cb(source.get_token(), [&] { ++ran; }); }
  source.request_stop();
  CHECK(ran == 0);
}

TEST_CASE("callbacks run outside our lock: they may register, request and destroy themselves",
          "[cancel]") {
  StopSource source;
  int inner_ran = 0;
  std::unique_ptr<StopCallback> inner;
  std::unique_ptr<StopCallback> self;
  StopCallback outer(source.get_token(), [&] {
    CHECK_FALSE(source.request_stop());  // Re-entrant request: already made.
    // Registering now runs at once (stop was requested), without deadlock.
    inner = std::make_unique<StopCallback>(source.get_token(), [&] { ++inner_ran; });
  });
  self = std::make_unique<StopCallback>(source.get_token(), [&] { self.reset(); });
  source.request_stop();
  CHECK(inner_ran == 1);
  CHECK(self == nullptr);  // Destroyed from inside its own callback, no wait.
}

TEST_CASE("~StopCallback waits for its callback running on another thread", "[cancel]") {
  for (int round = 0; round < 50; ++round) {
    StopSource source;
    std::atomic<bool> entered{false};
    std::atomic<bool> finished{false};
    auto cb = std::make_unique<StopCallback>(source.get_token(), [&] {
      entered.store(true);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      finished.store(true);
    });
    std::thread requester([&] { source.request_stop(); });
    while (!entered.load()) std::this_thread::yield();
    cb.reset();  // Must not return while the callback still runs.
    CHECK(finished.load());
    requester.join();
  }
}

TEST_CASE("stress: registration, deregistration and request race; each callback runs at most once "
          "and exactly once when registered across the request",
          "[cancel][stress]") {
  const int rounds = nanorun_test::kSanitized ? 200 : 2000;
  for (int round = 0; round < rounds; ++round) {
    StopSource source;
    constexpr int kThreads = 3;
    std::atomic<int> runs[kThreads][4] = {};
    std::atomic<bool> go{false};
    std::atomic<bool> returned{false};  // request_stop() has returned.
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        while (!go.load()) {
        }
        StopCallback kept(source.get_token(), [&, t] { runs[t][0].fetch_add(1); });
        for (int i = 1; i < 4; ++i) {
          StopCallback brief(source.get_token(), [&, t, i] { runs[t][i].fetch_add(1); });
        }
        // `kept` stays registered until request_stop() has returned, so it was
        // registered across the whole request and must have run exactly once.
        // (Deregistered after stop_requested() turned true but before the walk
        // reached it, it would rightly not run: that is not what is tested.)
        while (!returned.load()) std::this_thread::yield();
      });
    }
    go.store(true);
    source.request_stop();
    returned.store(true);
    for (auto& th : threads) th.join();
    for (int t = 0; t < kThreads; ++t) {
      CHECK(runs[t][0].load() == 1);
      for (int i = 1; i < 4; ++i) CHECK(runs[t][i].load() <= 1);
    }
  }
}
