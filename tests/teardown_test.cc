// Teardown: whatever outlives a runtime stays safe. Each case destroys a runtime
// while something made on it lives on (a Handle, a JoinHandle, a bound
// continuation, a timer future moved elsewhere with via), then uses or drops that
// thing, and checks the result it gives. Under --config=asan a touch of freed
// memory fails the case; in every config the asserted results must hold.
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "nanorun/nanorun.h"
#include "tests/catch.h"
#include "tests/test_util.h"

namespace {

// The executor under a handle: these tests look at its internals.
nanorun::executor::Executor* ExecutorOf(const nanorun::Handle& handle) {
  return nanorun::detail::HandleAccess::executor(handle);
}

}  // namespace

using nanorun::Future;
using nanorun::Handle;
using nanorun::JoinHandle;
using nanorun::Promise;
using nanorun::Runtime;

TEST_CASE("a JoinHandle spawned through a Handle kept past its Runtime outlives the last Handle",
          "[teardown]") {
  std::optional<JoinHandle<int>> joined;
  {
    Handle handle;
    {
      Runtime rt = Runtime::with_workers(1);
      handle = rt.handle();
    }
    joined.emplace(handle.spawn([] { return 1; }));
  }  // The last Handle goes: nothing but the task refers to the runtime now.
  absl::StatusOr<int> r = nanorun::block_on(std::move(*joined));
  CHECK(r.status().code() == absl::StatusCode::kCancelled);
  joined.reset();  // Frees the task.
}

TEST_CASE("a JoinHandle dropped unread after its runtime and every Handle are gone",
          "[teardown]") {
  std::optional<JoinHandle<int>> kept;
  {
    Handle handle;
    {
      Runtime rt = Runtime::with_workers(1);
      handle = rt.handle();
    }
    kept.emplace(handle.spawn([] { return 1; }));
  }
  CHECK(kept->is_finished());
  kept.reset();
}

TEST_CASE("a promise fulfilled after the runtime its continuation was bound to is gone",
          "[teardown]") {
  Promise<int> p;
  Future<int> out;
  {
    Runtime rt = Runtime::with_workers(1);
    absl::Status attached = rt.block_on([&out, f = p.get_future()]() mutable {
      // Attached on a worker: bound to this runtime.
      out = std::move(f).then([](int x) { return x + 1; });
    });
    REQUIRE(attached.ok());
  }
  p.set_value(1);  // The continuation cannot run on its runtime any more.
  REQUIRE(out.is_ready());
  absl::StatusOr<int> r = nanorun::block_on(std::move(out));
  CHECK(r.status().code() == absl::StatusCode::kCancelled);
}

TEST_CASE("a sleep moved to another runtime with via is dropped after its own runtime is gone",
          "[teardown]") {
  Runtime other = Runtime::with_workers(1);
  Handle other_handle = other.handle();
  Future<void> moved;
  {
    Runtime rt = Runtime::with_workers(1);
    absl::Status made = rt.block_on([&moved, other_handle] {
      moved = nanorun::time::sleep(absl::Hours(1)).via(other_handle);
    });
    REQUIRE(made.ok());
  }
  moved = Future<void>();  // Drops it: its timer's driver must still be there.
  CHECK(!moved.valid());
}

TEST_CASE("a pending sleep moved with via completes as cancelled when its runtime goes",
          "[teardown]") {
  Runtime other = Runtime::with_workers(1);
  Handle other_handle = other.handle();
  Future<void> moved;
  {
    Runtime rt = Runtime::with_workers(1);
    absl::Status made = rt.block_on([&moved, other_handle] {
      moved = nanorun::time::sleep(absl::Hours(1)).via(other_handle);
    });
    REQUIRE(made.ok());
  }
  absl::Status r = other.block_on(std::move(moved));
  CHECK(r.code() == absl::StatusCode::kCancelled);
}

