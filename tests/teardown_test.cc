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

#include "catch2/catch.hpp"
#include "nanorun/nanorun.h"
#include "tests/test_util.h"

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
