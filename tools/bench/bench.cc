// nanorun's benchmark driver: runs the executor, future and timer workloads of
// ../shared/bench/WORKLOADS.md and prints one JSON line per workload.
//
//   tools/bazel run -c opt //tools/bench -- [--quick] [--runs N] [--only NAME] [--workers N]
//
// --quick divides every size by 10; --only runs one workload; each workload
// runs N times (default 5) and the median run is printed with min and max; --workers
// sets the runtime's worker count (default 2, as WORKLOADS.md says). Sizes and
// units follow WORKLOADS.md so results compare with peers'.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "nanorun/nanorun.h"
#include "tools/bench/report.h"

namespace {

using nanorun::Future;
using nanorun::Promise;
using nanorun::Runtime;
using bench::Check;
using bench::Clock;
using bench::Seconds;

int g_scale = 1;  // 10 with --quick.
using bench::g_first_run;
using bench::g_memory_extra;
using bench::HeapBytes;
using bench::PrintMedians;
using bench::Report;



// Counts down to zero and fulfils a promise there: "wait until all ran".
struct Countdown {
  explicit Countdown(long n) : left(n) {}
  void hit() {
    if (left.fetch_sub(1, std::memory_order_acq_rel) == 1) done.set_value();
  }
  std::atomic<long> left;
  Promise<void> done;
};

void SpawnMany(Runtime& rt) {
  const long n = 100000 / g_scale;
  auto start = Clock::now();
  absl::Status s = rt.block_on([n] {
    auto countdown = std::make_shared<Countdown>(n);
    Future<void> all = countdown->done.get_future();
    for (long i = 0; i < n; ++i) {
      (void)nanorun::spawn([c = countdown.get()] { c->hit(); });
    }
    return std::move(all).finally([countdown] {});
  });
  double secs = Seconds(start);
  Check(s.ok(), "spawn_many");
  Report("spawn_many", n, secs, n / secs, "tasks/s");
}

void SpawnRemote(Runtime& rt) {
  const long n = 100000 / g_scale;
  nanorun::Handle handle = rt.handle();
  auto countdown = std::make_shared<Countdown>(n);
  Future<void> all = countdown->done.get_future();
  auto start = Clock::now();
  for (long i = 0; i < n; ++i) {
    (void)handle.spawn([c = countdown.get()] { c->hit(); });
  }
  absl::Status s = rt.block_on(std::move(all));
  double secs = Seconds(start);
  Check(s.ok(), "spawn_remote");
  Report("spawn_remote", n, secs, n / secs, "tasks/s");
}

void YieldMany(Runtime& rt) {
  constexpr long tasks = 200;
  const long yields = 1000 / g_scale;
  auto start = Clock::now();
  absl::Status s = rt.block_on([yields] {
    std::vector<Future<void>> all;
    for (long t = 0; t < tasks; ++t) {
      all.push_back(nanorun::spawn([yields] {
        auto left = std::make_shared<long>(yields);
        return nanorun::repeat([left] {
          return nanorun::yield_now().then([left] { return --*left == 0; });
        });
      }));
    }
    return nanorun::when_all(std::move(all));
  });
  double secs = Seconds(start);
  Check(s.ok(), "yield_many");
  long n = tasks * yields;
  Report("yield_many", n, secs, n / secs, "yields/s", ", \"style\": \"yield_now\"");

  // The same count of yields through the executor alone: a poll_fn task that
  // wakes itself and returns pending (no future allocated per yield).
  start = Clock::now();
  s = rt.block_on([yields] {
    std::vector<Future<void>> all;
    for (long t = 0; t < tasks; ++t) {
      all.push_back(nanorun::spawn([yields] {
        long left = yields;
        return nanorun::poll_fn<void>([left](nanorun::Context& cx) mutable {
          if (left-- == 0) return nanorun::Poll<void>::ready();
          cx.waker().wake_by_ref();
          return nanorun::Poll<void>::pending();
        });
      }));
    }
    return nanorun::when_all(std::move(all));
  });
  secs = Seconds(start);
  Check(s.ok(), "yield_many_raw");
  Report("yield_many_raw", n, secs, n / secs, "yields/s", ", \"style\": \"poll_fn\"");
}

void PingPong(Runtime& rt) {
  const long rounds = 1000 / g_scale;
  auto start = Clock::now();
  absl::Status s = rt.block_on([rounds] {
    auto left = std::make_shared<long>(rounds);
    return nanorun::repeat([left] {
      // One round: spawn a peer; ping goes to it, pong comes back.
      Promise<int> ping;
      Future<int> ping_f = ping.get_future();
      auto peer = nanorun::spawn([f = std::move(ping_f)]() mutable {
        return std::move(f).then([](int x) { return x + 1; });
      });
      ping.set_value(1);
      return std::move(peer).then([left](int pong) {
        Check(pong == 2, "ping_pong reply");
        return --*left == 0;
      });
    });
  });
  double secs = Seconds(start);
  Check(s.ok(), "ping_pong");
  Report("ping_pong", rounds, secs, rounds / secs, "rounds/s");
}

// Spawns the next link; the last one completes the promise. The promise is
// shared by plain pointer (it outlives the chain), as the Asio baseline
// shares its latch by reference: no reference count per link.
void ChainLink(long depth_left, Promise<void>* done) {
  if (depth_left == 0) {
    done->set_value();
    return;
  }
  (void)nanorun::spawn([depth_left, done] { ChainLink(depth_left - 1, done); });
}

void ChainedSpawn(Runtime& rt) {
  constexpr long depth = 1000;
  const long repeats = 100 / g_scale;
  auto start = Clock::now();
  for (long r = 0; r < repeats; ++r) {
    Promise<void> done;
    Future<void> finished = done.get_future();
    absl::Status s = rt.block_on([&done, f = std::move(finished)]() mutable {
      ChainLink(depth, &done);
      return std::move(f);
    });
    Check(s.ok(), "chained_spawn");
  }
  double secs = Seconds(start);
  long n = depth * repeats;
  Report("chained_spawn", n, secs, n / secs, "spawns/s");
}

double g_idle_rate = 0;

void IdleTaskMemory(Runtime& rt) {
  const long n = 100000 / g_scale;
  std::vector<Promise<int>> promises(n);
  std::vector<Future<int>> futures;
  futures.reserve(n);
  for (auto& p : promises) futures.push_back(p.get_future());
  std::vector<nanorun::JoinHandle<int>> handles;
  handles.reserve(n);
  long before = HeapBytes();
  auto start = Clock::now();
  auto started = std::make_shared<Countdown>(n);
  Future<void> all_started = started->done.get_future();
  for (long i = 0; i < n; ++i) {
    handles.push_back(rt.handle().spawn(
        [f = std::move(futures[i]), c = started.get()]() mutable {
          c->hit();
          return std::move(f);
        }));
  }
  Check(rt.block_on(std::move(all_started)).ok(), "idle tasks started");
  double secs = Seconds(start);
  long growth = HeapBytes() - before;
  double per_task = static_cast<double>(growth) / n;
  if (g_first_run) {
    char extra[96];
    std::snprintf(extra, sizeof(extra), ", \"bytes_per_task\": %.1f", per_task);
    g_memory_extra = extra;
    g_idle_rate = per_task > 0 ? 1.0 / per_task : 0;
  }
  for (long i = 0; i < n; ++i) promises[i].set_value(static_cast<int>(i));
  for (long i = 0; i < n; ++i) {
    auto r = rt.block_on(std::move(handles[i]));
    Check(r.ok() && *r == i, "idle task result");
  }
  // The rate is the memory figure (first run); runs only vary in time.
  Report("idle_task_memory", n, secs, g_idle_rate, "1/bytes");
}

void ThenChainReady() {
  const long n = 1000000 / g_scale;
  auto start = Clock::now();
  Future<int> f = nanorun::make_ready_future(0);
  for (long i = 0; i < n; ++i) f = std::move(f).then([](int x) { return x + 1; });
  auto r = f.take_result();
  double secs = Seconds(start);
  Check(r.ok() && *r == n, "then_chain_ready");
  Report("then_chain_ready", n, secs, n / secs, "thens/s");
}

void ThenChainDeferred() {
  const long n = 1000000 / g_scale;
  long before = HeapBytes();
  auto start = Clock::now();
  Promise<int> p;
  Future<int> f = p.get_future();
  for (long i = 0; i < n; ++i) f = std::move(f).then([](int x) { return x + 1; });
  long growth = HeapBytes() - before;
  p.set_value(0);
  auto r = f.take_result();
  double secs = Seconds(start);
  Check(r.ok() && *r == n, "then_chain_deferred");
  if (g_first_run) {
    char extra[128];
    std::snprintf(extra, sizeof(extra),
                  ", \"heap_bytes\": %ld, \"bytes_per_link\": %.1f", growth,
                  static_cast<double>(growth) / n);
    g_memory_extra = extra;
  }
  Report("then_chain_deferred", n, secs, n / secs, "thens/s");
}

void CrossThreadHop(Runtime& rt) {
  const long n = 100000 / g_scale;
  nanorun::Handle handle = rt.handle();
  auto start = Clock::now();
  for (long i = 0; i < n; ++i) {
    Promise<long> request;
    Promise<long> reply;
    Future<long> reply_f = reply.get_future();
    Future<void> hop = request.get_future().via(handle).then(
        [r = std::move(reply)](long x) mutable { r.set_value(x + 1); });
    request.set_value(i);
    auto v = rt.block_on(std::move(reply_f));
    Check(v.ok() && *v == i + 1, "cross_thread_hop");
  }
  double secs = Seconds(start);
  Report("cross_thread_hop", n, secs, n / secs, "hops/s");
}

// Each run gets a fresh runtime with --workers workers, created outside the timing.
template <void (*Fn)(Runtime&)>
void WithRuntime() {
  Runtime rt = Runtime::with_workers(static_cast<size_t>(bench::g_workers));
  Fn(rt);
}

// The RPC deadline pattern: a timeout armed around a call that answers long
// before it (the timer is inserted and then unlinked).
void TimerCancel(Runtime& rt) {
  const long n = 1000000 / g_scale;
  auto start = Clock::now();
  absl::Status s = rt.block_on([n] {
    long sum = 0;
    for (long i = 0; i < n; ++i) {
      Promise<long> reply;
      Future<long> guarded = nanorun::time::timeout(absl::Seconds(10), reply.get_future());
      reply.set_value(i);
      auto r = guarded.take_result();  // Ready: the reply won.
      if (!r.ok()) return r.status();
      sum += *r;
    }
    Check(sum == n * (n - 1) / 2, "timer_cancel results");
    return absl::OkStatus();
  });
  double secs = Seconds(start);
  Check(s.ok(), "timer_cancel");
  Check(rt.handle().pending_timers() == 0, "timer_cancel left timers behind");
  Report("timer_cancel", n, secs, n / secs, "timers/s");
}

// Sleeps with deadlines spread evenly over 1..200 ms, all awaited; lateness
// is how long after its deadline each continuation ran.
void TimerFire(Runtime& rt) {
  const long n = 100000 / g_scale;
  std::vector<int64_t> lateness_ns(static_cast<size_t>(n));
  auto start = Clock::now();
  absl::Status s = rt.block_on([n, &lateness_ns] {
    std::vector<Future<void>> all;
    all.reserve(static_cast<size_t>(n));
    auto t0 = Clock::now();
    for (long i = 0; i < n; ++i) {
      auto wait = std::chrono::microseconds(1000 + i * 199000 / n);
      auto deadline = t0 + wait;
      all.push_back(nanorun::time::sleep(deadline - Clock::now()).then([&lateness_ns, i, deadline] {
        lateness_ns[static_cast<size_t>(i)] =
            std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - deadline).count();
      }));
    }
    return nanorun::when_all(std::move(all));
  });
  double secs = Seconds(start);
  Check(s.ok(), "timer_fire");
  Check(*std::min_element(lateness_ns.begin(), lateness_ns.end()) >= 0,
        "timer_fire: a timer fired early");
  bench::ReportTimerFire(n, secs, lateness_ns);
}

}  // namespace

int main(int argc, char** argv) {
  return bench::RunMain(argc, argv, "nanorun", &g_scale,
                        {
                            {"spawn_many", WithRuntime<SpawnMany>},
                            {"spawn_remote", WithRuntime<SpawnRemote>},
                            {"yield_many", WithRuntime<YieldMany>},
                            {"ping_pong", WithRuntime<PingPong>},
                            {"chained_spawn", WithRuntime<ChainedSpawn>},
                            {"idle_task_memory", WithRuntime<IdleTaskMemory>},
                            {"then_chain_ready", ThenChainReady},
                            {"then_chain_deferred", ThenChainDeferred},
                            {"cross_thread_hop", WithRuntime<CrossThreadHop>},
                            {"timer_cancel", WithRuntime<TimerCancel>},
                            {"timer_fire", WithRuntime<TimerFire>},
                        });
}