// Teardown chaos: a runtime destroyed while another thread fulfils promises (whose
// tasks it wakes by value, from outside the runtime), spawns through a Handle, drops
// JoinHandles and makes timer futures moved elsewhere with via. Whatever order the
// two threads take, every result is either the right value or CancelledError, and
// nothing is touched after it was freed (ASan, TSan).
TEST_CASE("teardown chaos: destruction races foreign fulfils, wakes, spawns and drops",
          "[teardown][stress]") {
#if defined(_WIN32)
  const int rounds = 100;  // Under Wine a runtime's threads take ~ms to start.
#else
  const int rounds = nanorun_test::kSanitized ? 200 : 1000;
#endif
  Runtime other = Runtime::with_workers(1);
  Handle other_handle = other.handle();
  int values = 0, cancelled = 0;
  for (int round = 0; round < rounds; ++round) {
    std::optional<Runtime> rt(Runtime::with_workers(2));
    Handle handle = rt->handle();
    Promise<int> woken;     // A task waits on it: fulfilling wakes the task by value.
    Promise<int> bound;     // A continuation bound to rt waits on it.
    Future<int> bound_out;
    Future<void> moved_sleep;
    (void)handle.spawn([f = woken.get_future()]() mutable {  // Detached at once.
      return std::move(f).then([](int x) { return x; });
    });
    REQUIRE(rt->block_on([&, f = bound.get_future()]() mutable {
                  bound_out = std::move(f).then([](int x) { return x + 1; });
                  moved_sleep = nanorun::time::sleep(absl::Hours(1)).via(other_handle);
                }).ok());

    std::optional<JoinHandle<int>> spawned;
    std::atomic<bool> go{false};
    std::thread foreign([&] {
      while (!go.load(std::memory_order_acquire)) {
      }
      woken.set_value(1);
      bound.set_value(2);
      spawned.emplace(handle.spawn([] { return 3; }));
      if (round % 2 == 0) spawned.reset();  // Dropped unread, maybe after the runtime.
      handle = Handle();                    // Maybe the last reference.
    });
    go.store(true, std::memory_order_release);
    if (round % 3 != 0) std::this_thread::yield();
    rt.reset();  // Races everything the foreign thread does.
    foreign.join();
    moved_sleep = Future<void>();  // Its runtime is gone: the timer's driver must not be.

    absl::StatusOr<int> b = other.block_on(std::move(bound_out));
    if (b.ok()) {
      CHECK(*b == 3);
      ++values;
    } else {
      CHECK(b.status().code() == absl::StatusCode::kCancelled);
      ++cancelled;
    }
    if (spawned.has_value()) {
      absl::StatusOr<int> s = nanorun::block_on(std::move(*spawned));
      CHECK((s.ok() ? *s == 3 : s.status().code() == absl::StatusCode::kCancelled));
    }
  }
  // Both outcomes are possible; each round counted exactly one.
  CHECK(values + cancelled == rounds);
}

TEST_CASE("a plain-value task still queued when its Runtime goes: its JoinHandle fails, later",
          "[teardown]") {
  std::optional<JoinHandle<int>> queued;
  std::atomic<int> ran{0};
  {
    Runtime rt = Runtime::with_workers(1);
    nanorun::executor::Executor* e = ExecutorOf(rt.handle());
    std::atomic<bool> holding{false};
    // Holds the only worker until the runtime shuts down, so the next task
    // is still in the queue then.
    (void)rt.handle().spawn([e, &holding] {
      holding.store(true);
      while (!e->is_shut_down()) std::this_thread::yield();
    });
    while (!holding.load()) std::this_thread::yield();
    queued = rt.handle().spawn([&ran] { return ran.fetch_add(1) + 7; });
  }
  REQUIRE(queued->is_finished());
  CHECK(nanorun::block_on(std::move(*queued)).status().code() == absl::StatusCode::kCancelled);
  CHECK(ran.load() == 0);
}
