// Observability (issue 17): Handle::metrics(). Each test makes the runtime
// do something known and checks the value a field must then have. Counters
// are bumped just after a poll returns (the waiter may see the result
// first), so tests wait (bounded) for them to settle rather than read once.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#if defined(__linux__)
#include <pthread.h>
#endif

#include "nanorun/nanorun.h"
#include "tests/catch.h"
#include "tests/test_util.h"

namespace {

using nanorun::Future;
using nanorun::Handle;
using nanorun::JoinHandle;
using nanorun::Promise;
using nanorun::Runtime;
using nanorun::RuntimeMetrics;
using nanorun_test::WaitFor;

// Waits until pred(metrics) holds (30 s at most).
template <class Pred>
bool MetricsReach(const Handle& h, Pred pred) {
  return WaitFor([&] { return pred(h.metrics()); });
}

// A task body that stays pending and keeps no waker.
struct NeverWakes {
  using Output = absl::Status;
  nanorun::Poll<Output> poll(nanorun::Context&) { return nanorun::Poll<Output>::pending(); }
};

}  // namespace

TEST_CASE("metrics: a fresh runtime", "[metrics]") {
  Runtime rt = Runtime::with_workers(2);
  RuntimeMetrics m = rt.handle().metrics();
  CHECK(m.workers == 2);
  CHECK(m.per_worker.size() == 2);
  CHECK(m.tasks_spawned == 0);
  CHECK(m.tasks_completed == 0);
  CHECK(m.tasks_alive == 0);
  CHECK(m.polls == 0);
  CHECK(m.injector_depth == 0);
  CHECK(m.timers_pending == 0);
  CHECK(m.io_registrations == 0);
  CHECK(m.blocking_threads == 0);
  // Both workers go to sleep with nothing to do.
  CHECK(MetricsReach(rt.handle(), [](const RuntimeMetrics& r) {
    return r.per_worker[0].parks >= 1 && r.per_worker[1].parks >= 1;
  }));
  CHECK(rt.handle().metrics().uptime > absl::ZeroDuration());
  CHECK(Handle().metrics().workers == 0);  // An invalid handle: all zero.
}

TEST_CASE("metrics: spawned, completed and alive count every task", "[metrics]") {
  Runtime rt = Runtime::with_workers(2);
  Handle h = rt.handle();
  constexpr int kTasks = 100;
  std::vector<JoinHandle<int>> handles;
  for (int i = 0; i < kTasks; ++i) handles.push_back(h.spawn([i] { return i; }));
  for (auto& j : handles) REQUIRE(rt.block_on(std::move(j)).ok());
  REQUIRE(MetricsReach(h, [](const RuntimeMetrics& m) { return m.tasks_completed == kTasks; }));
  RuntimeMetrics m = h.metrics();
  CHECK(m.tasks_spawned == kTasks);
  CHECK(m.tasks_alive == 0);
  CHECK(m.tasks_aborted == 0);
  CHECK(m.polls >= kTasks);
  uint64_t per_worker_polls = 0;
  for (const auto& w : m.per_worker) per_worker_polls += w.polls;
  CHECK(per_worker_polls == m.polls);

  // One task waiting on a promise is alive until the promise is kept.
  Promise<int> p;
  Future<int> f = p.get_future();
  JoinHandle<int> waiting = h.spawn([f = std::move(f)]() mutable { return std::move(f); });
  REQUIRE(MetricsReach(h, [](const RuntimeMetrics& r) {
    return r.tasks_spawned == kTasks + 1 && r.tasks_alive == 1;
  }));
  p.set_value(7);
  REQUIRE(rt.block_on(std::move(waiting)).ok());
  CHECK(MetricsReach(h, [](const RuntimeMetrics& r) {
    return r.tasks_completed == kTasks + 1 && r.tasks_alive == 0;
  }));
}

