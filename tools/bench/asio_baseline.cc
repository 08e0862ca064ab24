// The peer baseline for tools/bench: the executor workloads of WORKLOADS.md
// written the natural way for standalone Asio (an io_context run by 2
// threads; a "task" is a posted handler). tools/bench/run.sh runs it right
// after nanorun's bench, so the ratio is measured on the same machine in the
// same minute. Futures workloads have no Asio equivalent and are not here;
// timers are Asio's steady_timer.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "asio.hpp"
#include "tools/bench/asio_pool.h"
#include "tools/bench/report.h"

namespace {

using bench::Clock;
using bench::Seconds;
int g_scale = 1;

using bench::Countdown;
using bench::Done;
using bench::Pool;

void SpawnMany() {
  const long n = 100000 / g_scale;
  Pool pool;
  Countdown c(n);
  auto start = Clock::now();
  asio::post(pool.ctx(), [&] {
    for (long i = 0; i < n; ++i) asio::post(pool.ctx(), [&c] { c.hit(); });
  });
  c.done.wait();
  double secs = Seconds(start);
  bench::Report("spawn_many", n, secs, n / secs, "tasks/s");
}

void SpawnRemote() {
  const long n = 100000 / g_scale;
  Pool pool;
  Countdown c(n);
  auto start = Clock::now();
  for (long i = 0; i < n; ++i) asio::post(pool.ctx(), [&c] { c.hit(); });
  c.done.wait();
  double secs = Seconds(start);
  bench::Report("spawn_remote", n, secs, n / secs, "tasks/s");
}

// A handler that re-posts itself `left` more times: Asio's yield.
struct Yielder {
  asio::io_context* ctx;
  long left;
  Countdown* c;
  void operator()() {
    if (left-- == 0) {
      c->hit();
      return;
    }
    asio::post(*ctx, *this);
  }
};

void YieldMany() {
  constexpr long tasks = 200;
  const long yields = 1000 / g_scale;
  Pool pool;
  Countdown c(tasks);
  auto start = Clock::now();
  asio::post(pool.ctx(), [&] {
    for (long t = 0; t < tasks; ++t) asio::post(pool.ctx(), Yielder{&pool.ctx(), yields, &c});
  });
  c.done.wait();
  double secs = Seconds(start);
  long n = tasks * yields;
  bench::Report("yield_many", n, secs, n / secs, "yields/s");
}

void PingPong() {
  const long rounds = 1000 / g_scale;
  Pool pool;
  Done done;
  auto& ctx = pool.ctx();
  // One round: post a peer, which posts the reply back; the reply starts the
  // next round.
  std::function<void(long)> round = [&](long left) {
    if (left == 0) {
      done.set();
      return;
    }
    asio::post(ctx, [&, left] {
      int ping = 1;
      asio::post(ctx, [&, left, ping] {
        int pong = ping + 1;
        if (pong != 2) std::abort();
        round(left - 1);
      });
    });
  };
  auto start = Clock::now();
  asio::post(ctx, [&] { round(rounds); });
  done.wait();
  double secs = Seconds(start);
  bench::Report("ping_pong", rounds, secs, rounds / secs, "rounds/s");
}

void ChainedSpawn() {
  constexpr long depth = 1000;
  const long repeats = 100 / g_scale;
  Pool pool;
  auto& ctx = pool.ctx();
  auto start = Clock::now();
  for (long r = 0; r < repeats; ++r) {
    Done done;
    std::function<void(long)> link = [&](long left) {
      if (left == 0) {
        done.set();
        return;
      }
      asio::post(ctx, [&link, left] { link(left - 1); });
    };
    asio::post(ctx, [&] { link(depth); });
    done.wait();
  }
  double secs = Seconds(start);
  long n = depth * repeats;
  bench::Report("chained_spawn", n, secs, n / secs, "spawns/s");
}

// An idle "task" in Asio: a pending wait (a steady_timer that will not fire
// by itself) whose handler would continue the work.
void IdleTaskMemory() {
  const long n = 100000 / g_scale;
  Pool pool;
  std::vector<std::unique_ptr<asio::steady_timer>> timers;
  timers.reserve(n);
  Countdown c(n);
  long before = bench::HeapBytes();
  auto start = Clock::now();
  for (long i = 0; i < n; ++i) {
    timers.push_back(std::make_unique<asio::steady_timer>(pool.ctx()));
    timers.back()->expires_at(asio::steady_timer::time_point::max());
    timers.back()->async_wait([&c](const asio::error_code&) { c.hit(); });
  }
  long growth = bench::HeapBytes() - before;
  double secs = Seconds(start);
  for (auto& t : timers) t->cancel();
  c.done.wait();
  double per_task = static_cast<double>(growth) / n;
  static double rate = 0;
  if (bench::g_first_run) {
    char extra[96];
    std::snprintf(extra, sizeof(extra), ", \"bytes_per_task\": %.1f", per_task);
    bench::g_memory_extra = extra;
    rate = per_task > 0 ? 1.0 / per_task : 0;
  }
  bench::Report("idle_task_memory", n, secs, rate, "1/bytes");
}

// The RPC deadline pattern in Asio: a steady_timer armed for 10 s around a
// call that answers first, then cancelled (its handler sees
// operation_aborted). Run on the pool, like nanorun's.
void TimerCancel() {
  const long n = 1000000 / g_scale;
  Pool pool;
  Done done;
  std::atomic<long> aborted{0};
  auto start = Clock::now();
  asio::post(pool.ctx(), [&] {
    for (long i = 0; i < n; ++i) {
      asio::steady_timer timer(pool.ctx(), std::chrono::seconds(10));
      timer.async_wait([&](const asio::error_code& ec) {
        if (ec == asio::error::operation_aborted &&
            aborted.fetch_add(1, std::memory_order_relaxed) + 1 == n) {
          done.set();
        }
      });
      timer.cancel();
    }
  });
  done.wait();
  double secs = Seconds(start);
  bench::Report("timer_cancel", n, secs, n / secs, "timers/s");
}

// Sleeps spread over 1..200 ms, each a steady_timer; lateness measured from
// each deadline to its handler.
void TimerFire() {
  const long n = 100000 / g_scale;
  Pool pool;
  Done done;
  std::vector<int64_t> lateness_ns(static_cast<size_t>(n));
  std::vector<std::unique_ptr<asio::steady_timer>> timers(static_cast<size_t>(n));
  std::atomic<long> left{n};
  auto start = Clock::now();
  asio::post(pool.ctx(), [&] {
    auto t0 = Clock::now();
    for (long i = 0; i < n; ++i) {
      auto deadline = t0 + std::chrono::microseconds(1000 + i * 199000 / n);
      timers[static_cast<size_t>(i)] = std::make_unique<asio::steady_timer>(pool.ctx(), deadline);
      timers[static_cast<size_t>(i)]->async_wait([&, i, deadline](const asio::error_code&) {
        lateness_ns[static_cast<size_t>(i)] =
            std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - deadline).count();
        if (left.fetch_sub(1, std::memory_order_acq_rel) == 1) done.set();
      });
    }
  });
  done.wait();
  double secs = Seconds(start);
  bench::ReportTimerFire(n, secs, lateness_ns);
}

}  // namespace

int main(int argc, char** argv) {
  return bench::RunMain(argc, argv, "asio", &g_scale,
                        {
                            {"spawn_many", SpawnMany},
                            {"spawn_remote", SpawnRemote},
                            {"yield_many", YieldMany},
                            {"ping_pong", PingPong},
                            {"chained_spawn", ChainedSpawn},
                            {"idle_task_memory", IdleTaskMemory},
                            {"timer_cancel", TimerCancel},
                            {"timer_fire", TimerFire},
                        });
}
