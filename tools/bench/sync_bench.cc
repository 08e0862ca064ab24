// nanorun's side of the synchronisation workloads of ../shared/bench/WORKLOADS.md
// (channel_throughput, mutex_contended, semaphore_admission), written the way
// a user would: a task per producer or contender, each a `repeat` loop over
// the primitive's future. tools/bench/run.sh runs the Asio equivalents
// (asio_sync_baseline.cc) right after each one.
//
//   tools/bazel run -c opt //tools/bench:sync_bench -- [--quick] [--runs N] [--only NAME]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "nanorun/nanorun.h"
#include "tools/bench/report.h"

namespace {

using nanorun::Future;
using nanorun::JoinHandle;
using nanorun::Runtime;
using bench::Check;
using bench::Clock;
using bench::Seconds;

int g_scale = 1;  // 10 with --quick.



// 4 producer tasks send 250,000 (producer, sequence) pairs each through a
// channel of capacity 128; one consumer task receives all and checks the
// order of each producer.
void ChannelThroughput() {
  Runtime rt = Runtime::with_workers(static_cast<size_t>(bench::g_workers));
  constexpr int kProducers = 4;
  const int per_producer = 250000 / g_scale;
  const long n = static_cast<long>(kProducers) * per_producer;
  auto start = Clock::now();
  auto [tx, rx] = nanorun::sync::channel<std::pair<int, int>>(128);
  std::vector<JoinHandle<void>> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.push_back(rt.handle().spawn([tx = tx, p, per_producer] {
      auto next = std::make_shared<int>(0);
      return nanorun::repeat([tx, p, next, per_producer] {
        if (*next == per_producer) return nanorun::make_ready_future(true);
        return tx.send({p, (*next)++}).then([] { return false; });
      });
    }));
  }
  { auto ours = std::move(tx); }
  struct Consumer {
    nanorun::sync::Receiver<std::pair<int, int>> rx;
    std::vector<int> next = std::vector<int>(kProducers, 0);
    long received = 0;
    bool in_order = true;
  };
  auto c = std::make_shared<Consumer>(Consumer{std::move(rx)});
  absl::Status s = rt.block_on(rt.handle().spawn([c] {
    return nanorun::repeat([c] {
      return c->rx.recv().then([c](std::optional<std::pair<int, int>> m) {
        if (!m.has_value()) return true;
        ++c->received;
        if (m->second != c->next[m->first]) c->in_order = false;
        c->next[m->first] = m->second + 1;
        return false;
      });
    });
  }));
  double secs = Seconds(start);
  for (auto& p : producers) Check(rt.block_on(std::move(p)).ok(), "channel_throughput producer");
  Check(s.ok(), "channel_throughput consumer");
  Check(c->received == n, "channel_throughput: every message received");
  Check(c->in_order, "channel_throughput: per-producer order");
  bench::Report("channel_throughput", n, secs, n / secs, "messages/s");
}

// 64 tasks each lock and unlock one async Mutex 10,000 times, incrementing a
// plain counter inside.
void MutexContended() {
  Runtime rt = Runtime::with_workers(static_cast<size_t>(bench::g_workers));
  constexpr int kTasks = 64;
  const int per_task = 10000 / g_scale;
  const long n = static_cast<long>(kTasks) * per_task;
  nanorun::sync::Mutex mutex;
  auto counter = std::make_shared<long>(0);  // Guarded by `mutex` only.
  auto start = Clock::now();
  std::vector<JoinHandle<void>> tasks;
  for (int t = 0; t < kTasks; ++t) {
    tasks.push_back(rt.handle().spawn([mutex, counter, per_task] {
      auto left = std::make_shared<int>(per_task);
      return nanorun::repeat([mutex, counter, left] {
        return mutex.lock().then([counter, left](nanorun::sync::MutexGuard) {
          ++*counter;
          return --*left == 0;
        });
      });
    }));
  }
  for (auto& t : tasks) Check(rt.block_on(std::move(t)).ok(), "mutex_contended task");
  double secs = Seconds(start);
  Check(*counter == n, "mutex_contended: no lost update");
  bench::Report("mutex_contended", n, secs, n / secs, "lock+unlock/s");
}

// 10,000 tasks share 16 permits; each acquires, yields once, releases. The
// most holders at once must be exactly 16.
void SemaphoreAdmission() {
  Runtime rt = Runtime::with_workers(static_cast<size_t>(bench::g_workers));
  const long n = 10000 / g_scale;
  constexpr int kPermits = 16;
  nanorun::sync::Semaphore sem(kPermits);
  auto holders = std::make_shared<std::atomic<int>>(0);
  auto most = std::make_shared<std::atomic<int>>(0);
  auto start = Clock::now();
  std::vector<JoinHandle<void>> tasks;
  tasks.reserve(static_cast<size_t>(n));
  for (long i = 0; i < n; ++i) {
    tasks.push_back(rt.handle().spawn([sem, holders, most] {
      return sem.acquire().then([holders, most](nanorun::sync::SemaphorePermit permit) {
        int now = holders->fetch_add(1) + 1;
        int seen = most->load();
        while (now > seen && !most->compare_exchange_weak(seen, now)) {
        }
        return nanorun::yield_now().then([holders, permit = std::move(permit)]() mutable {
          holders->fetch_sub(1);
          permit.release();
        });
      });
    }));
  }
  for (auto& t : tasks) Check(rt.block_on(std::move(t)).ok(), "semaphore_admission task");
  double secs = Seconds(start);
  Check(most->load() <= kPermits, "semaphore_admission: at most 16 holders");
  Check(sem.available_permits() == kPermits, "semaphore_admission: every permit back");
  std::string extra = ", \"max_holders\": " + std::to_string(most->load());
  bench::Report("semaphore_admission", n, secs, n / secs, "acquires/s", extra.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  return bench::RunMain(argc, argv, "nanorun", &g_scale,
                        {
                            {"channel_throughput", ChannelThroughput},
                            {"mutex_contended", MutexContended},
                            {"semaphore_admission", SemaphoreAdmission},
                        });
}
