// Layer: executor. The local queue (push, pop, steal, overflow), and the
// executor running, stealing, waking and shutting down raw tasks.
#include <atomic>
#include <chrono>
#include <deque>
#include <set>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "nanorun/executor/executor.h"
#include "nanorun/executor/injector.h"
#include "nanorun/executor/local_queue.h"
#include "tests/catch.h"

namespace {

using nanorun::Context;
using nanorun::Poll;
using nanorun::executor::Executor;
using nanorun::executor::Injector;
using nanorun::executor::LocalQueue;
using nanorun::task::Header;

// Takes one task from the injector (nullptr when empty).
Header* PopOne(nanorun::executor::Injector& inj) {
  size_t count = 0;
  return inj.pop_batch(1, &count);
}

// Headers used only as queue entries (never polled).
std::deque<Header> MakeHeaders(size_t n) {
  std::deque<Header> out;
  for (size_t i = 0; i < n; ++i) out.emplace_back(nullptr, nullptr, 1);
  return out;
}

struct ExecutorDeleter {
  void operator()(Executor* e) const {
    e->shutdown();
    e->drop_ref();
  }
};
using ExecutorPtr = std::unique_ptr<Executor, ExecutorDeleter>;

ExecutorPtr MakeExecutor(size_t workers) {
  Executor* e = nullptr;
  REQUIRE(Executor::Create(workers, &e).ok());
  return ExecutorPtr(e);
}

struct CountBody {
  using Output = absl::Status;
  std::atomic<int>* counter;
  Poll<Output> poll(Context&) {
    counter->fetch_add(1, std::memory_order_relaxed);
    return Poll<Output>::ready(absl::OkStatus());
  }
};

}  // namespace

TEST_CASE("local queue is FIFO for its owner", "[local_queue]") {
  LocalQueue q;
  Injector inj;
  auto hs = MakeHeaders(10);
  for (auto& h : hs) q.push_back(&h, inj);
  CHECK(q.len() == 10);
  for (auto& h : hs) CHECK(q.pop() == &h);
  CHECK(q.pop() == nullptr);
  CHECK(q.empty());
}

TEST_CASE("a full local queue moves half to the injector", "[local_queue]") {
  LocalQueue q;
  Injector inj;
  auto hs = MakeHeaders(LocalQueue::kCapacity + 1);
  for (auto& h : hs) q.push_back(&h, inj);
  // The overflowing push moved kCapacity/2 + the new task out.
  CHECK(q.len() == LocalQueue::kCapacity / 2);
  std::set<Header*> seen;
  while (Header* h = q.pop()) seen.insert(h);
  while (Header* h = PopOne(inj)) seen.insert(h);
  CHECK(seen.size() == hs.size());
}

TEST_CASE("steal takes half and returns one to run", "[local_queue]") {
  Injector inj;
  LocalQueue v2, t2;
  auto hs2 = MakeHeaders(10);
  for (auto& h : hs2) v2.push_back(&h, inj);
  Header* first = v2.steal_into(t2);
  REQUIRE(first != nullptr);
  CHECK(v2.len() == 5);
  CHECK(t2.len() == 4);
  std::set<Header*> seen{first};
  while (Header* h = v2.pop()) seen.insert(h);
  while (Header* h = t2.pop()) seen.insert(h);
  CHECK(seen.size() == 10);
}

TEST_CASE("concurrent steals and pops hand out every task once", "[local_queue][stress]") {
  constexpr int kRounds = 200;
  constexpr size_t kTasks = 200;
  for (int round = 0; round < kRounds; ++round) {
    LocalQueue owner_q, thief_q;
    Injector inj;
    auto hs = MakeHeaders(kTasks);
    std::atomic<bool> done{false};
    std::vector<Header*> stolen;
    std::thread thief([&] {
      while (!done.load()) {
        if (Header* h = owner_q.steal_into(thief_q)) {
          stolen.push_back(h);
          while (Header* more = thief_q.pop()) stolen.push_back(more);
        }
      }
      while (Header* more = thief_q.pop()) stolen.push_back(more);
    });
    std::vector<Header*> popped;
    for (size_t i = 0; i < hs.size(); ++i) {
      owner_q.push_back(&hs[i], inj);
      if (i % 3 == 0) {
        if (Header* p = owner_q.pop()) popped.push_back(p);
      }
    }
    while (Header* p = owner_q.pop()) popped.push_back(p);
    done.store(true);
    thief.join();
    while (Header* p = PopOne(inj)) popped.push_back(p);
    std::multiset<Header*> all(popped.begin(), popped.end());
    all.insert(stolen.begin(), stolen.end());
    REQUIRE(all.size() == kTasks);
    REQUIRE(std::set<Header*>(all.begin(), all.end()).size() == kTasks);
  }
}

