// Stress: the executor and futures under contention. Every test counts what
// it sent against what arrived, so a lost wakeup or a lost task fails it.
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "catch2/catch.hpp"
#include "nanorun/nanorun.h"

using nanorun::Future;
using nanorun::Promise;
using nanorun::Runtime;

// NANORUN_STRESS_SCALE multiplies the sizes below (tools/stress.sh runs
// them at 10x: 10,000,000 spawns; CI runs 1x in every configuration).
int Scale() {
  const char* text = std::getenv("NANORUN_STRESS_SCALE");
  int scale = text != nullptr ? std::atoi(text) : 1;
  return scale > 0 ? scale : 1;
}

TEST_CASE("1,000,000 tasks spawned from several threads all run", "[stress]") {
  Runtime rt = Runtime::with_workers(2);
  constexpr int kThreads = 4;
  const int kPerThread = 250000 * Scale();
  std::atomic<int> ran{0};
  std::vector<std::thread> spawners;
  for (int t = 0; t < kThreads; ++t) {
    spawners.emplace_back([&, handle = rt.handle()] {
      for (int i = 0; i < kPerThread; ++i) {
        (void)handle.spawn([&ran] { ran.fetch_add(1, std::memory_order_relaxed); });
      }
    });
  }
  for (auto& s : spawners) s.join();
  // Wait for all through the runtime itself: a final task per spawner
  // would race; poll the counter from a task instead.
  const int total = kThreads * kPerThread;
  auto done = rt.block_on([&ran, total] {
    return nanorun::repeat([&ran, total] {
      return nanorun::yield_now().then([&ran, total] { return ran.load() == total; });
    });
  });
  REQUIRE(done.ok());
  CHECK(ran.load() == kThreads * kPerThread);
}

TEST_CASE("tasks spawning tasks from workers all run and join", "[stress]") {
  Runtime rt = Runtime::with_workers(2);
  auto total = rt.block_on([] {
    std::vector<Future<int>> parents;
    for (int i = 0; i < 100; ++i) {
      parents.push_back(nanorun::spawn([] {
        std::vector<Future<int>> kids;
        for (int j = 0; j < 1000; ++j) kids.push_back(nanorun::spawn([] { return 1; }));
        return nanorun::when_all(std::move(kids)).then([](std::vector<int> v) {
          return static_cast<int>(v.size());
        });
      }));
    }
    return nanorun::when_all(std::move(parents)).then([](std::vector<int> v) {
      int sum = 0;
      for (int x : v) sum += x;
      return sum;
    });
  });
  REQUIRE(total.ok());
  CHECK(*total == 100000);
}

TEST_CASE("wakes from foreign threads racing completion lose nothing", "[stress]") {
  Runtime rt = Runtime::with_workers(2);
  const int kTasks = 2000 * Scale();
  constexpr int kWakesPerTask = 50;
  // Each task polls until it has seen kWakesPerTask wakes; foreign threads
  // deliver the wakes while the task runs, parks and completes.
  struct Shared {
    std::atomic<int> wakes{0};
    std::atomic<nanorun::Waker*> waker{nullptr};
    nanorun::Waker storage;
  };
  std::vector<std::shared_ptr<Shared>> shared;
  std::vector<Future<int>> results;
  for (int i = 0; i < kTasks; ++i) {
    auto s = std::make_shared<Shared>();
    shared.push_back(s);
    results.push_back(rt.handle().spawn([s] {
      return nanorun::poll_fn<int>([s](nanorun::Context& cx) {
        if (s->wakes.load() >= kWakesPerTask) return nanorun::Poll<int>::ready(1);
        if (s->waker.load() == nullptr) {
          s->storage = cx.waker();
          s->waker.store(&s->storage);
        }
        return nanorun::Poll<int>::pending();
      });
    }));
  }
  std::vector<std::thread> wakers;
  for (int t = 0; t < 2; ++t) {
    wakers.emplace_back([&, t] {
      for (int i = t; i < kTasks; i += 2) {
        while (shared[i]->waker.load() == nullptr) std::this_thread::yield();
        nanorun::Waker w = *shared[i]->waker.load();
        for (int k = 0; k < kWakesPerTask; ++k) {
          shared[i]->wakes.fetch_add(1);
          w.wake_by_ref();
        }
      }
    });
  }
  for (auto& w : wakers) w.join();
  auto all = rt.block_on(nanorun::when_all(std::move(results)));
  REQUIRE(all.ok());
  CHECK(all->size() == static_cast<size_t>(kTasks));
}

