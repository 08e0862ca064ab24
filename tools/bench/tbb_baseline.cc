// The oneTBB baseline for tools/bench (issue 15): the executor workloads of
// WORKLOADS.md that a task scheduler has (spawn_many, spawn_remote,
// ping_pong, chained_spawn), written the natural way for oneTBB 2021: a
// task_arena of --workers threads (default 2, the cores here, as nanorun), work
// spawned with task_group::run inside it, or enqueued from outside with
// task_arena::enqueue. tools/bench/run.sh runs it right after nanorun's bench
// and Asio's, so the ratios are measured within seconds of each other.
// oneTBB has no yield_now, no timers and no futures: those rows have no TBB
// figure.
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>

#include <cstdlib>
#include <functional>

#include "tools/bench/latch.h"
#include "tools/bench/report.h"

namespace {

using bench::Clock;
using bench::Countdown;
using bench::Done;
using bench::Seconds;
int g_scale = 1;

// Every workload runs --workers oneTBB worker threads: task_arena(N, 0)
// reserves no slot for the main thread, which only submits and then waits
// outside the arena, as the other programs' main threads do, and
// WorkerLimit lifts oneTBB's global limit (cores - 1 workers, as it counts
// the main thread as one) to N. (Before, task_arena(2) with its default
// reserved master slot ran everything on one worker thread, and
// task_arena(1) on none.)
struct WorkerLimit {
  tbb::global_control limit{tbb::global_control::max_allowed_parallelism,
                            static_cast<size_t>(bench::g_workers) + 1};
};


// A task spawns n children on its own worker, as in nanorun's spawn_many.
void SpawnMany() {
  const long n = 100000 / g_scale;
  WorkerLimit workers;
  tbb::task_arena arena(bench::g_workers, 0);
  tbb::task_group group;
  Countdown c(n);
  auto start = Clock::now();
  arena.execute([&] {
    group.run([&] {
      for (long i = 0; i < n; ++i) group.run([&c] { c.hit(); });
    });
  });
  c.done.wait();
  double secs = Seconds(start);
  arena.execute([&] { group.wait(); });
  bench::Report("spawn_many", n, secs, n / secs, "tasks/s");
}

// From a thread outside the pool: task_arena::enqueue, oneTBB's fire-and-forget.
void SpawnRemote() {
  const long n = 100000 / g_scale;
  WorkerLimit workers;
  tbb::task_arena arena(bench::g_workers, 0);
  Countdown c(n);
  auto start = Clock::now();
  for (long i = 0; i < n; ++i) arena.enqueue([&c] { c.hit(); });
  c.done.wait();
  double secs = Seconds(start);
  bench::Report("spawn_remote", n, secs, n / secs, "tasks/s");
}

// One round: spawn a peer, which computes the pong and spawns the next round.
void PingPong() {
  const long rounds = 1000 / g_scale;
  WorkerLimit workers;
  tbb::task_arena arena(bench::g_workers, 0);
  tbb::task_group group;
  Done done;
  std::function<void(long)> round = [&](long left) {
    if (left == 0) {
      done.set();
      return;
    }
    group.run([&, left] {
      int ping = 1;
      group.run([&, left, ping] {
        if (ping + 1 != 2) std::abort();
        round(left - 1);
      });
    });
  };
  auto start = Clock::now();
  arena.execute([&] { group.run([&] { round(rounds); }); });
  done.wait();
  double secs = Seconds(start);
  arena.execute([&] { group.wait(); });
  bench::Report("ping_pong", rounds, secs, rounds / secs, "rounds/s");
}

// Each link spawns the next and returns.
void ChainedSpawn() {
  constexpr long depth = 1000;
  const long repeats = 100 / g_scale;
  WorkerLimit workers;
  tbb::task_arena arena(bench::g_workers, 0);
  tbb::task_group group;
  auto start = Clock::now();
  for (long r = 0; r < repeats; ++r) {
    Done done;
    std::function<void(long)> link = [&](long left) {
      if (left == 0) {
        done.set();
        return;
      }
      group.run([&link, left] { link(left - 1); });
    };
    arena.execute([&] { group.run([&] { link(depth); }); });
    done.wait();
  }
  double secs = Seconds(start);
  arena.execute([&] { group.wait(); });
  long n = depth * repeats;
  bench::Report("chained_spawn", n, secs, n / secs, "spawns/s");
}

}  // namespace

int main(int argc, char** argv) {
  return bench::RunMain(argc, argv, "tbb", &g_scale,
                        {
                            {"spawn_many", SpawnMany},
                            {"spawn_remote", SpawnRemote},
                            {"ping_pong", PingPong},
                            {"chained_spawn", ChainedSpawn},
                        });
}