TEST_CASE("the executor runs every spawned task", "[executor]") {
  auto e = MakeExecutor(2);
  std::atomic<int> counter{0};
  constexpr int kTasks = 10000;
  for (int i = 0; i < kTasks; ++i) (void)e->spawn(CountBody{&counter});
  while (counter.load() < kTasks) std::this_thread::yield();
  CHECK(counter.load() == kTasks);
}

TEST_CASE("tasks spawned from a worker run on the workers", "[executor]") {
  auto e = MakeExecutor(2);
  std::atomic<int> counter{0};
  std::atomic<bool> on_worker{true};
  struct Spawner {
    using Output = absl::Status;
    std::atomic<int>* counter;
    std::atomic<bool>* on_worker;
    Poll<Output> poll(Context&) {
      Executor* self = Executor::current();
      if (self == nullptr) on_worker->store(false);
      for (int i = 0; i < 1000; ++i) (void)self->spawn(CountBody{counter});
      return Poll<Output>::ready(absl::OkStatus());
    }
  };
  (void)e->spawn(Spawner{&counter, &on_worker});
  while (counter.load() < 1000) std::this_thread::yield();
  CHECK(on_worker.load());
  CHECK(Executor::current() == nullptr);
}

TEST_CASE("shutdown cancels pending tasks and frees everything", "[executor]") {
  struct Never {
    using Output = absl::Status;
    Poll<Output> poll(Context&) { return Poll<Output>::pending(); }
  };
  std::vector<nanorun::task::RawJoinHandle<absl::Status>> handles;
  {
    auto e = MakeExecutor(2);
    for (int i = 0; i < 1000; ++i) handles.push_back(e->spawn(Never{}));
    // Let the workers poll some of them (they park as Pending).
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (auto& h : handles) {
    REQUIRE(h.is_finished());
    nanorun::Waker noop;
    Context cx(noop);
    auto out = h.poll(cx);
    REQUIRE(out.is_ready());
    CHECK(absl::IsCancelled(out.value()));
  }
}

TEST_CASE("spawn after shutdown yields a cancelled handle", "[executor]") {
  Executor* e = nullptr;
  REQUIRE(Executor::Create(1, &e).ok());
  e->shutdown();
  std::atomic<int> counter{0};
  auto h = e->spawn(CountBody{&counter});
  REQUIRE(h.is_finished());
  nanorun::Waker noop;
  Context cx(noop);
  CHECK(absl::IsCancelled(h.poll(cx).value()));
  CHECK(counter.load() == 0);
  e->drop_ref();
}

namespace {

// What a deferred yield saw: how often it ran, and whether as cancelled.
struct YieldRecord {
  std::atomic<int> runs{0};
  std::atomic<int> cancelled{0};
  std::atomic<int> tasks_before{-1};  // CountBody runs when it ran.
  std::atomic<int>* counter = nullptr;
};

void RecordYield(void* arg, bool cancelled) {
  auto* r = static_cast<YieldRecord*>(arg);
  if (r->counter != nullptr) r->tasks_before.store(r->counter->load());
  r->runs.fetch_add(1);
  if (cancelled) r->cancelled.fetch_add(1);
}

}  // namespace

TEST_CASE("defer_yield: off a worker it refuses; on one it runs after the local tasks", "[executor]") {
  YieldRecord off;
  CHECK_FALSE(Executor::defer_yield(&RecordYield, &off));
  CHECK(off.runs.load() == 0);

  auto e = MakeExecutor(1);
  struct Yielder {
    using Output = absl::Status;
    std::atomic<int>* counter;
    YieldRecord* rec;
    Poll<Output> poll(Context&) {
      // Ten tasks queued on this worker, then the yield: it runs after them.
      for (int i = 0; i < 10; ++i) (void)Executor::current()->spawn(CountBody{counter});
      REQUIRE(Executor::defer_yield(&RecordYield, rec));
      return Poll<Output>::ready(absl::OkStatus());
    }
  };
  for (int round = 0; round < 3; ++round) {
    std::atomic<int> counter{0};
    YieldRecord rec;
    rec.counter = &counter;
    (void)e->spawn(Yielder{&counter, &rec});
    while (rec.runs.load() == 0 || counter.load() < 10) std::this_thread::yield();
    CHECK(rec.runs.load() == 1);
    CHECK(rec.cancelled.load() == 0);
    CHECK(rec.tasks_before.load() == 10);
  }
}

TEST_CASE("defer_yield: a worker that never runs out of tasks still runs yields", "[executor]") {
  // A task that wakes itself forever keeps the queue non-empty; the yield
  // must still come after at most 61 more tasks, not never.
  auto e = MakeExecutor(1);
  YieldRecord rec;
  std::atomic<int> polls_until_yield{-1};
  struct Busy {
    using Output = absl::Status;
    YieldRecord* rec;
    std::atomic<int>* polls_until_yield;
    int polls = 0;
    bool deferred = false;
    Poll<Output> poll(Context& cx) {
      if (!deferred) {
        deferred = true;
        REQUIRE(Executor::defer_yield(&RecordYield, rec));
      }
      if (rec->runs.load() > 0 || ++polls > 100000) {
        polls_until_yield->store(polls);
        return Poll<Output>::ready(absl::OkStatus());
      }
      cx.waker().wake_by_ref();  // Back of the queue: never idle.
      return Poll<Output>::pending();
    }
  };
  (void)e->spawn(Busy{&rec, &polls_until_yield});
  while (polls_until_yield.load() < 0) std::this_thread::yield();
  CHECK(rec.runs.load() == 1);
  CHECK(polls_until_yield.load() <= 62);
}

TEST_CASE("defer_yield: pending yields run as cancelled at shutdown", "[executor][teardown]") {
  Executor* e = nullptr;
  REQUIRE(Executor::Create(1, &e).ok());
  YieldRecord rec;
  std::atomic<bool> deferred{false};
  struct DeferThenHold {
    using Output = absl::Status;
    Executor* e;
    YieldRecord* rec;
    std::atomic<bool>* deferred;
    Poll<Output> poll(Context&) {
      REQUIRE(Executor::defer_yield(&RecordYield, rec));
      deferred->store(true);
      // Holds the worker until shutdown began: the worker then stops without
      // running its yields, and shutdown must complete them.
      while (!e->is_shut_down()) std::this_thread::yield();
      return Poll<Output>::ready(absl::OkStatus());
    }
  };
  (void)e->spawn(DeferThenHold{e, &rec, &deferred});
  while (!deferred.load()) std::this_thread::yield();
  e->shutdown();
  CHECK(rec.runs.load() == 1);
  CHECK(rec.cancelled.load() == 1);
  e->drop_ref();
}

namespace {

nanorun::executor::SpawnOptions Unregistered() {
  nanorun::executor::SpawnOptions options;
  options.completes_on_first_poll = true;
  return options;
}

// One link of a chain of tasks that skip the registry: each spins a little
// (so the chain outlasts a drain's first look) and spawns the next.
struct ChainBody {
  using Output = absl::Status;
  int left;
  std::atomic<int>* ran;
  Poll<Output> poll(Context&) {
    auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(5);
    while (std::chrono::steady_clock::now() < until) {
    }
    ran->fetch_add(1, std::memory_order_relaxed);
    if (left > 1) (void)Executor::current()->spawn(ChainBody{left - 1, ran}, Unregistered());
    return Poll<Output>::ready(absl::OkStatus());
  }
};

}  // namespace

TEST_CASE("drain waits for tasks outside the registry, and for those they spawn",
          "[executor][drain]") {
  auto e = MakeExecutor(2);
  constexpr int kDepth = 5000;  // ~25 ms of 5 us links, one at a time.
  std::atomic<int> ran{0};
  (void)e->spawn(ChainBody{kDepth, &ran}, Unregistered());
  Executor::DrainReport report = e->drain(absl::Now() + absl::Seconds(30));
  CHECK(ran.load() == kDepth);
  CHECK(report.tasks_cancelled == 0);
  // Counted: those in flight when the drain began and those spawned during
  // it (links that ran before it are not), so at least the last link.
  CHECK(report.tasks_finished >= 1);
  CHECK(report.tasks_finished <= kDepth);
}

TEST_CASE("shutdown cancels a queued task outside the registry; its handle sees it",
          "[executor][teardown]") {
  Executor* e = nullptr;
  REQUIRE(Executor::Create(1, &e).ok());
  std::atomic<bool> holding{false};
  struct HoldUntilShutdown {
    using Output = absl::Status;
    Executor* e;
    std::atomic<bool>* holding;
    Poll<Output> poll(Context&) {
      holding->store(true);
      while (!e->is_shut_down()) std::this_thread::yield();
      return Poll<Output>::ready(absl::OkStatus());
    }
  };
  (void)e->spawn(HoldUntilShutdown{e, &holding});
  while (!holding.load()) std::this_thread::yield();
  // The only worker is held: this one waits in the injector until shutdown.
  std::atomic<int> counter{0};
  auto queued = e->spawn(CountBody{&counter}, Unregistered());
  e->shutdown();
  REQUIRE(queued.is_finished());
  nanorun::Waker noop;
  Context cx(noop);
  CHECK(absl::IsCancelled(queued.poll(cx).value()));
  CHECK(counter.load() == 0);
  e->drop_ref();
}
