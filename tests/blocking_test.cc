// The blocking pool (nanorun/blocking) and spawn_blocking: lazy growth up to
// the bound, FIFO queueing beyond it, idle retirement, jobs never on an async
// worker, the cancel rules (a queued job that is stopped never runs; a running
// one cannot be stopped), and what shutdown does with queued and running jobs.
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "nanorun/nanorun.h"
#include "tests/catch.h"
#include "tests/test_util.h"

namespace {

// The runtime's blocking pool, whose threads these tests count.
nanorun::blocking::BlockingPool& PoolOf(nanorun::Runtime& rt) {
  return nanorun::detail::HandleAccess::executor(rt.handle())->blocking_pool();
}

}  // namespace

namespace {

using nanorun::Future;
using nanorun::JoinHandle;
using nanorun::Runtime;
using nanorun::RuntimeOptions;
namespace ntime = nanorun::time;
using nanorun_test::kSanitized;
using nanorun_test::WaitFor;

Runtime MakeRuntime(size_t workers, size_t max_blocking,
                    absl::Duration keep_alive = absl::Seconds(10)) {
  RuntimeOptions options;
  options.workers = workers;
  options.max_blocking_threads = max_blocking;
  options.blocking_keep_alive = keep_alive;
  return Runtime(options);
}

TEST_CASE("spawn_blocking: the result comes back; the job never runs on an async worker") {
  Runtime rt = Runtime::with_workers(2);
  auto r = rt.block_on([] {
    return nanorun::spawn_blocking([] {
      // Not a worker: Handle::try_current() sees no runtime here.
      return nanorun::Handle::try_current().has_value() ? std::string("on a worker")
                                                        : std::string("on the pool");
    });
  });
  REQUIRE(r.ok());
  CHECK(*r == "on the pool");
  auto failed = rt.block_on(rt.handle().spawn_blocking(
      []() -> absl::StatusOr<int> { return absl::UnavailableError("db down"); }));
  CHECK(failed.status().code() == absl::StatusCode::kUnavailable);
  absl::Status done = rt.block_on(rt.handle().spawn_blocking([] {}));
  CHECK(done.ok());
  // Off a runtime it is a clear error, not a crash.
  auto off = nanorun::spawn_blocking([] { return 1; }).take_result();
  CHECK(off.status().code() == absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("spawn_blocking: 8 jobs sleeping 500 ms do not hold up timers or tasks on 2 workers") {
  Runtime rt = MakeRuntime(2, 512);
  std::vector<Future<int>> jobs;
  for (int i = 0; i < 8; ++i) {
    jobs.push_back(rt.handle().spawn_blocking([i] {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      return i;
    }));
  }
  auto t0 = std::chrono::steady_clock::now();
  absl::Status slept = rt.block_on([] { return ntime::sleep(absl::Milliseconds(5)); });
  auto took = std::chrono::steady_clock::now() - t0;
  REQUIRE(slept.ok());
  CHECK(took < std::chrono::milliseconds(kSanitized ? 200 : 50));
  auto spawned = rt.block_on(rt.handle().spawn([] { return 7; }));
  CHECK(*spawned == 7);
  // All 8 ran at once (8 threads), not one after another: about 500 ms, not 4 s.
  auto all = rt.block_on(nanorun::when_all(std::move(jobs)));
  REQUIRE(all.ok());
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(2500));
  CHECK((*all)[7] == 7);
}

TEST_CASE("blocking pool: grows lazily up to its bound, then queues FIFO; idle threads retire") {
  Runtime rt = MakeRuntime(1, 2, absl::Milliseconds(30));
  nanorun::blocking::BlockingPool& pool = PoolOf(rt);
  CHECK(pool.threads() == 0);  // Nothing started before the first job.
  auto first_gate = std::make_shared<absl::Notification>();
  auto second_gate = std::make_shared<absl::Notification>();
  auto order = std::make_shared<std::vector<int>>();
  auto order_mu = std::make_shared<std::mutex>();
  std::vector<Future<void>> jobs;
  for (int i = 0; i < 5; ++i) {
    jobs.push_back(rt.handle().spawn_blocking([=] {
      if (i == 0) first_gate->WaitForNotification();
      if (i == 1) second_gate->WaitForNotification();
      std::lock_guard<std::mutex> lock(*order_mu);
      order->push_back(i);
    }));
  }
  CHECK(WaitFor([&] { return pool.running() == 2; }));
  CHECK(pool.threads() == 2);  // The bound: the other three wait.
  CHECK(pool.queued() == 3);
  first_gate->Notify();  // One thread is free: it takes the queue in order.
  CHECK(WaitFor([&] {
    std::lock_guard<std::mutex> lock(*order_mu);
    return order->size() == 4;
  }));
  second_gate->Notify();
  for (auto& j : jobs) REQUIRE(rt.block_on(std::move(j)).ok());
  CHECK(*order == std::vector<int>{0, 2, 3, 4, 1});
  CHECK(WaitFor([&] { return pool.threads() == 0; }));  // Retired after 30 ms idle.
  CHECK(rt.block_on(rt.handle().spawn_blocking([] { return 1; })).value() == 1);  // Grows again.
}

TEST_CASE("spawn_blocking: a stopped job that is still queued never runs; a running one runs on") {
  Runtime rt = MakeRuntime(2, 1);
  nanorun::blocking::BlockingPool& pool = PoolOf(rt);
  auto gate = std::make_shared<absl::Notification>();
  auto queued_ran = std::make_shared<std::atomic<bool>>(false);
  auto finished = std::make_shared<std::atomic<bool>>(false);
  Future<int> running = rt.handle().spawn_blocking([=] {
    gate->WaitForNotification();
    finished->store(true);
    return 1;
  });
  CHECK(WaitFor([&] { return pool.running() == 1; }));
  { Future<void> dropped = rt.handle().spawn_blocking([=] { queued_ran->store(true); }); }
  CHECK(pool.queued() == 0);  // Taken out at once.
  auto timed_out = rt.block_on([&] {
    return ntime::timeout(absl::Milliseconds(10), std::move(running));
  });
  CHECK(timed_out.status().code() == absl::StatusCode::kDeadlineExceeded);
  CHECK_FALSE(finished->load());  // It cannot be stopped...
  gate->Notify();
  CHECK(WaitFor([&] { return finished->load(); }));  // ...so it ran to its end.
  CHECK(WaitFor([&] { return pool.running() == 0; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK_FALSE(queued_ran->load());
}

TEST_CASE("spawn_blocking stress: jobs and stops race; each job runs at most once, settled once") {
  Runtime rt = MakeRuntime(2, 4);
  const int kJobs = kSanitized ? 300 : 3000;
  auto runs = std::make_shared<std::atomic<int>>(0);
  auto ok = std::make_shared<std::atomic<int>>(0);
  auto stopped = std::make_shared<std::atomic<int>>(0);
  std::vector<JoinHandle<void>> tasks;
  for (int i = 0; i < kJobs; ++i) {
    tasks.push_back(rt.handle().spawn([=] {
      return ntime::timeout(absl::Microseconds(50 + (i * 31) % 200), nanorun::spawn_blocking([=] {
               runs->fetch_add(1);
               std::this_thread::sleep_for(std::chrono::microseconds(20));
               return i;
             }))
          .then_result([=](absl::StatusOr<int> r) {
            if (r.ok()) {
              ok->fetch_add(1);
            } else {
              stopped->fetch_add(1);
            }
          });
    }));
  }
  for (auto& t : tasks) REQUIRE(rt.block_on(std::move(t)).ok());
  CHECK(ok->load() + stopped->load() == kJobs);
  CHECK(WaitFor([&] { return PoolOf(rt).is_quiet(); }));
  CHECK(runs->load() >= ok->load());
  CHECK(runs->load() <= kJobs);
}

TEST_CASE("~Runtime: queued blocking jobs are dropped (Cancelled); a running one finishes detached") {
  auto gate = std::make_shared<absl::Notification>();
  auto finished = std::make_shared<std::atomic<bool>>(false);
  Future<int> running;
  Future<int> queued;
  {
    Runtime rt = MakeRuntime(1, 1);
    running = rt.handle().spawn_blocking([=] {
      gate->WaitForNotification();
      finished->store(true);
      return 1;
    });
    queued = rt.handle().spawn_blocking([] { return 2; });
    CHECK(WaitFor([&] { return PoolOf(rt).running() == 1; }));
  }  // Does not wait for the running job.
  REQUIRE(queued.is_ready());
  auto q = queued.take_result();
  CHECK(q.status().code() == absl::StatusCode::kCancelled);
  CHECK(absl::StrContains(q.status().message(), "never ran"));
  CHECK_FALSE(finished->load());
  gate->Notify();
  CHECK(WaitFor([&] { return running.is_ready(); }));  // Its future, outside any runtime.
  CHECK(running.take_result().value() == 1);
  CHECK(finished->load());
}

TEST_CASE("Runtime::shutdown(grace): what finishes in time is counted; the rest is cancelled") {
  Runtime rt = MakeRuntime(2, 4);
  auto gate = std::make_shared<absl::Notification>();
  nanorun::Promise<void> never;
  JoinHandle<int> quick = rt.handle().spawn([] {
    return ntime::sleep(absl::Milliseconds(20)).then([] { return 1; });
  });
  JoinHandle<void> stuck = rt.handle().spawn([f = never.get_future()]() mutable { return std::move(f); });
  Future<void> long_job = rt.handle().spawn_blocking([gate] { gate->WaitForNotification(); });
  Future<int> short_job = rt.handle().spawn_blocking([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(80));
    return 2;
  });
  CHECK(WaitFor([&] { return PoolOf(rt).running() == 2; }));

  std::atomic<bool> refused{false};
  std::thread outsider([&] {
    // While the runtime drains, a spawn from outside is refused.
    while (!refused.load()) {
      auto h = rt.handle().spawn([] { return 0; });
      auto r = nanorun::block_on(std::move(h));
      if (!r.ok() && absl::StrContains(r.status().message(), "shutting down")) refused.store(true);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  nanorun::ShutdownReport report = rt.shutdown(absl::Milliseconds(300));
  outsider.join();
  CHECK(refused.load());
  CHECK(report.tasks_cancelled == 1);  // `stuck`.
  CHECK(report.tasks_finished >= 1);   // `quick` (and the outsider's early spawns).
  CHECK(report.blocking_finished == 1);
  CHECK(report.blocking_detached == 1);
  CHECK(report.cancelled == report.tasks_cancelled + report.blocking_cancelled);
  CHECK(nanorun::block_on(std::move(quick)).value() == 1);
  CHECK(nanorun::block_on(std::move(stuck)).code() == absl::StatusCode::kCancelled);
  CHECK(short_job.take_result().value() == 2);
  gate->Notify();
  CHECK(WaitFor([&] { return long_job.is_ready(); }));
  CHECK(long_job.take_result().ok());
  CHECK(rt.shutdown(absl::Seconds(1)).finished == 0);  // Already shut down: nothing more.
}

}  // namespace
