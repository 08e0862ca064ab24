// Stress: the executor and futures under contention. Every test counts what
// it sent against what arrived, so a lost wakeup or a lost task fails it.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "nanorun/nanorun.h"
#include "tests/catch.h"

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

// 100,000 cross-thread wakes (10,000,000 with tools/stress.sh): every wake
// is counted, every task must see all of its wakes before it completes (a
// lost wakeup would leave it pending and hang the when_all), and no task is
// ever polled by two workers at once.
TEST_CASE("wakes from foreign threads racing completion lose nothing", "[stress]") {
  Runtime rt = Runtime::with_workers(2);
  const int kTasks = 2000 * Scale();
  const int kWakesPerTask = 50 * Scale();
  // Each task polls until it has seen kWakesPerTask wakes; foreign threads
  // deliver the wakes while the task runs, parks and completes.
  struct Shared {
    std::atomic<int> wakes{0};
    std::atomic<bool> in_poll{false};
    std::atomic<nanorun::Waker*> waker{nullptr};
    nanorun::Waker storage;
  };
  std::atomic<int> overlapping_polls{0};
  std::atomic<long> polls{0};
  std::atomic<long> wakes_sent{0};
  std::vector<std::shared_ptr<Shared>> shared;
  std::vector<Future<int>> results;
  for (int i = 0; i < kTasks; ++i) {
    auto s = std::make_shared<Shared>();
    shared.push_back(s);
    results.push_back(rt.handle().spawn([s, &overlapping_polls, &polls, kWakesPerTask] {
      return nanorun::poll_fn<int>([s, &overlapping_polls, &polls, kWakesPerTask](nanorun::Context& cx) {
        if (s->in_poll.exchange(true)) ++overlapping_polls;
        polls.fetch_add(1, std::memory_order_relaxed);
        nanorun::Poll<int> result = nanorun::Poll<int>::pending();
        if (s->wakes.load() >= kWakesPerTask) {
          result = nanorun::Poll<int>::ready(1);
        } else if (s->waker.load() == nullptr) {
          s->storage = cx.waker();
          s->waker.store(&s->storage);
        }
        s->in_poll.store(false);
        return result;
      });
    }));
  }
  std::vector<std::thread> wakers;
  for (int t = 0; t < 2; ++t) {
    wakers.emplace_back([&, t] {
      long sent = 0;
      for (int i = t; i < kTasks; i += 2) {
        while (shared[i]->waker.load() == nullptr) std::this_thread::yield();
        nanorun::Waker w = *shared[i]->waker.load();
        for (int k = 0; k < kWakesPerTask; ++k) {
          shared[i]->wakes.fetch_add(1);
          w.wake_by_ref();
          ++sent;
        }
      }
      wakes_sent += sent;
    });
  }
  for (auto& w : wakers) w.join();
  auto all = rt.block_on(nanorun::when_all(std::move(results)));
  REQUIRE(all.ok());
  CHECK(all->size() == static_cast<size_t>(kTasks));
  CHECK(wakes_sent.load() == static_cast<long>(kTasks) * kWakesPerTask);
  CHECK(overlapping_polls.load() == 0);
  // Wakes that arrive while a task is already scheduled merge into one poll
  // (as they should); the poll count shows how many were not merged.
  std::printf("foreign wakes: %ld wakes to %d tasks, %ld polls, all completed\n",
              wakes_sent.load(), kTasks, polls.load());
}

// Wakes that cannot merge: a foreign thread wakes a task again only after
// the task's poll has acknowledged the previous wake, so every wake must
// cause exactly one more poll. 100,000 wakes (10,000,000 with
// tools/stress.sh) over 1,000 tasks; a lost wakeup stalls a task (caught by
// the stall check and the timeout), a double poll shows in the poll count.
TEST_CASE("every acknowledged cross-thread wake causes exactly one poll", "[stress]") {
  Runtime rt = Runtime::with_workers(2);
  const int kTasks = 1000 * Scale();
  const int kWakesPerTask = 100 * Scale();
  struct Shared {
    std::atomic<int> sent{0};    // Written by the waking thread only.
    std::atomic<int> acked{-1};  // The `sent` the task's last poll saw.
    std::atomic<long> polls{0};
    nanorun::Waker waker;        // Set by the first poll, before acked = 0.
  };
  std::vector<std::unique_ptr<Shared>> shared;
  std::vector<Future<int>> results;
  for (int i = 0; i < kTasks; ++i) {
    shared.push_back(std::make_unique<Shared>());
    Shared* s = shared.back().get();
    results.push_back(rt.handle().spawn([s, kWakesPerTask] {
      return nanorun::poll_fn<int>([s, kWakesPerTask](nanorun::Context& cx) {
        s->polls.fetch_add(1, std::memory_order_relaxed);
        if (s->acked.load(std::memory_order_relaxed) < 0) s->waker = cx.waker();
        int seen = s->sent.load(std::memory_order_acquire);
        s->acked.store(seen, std::memory_order_release);
        return seen >= kWakesPerTask ? nanorun::Poll<int>::ready(1)
                                     : nanorun::Poll<int>::pending();
      });
    }));
  }
  std::atomic<bool> stalled{false};
  std::vector<std::thread> wakers;
  for (int t = 0; t < 2; ++t) {
    wakers.emplace_back([&, t] {
      int remaining = 0;
      for (int i = t; i < kTasks; i += 2) ++remaining;
      auto last_progress = std::chrono::steady_clock::now();
      while (remaining > 0) {
        bool progressed = false;
        for (int i = t; i < kTasks; i += 2) {
          Shared& s = *shared[i];
          int sent = s.sent.load(std::memory_order_relaxed);
          if (sent == kWakesPerTask || s.acked.load(std::memory_order_acquire) != sent) continue;
          s.sent.store(sent + 1, std::memory_order_release);
          s.waker.wake_by_ref();
          if (sent + 1 == kWakesPerTask) --remaining;
          progressed = true;
        }
        auto now = std::chrono::steady_clock::now();
        if (progressed) {
          last_progress = now;
        } else if (now - last_progress > std::chrono::seconds(60)) {
          stalled = true;  // Some task never saw its last wake.
          return;
        } else {
          std::this_thread::yield();
        }
      }
    });
  }
  for (auto& w : wakers) w.join();
  REQUIRE_FALSE(stalled.load());
  auto all = rt.block_on([&results] {
    return nanorun::time::timeout(absl::Seconds(60), nanorun::when_all(std::move(results)));
  });
  INFO(all.status());
  REQUIRE(all.ok());
  long polls = 0;
  bool exact = true;
  for (auto& s : shared) {
    polls += s->polls.load();
    exact = exact && s->polls.load() == kWakesPerTask + 1;  // The first poll + one per wake.
  }
  std::printf("acknowledged wakes: %ld wakes to %d tasks, %ld polls\n",
              static_cast<long>(kTasks) * kWakesPerTask, kTasks, polls);
  CHECK(exact);
  CHECK(polls == static_cast<long>(kTasks) * (kWakesPerTask + 1));
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