TEST_CASE("metrics: tasks spawned on a worker count on that worker", "[metrics]") {
  Runtime rt = Runtime::with_workers(1);
  Handle h = rt.handle();
  // One worker: the parent spawns 10 children and looks before any runs.
  // The newest sits in the LIFO slot, the 9 before it in the local queue.
  auto depth = rt.block_on([h] {
    for (int i = 0; i < 10; ++i) (void)nanorun::spawn([] {});
    return h.metrics().per_worker[0].local_queue_depth;
  });
  REQUIRE(depth.ok());
  CHECK(*depth == 9);
  REQUIRE(MetricsReach(h, [](const RuntimeMetrics& m) { return m.tasks_completed == 11; }));
  RuntimeMetrics m = h.metrics();
  CHECK(m.per_worker[0].tasks_spawned == 10);  // The parent came from outside.
  CHECK(m.tasks_spawned == 11);
  CHECK(m.per_worker[0].local_queue_depth == 0);
}

TEST_CASE("metrics: the injector depth shows tasks waiting for a busy worker", "[metrics]") {
  Runtime rt = Runtime::with_workers(1);
  Handle h = rt.handle();
  std::atomic<bool> release{false};
  std::atomic<bool> running{false};
  JoinHandle<void> blocker = h.spawn([&] {
    running = true;
    while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  REQUIRE(WaitFor([&] { return running.load(); }));
  std::vector<JoinHandle<void>> queued;
  for (int i = 0; i < 5; ++i) queued.push_back(h.spawn([] {}));
  RuntimeMetrics m = h.metrics();
  CHECK(m.injector_depth == 5);
  CHECK(m.tasks_alive == 6);
  // The worker stuck in one poll counts as busy for all that time (less
  // the coarse clock's few milliseconds at most).
  std::this_thread::sleep_for(std::chrono::milliseconds(70));
  CHECK(h.metrics().per_worker[0].busy >= absl::Milliseconds(50));
  release = true;
  REQUIRE(rt.block_on(std::move(blocker)).ok());
  for (auto& j : queued) REQUIRE(rt.block_on(std::move(j)).ok());
  CHECK(h.metrics().injector_depth == 0);
}

TEST_CASE("metrics: aborted tasks, and tasks nothing can wake, count as aborted", "[metrics]") {
  Runtime rt = Runtime::with_workers(2);
  Handle h = rt.handle();
  Promise<void> never;
  JoinHandle<void> stuck = h.spawn([f = never.get_future()]() mutable { return std::move(f); });
  REQUIRE(MetricsReach(h, [](const RuntimeMetrics& m) { return m.polls >= 1; }));
  stuck.abort();
  CHECK(!rt.block_on(std::move(stuck)).ok());
  REQUIRE(MetricsReach(h, [](const RuntimeMetrics& m) { return m.tasks_aborted == 1; }));

  // A task pending with no waker kept and its handle dropped is freed after
  // its poll: nothing can wake it, so it ended unfinished. (Through the
  // executor: every future-level wait keeps a waker.)
  (void)nanorun::detail::HandleAccess::executor(h)->spawn(NeverWakes{});
  CHECK(MetricsReach(h, [](const RuntimeMetrics& m) {
    return m.tasks_aborted == 2 && m.tasks_alive == 0;
  }));
  CHECK(h.metrics().tasks_completed == 0);
}

TEST_CASE("metrics: an idle worker steals from a busy one", "[metrics]") {
  Runtime rt = Runtime::with_workers(2);
  Handle h = rt.handle();
  // The parent queues 64 children on its own worker and keeps that worker
  // busy until one ran elsewhere: the other worker can only have stolen it.
  auto stolen = rt.block_on([] {
    auto parent = std::this_thread::get_id();
    auto ran_elsewhere = std::make_shared<std::atomic<bool>>(false);
    for (int i = 0; i < 64; ++i) {
      (void)nanorun::spawn([parent, ran_elsewhere] {
        if (std::this_thread::get_id() != parent) *ran_elsewhere = true;
      });
    }
    return WaitFor([&] { return ran_elsewhere->load(); });
  });
  REQUIRE(stolen.ok());
  REQUIRE(*stolen);
  RuntimeMetrics m = h.metrics();
  CHECK(m.steals >= 1);
  CHECK(m.tasks_stolen >= m.steals);
}

TEST_CASE("metrics: blocking pool threads, busy and queued", "[metrics]") {
  nanorun::RuntimeOptions options;
  options.workers = 1;
  options.max_blocking_threads = 1;
  Runtime rt(options);
  Handle h = rt.handle();
  std::atomic<bool> release{false};
  auto job = [&] {
    while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  };
  auto first = h.spawn_blocking(job);
  auto second = h.spawn_blocking(job);
  REQUIRE(MetricsReach(h, [](const RuntimeMetrics& m) {
    return m.blocking_threads == 1 && m.blocking_busy == 1 && m.blocking_queued == 1;
  }));
  release = true;
  REQUIRE(rt.block_on(std::move(first)).ok());
  REQUIRE(rt.block_on(std::move(second)).ok());
  CHECK(MetricsReach(h, [](const RuntimeMetrics& m) {
    return m.blocking_busy == 0 && m.blocking_queued == 0;
  }));
}

TEST_CASE("metrics: timers pending and fired", "[metrics]") {
  auto clock = std::make_shared<nanorun::time::ManualClock>();
  nanorun::RuntimeOptions options;
  options.workers = 1;
  options.clock = clock;
  Runtime rt(options);
  Handle h = rt.handle();
  JoinHandle<void> sleeper = h.spawn([] { return nanorun::time::sleep(absl::Milliseconds(10)); });
  REQUIRE(MetricsReach(h, [](const RuntimeMetrics& m) { return m.timers_pending == 1; }));
  CHECK(h.metrics().timers_fired == 0);
  clock->advance(absl::Milliseconds(20));
  REQUIRE(rt.block_on(std::move(sleeper)).ok());
  // Counted once the batch it fired in is done, maybe after the wake.
  REQUIRE(MetricsReach(h, [](const RuntimeMetrics& m) { return m.timers_fired >= 1; }));
  RuntimeMetrics m = h.metrics();
  CHECK(m.timers_fired == 1);
  CHECK(m.timers_pending == 0);
}

#if NANORUN_HAS_NET
TEST_CASE("metrics: I/O registrations and events", "[metrics]") {
  using nanorun::net::SocketAddr;
  using nanorun::net::TcpListener;
  using nanorun::net::TcpStream;
  Runtime rt = Runtime::with_workers(2);
  Handle h = rt.handle();
  auto listener = TcpListener::bind(SocketAddr::loopback_v4(0), h);
  REQUIRE(listener.ok());
  CHECK(h.metrics().io_registrations == 1);
  uint16_t port = listener->local_addr()->port();
  // accept() waits first, so the connection arrives as a readiness event.
  auto accepted = h.spawn([l = *listener]() mutable { return l.accept(); });
  REQUIRE(MetricsReach(h, [](const RuntimeMetrics& m) { return m.polls >= 1; }));
  auto client = rt.block_on(TcpStream::connect(SocketAddr::loopback_v4(port), h));
  REQUIRE(client.ok());
  auto server_side = rt.block_on(std::move(accepted));
  REQUIRE(server_side.ok());
  RuntimeMetrics m = h.metrics();
  CHECK(m.io_registrations == 3);  // The listener and both ends.
  CHECK(m.io_events >= 1);
}
#endif

TEST_CASE("metrics: repeat() yielding after its budget counts a forced yield", "[metrics]") {
  Runtime rt = Runtime::with_workers(1);
  Handle h = rt.handle();
  auto short_loop = rt.block_on([] {
    auto n = std::make_shared<int>(0);
    return nanorun::repeat([n] { return ++*n >= 10; });
  });
  REQUIRE(short_loop.ok());
  CHECK(h.metrics().budget_forced_yields == 0);
  auto long_loop = rt.block_on([] {
    auto n = std::make_shared<int>(0);
    return nanorun::repeat([n] { return ++*n >= 1000; });
  });
  REQUIRE(long_loop.ok());
  CHECK(h.metrics().budget_forced_yields >= 1000 / 128);
}

namespace {

// Hooks record into one of these; every hook may run on several threads.
struct HookLog {
  std::mutex mu;
  std::set<size_t> started, stopped;
  std::vector<std::string> names;
  std::atomic<uint64_t> parks{0}, unparks{0};
  std::set<const void*> live;  // Spawned, not yet terminated.
  uint64_t spawns = 0, terminations = 0, out_of_order = 0;
};

nanorun::RuntimeOptions OptionsLoggingTo(HookLog* log, size_t workers) {
  nanorun::RuntimeOptions options;
  options.workers = workers;
  options.hooks.thread_name_prefix = "obs-w";
  options.hooks.on_thread_start = [log](size_t i) {
    char name[32] = "";
#if defined(__linux__)
    pthread_getname_np(pthread_self(), name, sizeof name);
#endif
    std::lock_guard<std::mutex> lock(log->mu);
    log->started.insert(i);
    log->names.push_back(name);
  };
  options.hooks.on_thread_stop = [log](size_t i) {
    std::lock_guard<std::mutex> lock(log->mu);
    log->stopped.insert(i);
  };
  options.hooks.on_park = [log](size_t) { log->parks++; };
  options.hooks.on_unpark = [log](size_t) { log->unparks++; };
  options.hooks.on_task_spawn = [log](const nanorun::TaskMeta& t) {
    std::lock_guard<std::mutex> lock(log->mu);
    ++log->spawns;
    log->live.insert(t.id);
  };
  options.hooks.on_task_terminate = [log](const nanorun::TaskMeta& t) {
    std::lock_guard<std::mutex> lock(log->mu);
    ++log->terminations;
    if (log->live.erase(t.id) != 1) ++log->out_of_order;
  };
  return options;
}

}  // namespace

TEST_CASE("hooks: thread start and stop, with the threads named", "[hooks]") {
  HookLog log;
  {
    Runtime rt(OptionsLoggingTo(&log, 2));
    REQUIRE(WaitFor([&] {
      std::lock_guard<std::mutex> lock(log.mu);
      return log.started.size() == 2;
    }));
    std::lock_guard<std::mutex> lock(log.mu);
    CHECK(log.stopped.empty());
  }
  CHECK(log.started == std::set<size_t>{0, 1});
  CHECK(log.stopped == std::set<size_t>{0, 1});
#if defined(__linux__)
  std::sort(log.names.begin(), log.names.end());
  CHECK(log.names == std::vector<std::string>{"obs-w0", "obs-w1"});
#endif
}

TEST_CASE("hooks: every park has its unpark, and metrics count the same parks", "[hooks]") {
  HookLog log;
  Handle h;
  {
    Runtime rt(OptionsLoggingTo(&log, 2));
    h = rt.handle();
    for (int i = 0; i < 20; ++i) {
      REQUIRE(rt.block_on([] {}).ok());
    }
    REQUIRE(WaitFor([&] { return log.parks.load() >= 2; }));
  }
  CHECK(log.parks.load() == log.unparks.load());
  CHECK(h.metrics().parks == log.parks.load());  // A Handle outlives the runtime.
}

TEST_CASE("hooks: each spawned task terminates once, after its spawn", "[hooks]") {
  HookLog log;
  Handle h;
  Promise<void> never;
  {
    Runtime rt(OptionsLoggingTo(&log, 2));
    h = rt.handle();
    std::vector<JoinHandle<int>> done;
    for (int i = 0; i < 50; ++i) done.push_back(h.spawn([i] { return i; }));
    for (auto& j : done) REQUIRE(rt.block_on(std::move(j)).ok());
    // One aborted, one left waiting (the shutdown cancels it), and one
    // that spawns from a worker.
    JoinHandle<void> aborted = h.spawn([f = never.get_future()]() mutable { return std::move(f); });
    aborted.abort();
    CHECK(!rt.block_on(std::move(aborted)).ok());
    (void)h.spawn([f = never.get_future()]() mutable { return std::move(f); });
    REQUIRE(rt.block_on([] { (void)nanorun::spawn([] {}); }).ok());
  }
  // After shutdown: refused, so it ends at once.
  (void)h.spawn([] {});
  std::lock_guard<std::mutex> lock(log.mu);
  CHECK(log.spawns == 50 + 2 + 2 + 1);
  CHECK(log.terminations == log.spawns);
  CHECK(log.live.empty());
  CHECK(log.out_of_order == 0);
}

namespace {

// The dump's entry for the task named `name`, if there is exactly one.
std::optional<nanorun::TaskDumpEntry> Named(const nanorun::TaskDump& dump, const std::string& name) {
  std::optional<nanorun::TaskDumpEntry> found;
  for (const auto& e : dump.tasks) {
    if (e.name != name) continue;
    if (found.has_value()) return std::nullopt;
    found = e;
  }
  return found;
}

}  // namespace

TEST_CASE("dump: a stuck chain is found by name, idle, waiting on its chain", "[dump]") {
  Runtime rt = Runtime::with_workers(2);
  Handle h = rt.handle();
  Promise<int> p;
  JoinHandle<int> stuck = h.spawn(nanorun::TaskOptions{"stuck-chain"}, [f = p.get_future()]() mutable {
    return std::move(f).then([](int v) { return v + 1; });
  });
  std::optional<nanorun::TaskDumpEntry> e;
  REQUIRE(WaitFor([&] {
    e = Named(h.dump(), "stuck-chain");
    return e.has_value() && e->polls == 1 && e->state == nanorun::TaskDumpEntry::State::kIdle;
  }));
  CHECK(e->traced);
  CHECK(e->waits_on == "continuation chain");
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  nanorun::TaskDump dump = h.dump();
  e = Named(dump, "stuck-chain");
  REQUIRE(e.has_value());
  CHECK(e->since_last_poll >= absl::Milliseconds(30));
  std::string text = dump.to_string();
  INFO(text);
  CHECK(text.find("\"stuck-chain\" idle, polled 1 time(s), last ") != std::string::npos);
  CHECK(text.find("waits on continuation chain") != std::string::npos);
  // Unstuck, it completes and leaves the dump.
  p.set_value(41);
  auto r = rt.block_on(std::move(stuck));
  REQUIRE(r.ok());
  CHECK(*r == 42);
  CHECK(WaitFor([&] { return !Named(h.dump(), "stuck-chain").has_value(); }));
}

TEST_CASE("dump: what a traced task waits on, where the runtime knows", "[dump]") {
  nanorun::RuntimeOptions options;
  options.workers = 2;
  options.trace_tasks = true;
  Runtime rt(options);
  Handle h = rt.handle();
  Promise<void> never;
  auto on_promise = h.spawn(nanorun::TaskOptions{"on-promise"},
                            [f = never.get_future()]() mutable { return std::move(f); });
  auto on_timer = h.spawn(nanorun::TaskOptions{"on-timer"}, [] {
    return nanorun::time::sleep(absl::Hours(1)).then([] { return 1; });
  });
  auto tx_rx = nanorun::sync::channel<int>(1);
  // The receiver must outlive the closure (freed once it returned its future).
  auto rx = std::make_shared<nanorun::sync::Receiver<int>>(std::move(tx_rx.second));
  auto on_channel = h.spawn(nanorun::TaskOptions{"on-channel"}, [rx] {
    return rx->recv().then([rx](std::optional<int> v) { return v.has_value(); });
  });
  Promise<void> never_child;
  auto on_task = h.spawn(nanorun::TaskOptions{"on-task"}, [h, f = never_child.get_future()]() mutable {
    return h.spawn([f = std::move(f)]() mutable { return std::move(f); });
  });
  // Traced because the runtime traces every task: unnamed.
  Promise<void> never_unnamed;
  auto unnamed = h.spawn([f = never_unnamed.get_future()]() mutable { return std::move(f); });
  bool settled = WaitFor([&] {
    nanorun::TaskDump d = h.dump();
    for (const char* name : {"on-promise", "on-timer", "on-channel", "on-task"}) {
      auto e = Named(d, name);
      // Idle too: a task still in its first poll has counted it but not yet
      // said what it waits on (CI once caught "on-timer" there, on Windows).
      if (!e.has_value() || e->polls != 1 || e->state != nanorun::TaskDumpEntry::State::kIdle) {
        return false;
      }
    }
    return d.tasks.size() == 6;  // With on-task's child.
  });
  nanorun::TaskDump d = h.dump();
  INFO(d.to_string());
  REQUIRE(settled);
  CHECK(Named(d, "on-promise")->waits_on == "promise");
  CHECK(Named(d, "on-timer")->waits_on == "timer");
  CHECK(Named(d, "on-channel")->waits_on == "channel");
  CHECK(Named(d, "on-task")->waits_on == "task");
  size_t unnamed_traced = 0;
  for (const auto& e : d.tasks) unnamed_traced += e.name.empty() && e.traced ? 1 : 0;
  CHECK(unnamed_traced == 2);  // `unnamed`, and on-task's child.
  on_promise.abort();
  on_timer.abort();
  on_channel.abort();
  on_task.abort();
  unnamed.abort();
  (void)tx_rx.first;
}

TEST_CASE("dump: untraced tasks are listed with their state only", "[dump]") {
  Runtime rt = Runtime::with_workers(1);
  Handle h = rt.handle();
  std::atomic<bool> release{false};
  std::atomic<bool> running{false};
  // The worker is held by one task; a second waits in the queue.
  JoinHandle<void> busy = h.spawn([&]() -> Future<void> {
    running = true;
    while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return nanorun::make_ready_future();
  });
  REQUIRE(WaitFor([&] { return running.load(); }));
  JoinHandle<void> queued = h.spawn([]() { return nanorun::make_ready_future(); });
  nanorun::TaskDump d = h.dump();
  REQUIRE(d.tasks.size() == 2);
  size_t running_count = 0, notified_count = 0;
  for (const auto& e : d.tasks) {
    CHECK(!e.traced);
    CHECK(e.name.empty());
    running_count += e.state == nanorun::TaskDumpEntry::State::kRunning ? 1 : 0;
    notified_count += e.state == nanorun::TaskDumpEntry::State::kNotified ? 1 : 0;
  }
  CHECK(running_count == 1);
  CHECK(notified_count == 1);
  CHECK(d.to_string().find("untraced") != std::string::npos);
  release = true;
  REQUIRE(rt.block_on(std::move(busy)).ok());
  REQUIRE(rt.block_on(std::move(queued)).ok());
  CHECK(WaitFor([&] { return h.dump().tasks.empty(); }));
  CHECK(Handle().dump().tasks.empty());
}

TEST_CASE("dump: NANORUN_SPAWN names a task after its spawn site", "[dump]") {
  Runtime rt = Runtime::with_workers(1);
  Handle h = rt.handle();
  Promise<void> never;
  const int line = __LINE__ + 1;
  auto j = NANORUN_SPAWN_ON(h, [f = never.get_future()]() mutable { return std::move(f); });
  std::string site = std::string(__FILE__) + ":" + std::to_string(line);
  CHECK(WaitFor([&] { return Named(h.dump(), site).has_value(); }));
  j.abort();
}

TEST_CASE("stall detector: a long poll is reported once, with its task's name", "[stall]") {
  struct Sink {
    std::mutex mu;
    std::vector<nanorun::StallReport> reports;
  };
  auto sink = std::make_shared<Sink>();
  nanorun::RuntimeOptions options;
  options.workers = 1;
  options.stall_detector.threshold = absl::Milliseconds(20);
  options.stall_detector.sink = [sink](const nanorun::StallReport& r) {
    std::lock_guard<std::mutex> lock(sink->mu);
    sink->reports.push_back(r);
  };
  Runtime rt(options);
  Handle h = rt.handle();
  // Quick tasks are not reported.
  for (int i = 0; i < 20; ++i) REQUIRE(rt.block_on(h.spawn([] { return 1; })).ok());
  auto slow = h.spawn(nanorun::TaskOptions{"slowpoke"}, [] {
    std::this_thread::sleep_for(std::chrono::milliseconds(60));
    return 7;
  });
  REQUIRE(rt.block_on(std::move(slow)).ok());
  REQUIRE(WaitFor([&] {
    std::lock_guard<std::mutex> lock(sink->mu);
    return !sink->reports.empty();
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::lock_guard<std::mutex> lock(sink->mu);
  REQUIRE(sink->reports.size() == 1);
  const nanorun::StallReport& r = sink->reports[0];
  CHECK(r.task_name == "slowpoke");
  CHECK(std::string(r.what) == "poll");
  CHECK(r.worker == 0);
  CHECK(r.duration >= absl::Milliseconds(60));
  CHECK(r.task_id != nullptr);
}

TEST_CASE("dump and metrics: a Handle that outlives its runtime still answers", "[dump][teardown]") {
  Handle h;
  Promise<void> never;
  {
    nanorun::RuntimeOptions options;
    options.workers = 2;
    options.trace_tasks = true;
    Runtime rt(options);
    h = rt.handle();
    (void)h.spawn([f = never.get_future()]() mutable { return std::move(f); });
    REQUIRE(WaitFor([&] { return h.dump().tasks.size() == 1; }));
  }
  // The shutdown cancelled the waiting task: nothing is live.
  CHECK(h.dump().tasks.empty());
  RuntimeMetrics m = h.metrics();
  CHECK(m.workers == 2);
  CHECK(m.tasks_spawned == 1);
}

TEST_CASE("dump: stress, taken while tasks spawn, wake and end on every worker", "[dump][stress]") {
  nanorun::RuntimeOptions options;
  options.workers = 2;
  options.trace_tasks = true;
  Runtime rt(options);
  Handle h = rt.handle();
  int tasks = nanorun_test::kSanitized ? 2000 : 20000;
  std::atomic<bool> stop{false};
  std::thread dumper([&] {
    while (!stop.load()) {
      nanorun::TaskDump d = h.dump();
      for (const auto& e : d.tasks) {
        // Every entry is a traced task with a consistent record.
        if (!e.traced || e.waits_on.empty()) FAIL_CHECK("untraced or empty entry");
      }
      (void)d.to_string();
    }
  });
  auto all = rt.block_on([tasks] {
    std::vector<Future<int>> parts;
    for (int i = 0; i < tasks; ++i) {
      parts.push_back(nanorun::spawn([i] { return nanorun::yield_now().then([i] { return i; }); })
                          .into_future());
    }
    return nanorun::when_all(std::move(parts));
  });
  stop = true;
  dumper.join();
  REQUIRE(all.ok());
  CHECK(all->size() == static_cast<size_t>(tasks));
  CHECK(MetricsReach(h, [&](const RuntimeMetrics& m) {
    return m.tasks_completed == static_cast<uint64_t>(tasks) + 1 && m.tasks_alive == 0;
  }));
}