TEST_CASE("abort racing completion: every handle settles once", "[stress]") {
  Runtime rt = Runtime::with_workers(2);
  constexpr int kTasks = 20000;
  std::atomic<int> bodies_ran{0};
  std::vector<nanorun::JoinHandle<int>> handles;
  handles.reserve(kTasks);
  for (int i = 0; i < kTasks; ++i) {
    handles.push_back(rt.handle().spawn([&bodies_ran, i] {
      bodies_ran.fetch_add(1);
      return i;
    }));
  }
  std::thread aborter([&] {
    for (int i = 0; i < kTasks; i += 2) handles[i].abort();
  });
  aborter.join();
  int ok = 0, cancelled = 0;
  for (int i = 0; i < kTasks; ++i) {
    auto r = rt.block_on(std::move(handles[i]));
    if (r.ok()) {
      CHECK(*r == i);
      ++ok;
    } else {
      CHECK(absl::IsCancelled(r.status()));
      CHECK(i % 2 == 0);  // Only aborted ones may fail.
      ++cancelled;
    }
  }
  CHECK(ok + cancelled == kTasks);
  // A cancelled task never ran its body; a completed one ran it once.
  CHECK(bodies_ran.load() == ok);
}

TEST_CASE("shutdown with 100,000 pending tasks cancels them all", "[stress]") {
  std::vector<Promise<int>> promises(100000);
  std::vector<Future<int>> results;
  results.reserve(promises.size());
  {
    Runtime rt = Runtime::with_workers(2);
    for (auto& p : promises) {
      Future<int> f = p.get_future();
      results.push_back(rt.handle()
                            .spawn([f = std::move(f)]() mutable { return std::move(f); })
                            .into_future());
    }
  }
  size_t cancelled = 0;
  for (auto& f : results) {
    REQUIRE(f.is_ready());
    if (absl::IsCancelled(f.take_result().status())) ++cancelled;
  }
  CHECK(cancelled == promises.size());
  // Fulfilling after the runtime is gone is safe and changes nothing.
  for (auto& p : promises) p.set_value(1);
}

TEST_CASE("cross-thread promise hops complete in order", "[stress]") {
  Runtime rt = Runtime::with_workers(2);
  constexpr int kHops = 20000;
  int completed = 0;
  for (int i = 0; i < kHops; ++i) {
    Promise<int> request;
    Promise<int> reply;
    Future<int> reply_f = reply.get_future();
    Future<int> request_f = request.get_future();
    // The continuation is bound to the runtime (via), fulfilled from here.
    Future<void> hop = std::move(request_f).via(rt.handle()).then(
        [r = std::move(reply)](int x) mutable { r.set_value(x + 1); });
    request.set_value(i);
    auto v = rt.block_on(std::move(reply_f));
    REQUIRE(v.ok());
    if (*v == i + 1) ++completed;
  }
  CHECK(completed == kHops);
}

TEST_CASE("park/unpark hammered: bursts from a foreign thread while workers go idle", "[stress]") {
  Runtime rt = Runtime::with_workers(2);
  const int kBursts = 2000 * Scale();
  std::atomic<int> ran{0};
  int sent = 0;
  std::mt19937 rng(11);
  for (int b = 0; b < kBursts; ++b) {
    int n = 1 + static_cast<int>(rng() % 8);
    for (int i = 0; i < n; ++i) {
      (void)rt.handle().spawn([&ran] { ran.fetch_add(1, std::memory_order_relaxed); });
    }
    sent += n;
    // Often long enough for both workers to park, sometimes not.
    if (rng() % 3 == 0) std::this_thread::sleep_for(std::chrono::microseconds(rng() % 200));
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (ran.load() != sent && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  CHECK(ran.load() == sent);  // A lost wakeup would leave tasks queued here.
}
