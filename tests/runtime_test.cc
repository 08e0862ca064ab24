// Layer: future (the runtime API): Runtime, Handle, spawn, JoinHandle,
// block_on, yield_now, poll_fn, and their misuse messages.
#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "catch2/catch.hpp"
#include "nanorun/nanorun.h"

using nanorun::Future;
using nanorun::Promise;
using nanorun::Runtime;

TEST_CASE("block_on runs a closure on the runtime", "[runtime]") {
  Runtime rt = Runtime::with_workers(2);
  CHECK(rt.num_workers() == 2);
  auto r = rt.block_on([] { return nanorun::Handle::try_current().has_value(); });
  REQUIRE(r.ok());
  CHECK(*r);
  auto v = rt.block_on([] {});
  static_assert(std::is_same<decltype(v), absl::Status>::value, "void -> Status");
  CHECK(v.ok());
}

TEST_CASE("free block_on makes a runtime for the call", "[runtime]") {
  auto r = nanorun::block_on([] { return 40 + 2; });
  REQUIRE(r.ok());
  CHECK(*r == 42);
  auto f = nanorun::block_on(nanorun::make_ready_future(std::string("s")));
  CHECK(*f == "s");
}

TEST_CASE("spawn from a task and join through then", "[runtime]") {
  Runtime rt = Runtime::with_workers(2);
  auto r = rt.block_on([] {
    auto h1 = nanorun::spawn([] { return 21 + 21; });
    auto h2 = nanorun::spawn([] { return 100 - 58; });
    return nanorun::when_all(std::move(h1), std::move(h2))
        .then([](std::tuple<int, int> t) { return std::get<0>(t) + std::get<1>(t); });
  });
  REQUIRE(r.ok());
  CHECK(*r == 84);
}

TEST_CASE("Handle spawns from a foreign thread", "[runtime]") {
  Runtime rt = Runtime::with_workers(2);
  nanorun::Handle handle = rt.handle();
  auto h = handle.spawn([] { return 7 * 6; });
  auto r = rt.block_on(std::move(h));
  REQUIRE(r.ok());
  CHECK(*r == 42);
}

TEST_CASE("a task returning a pending future completes when it does", "[runtime]") {
  Runtime rt = Runtime::with_workers(2);
  Promise<int> p;
  Future<int> pf = p.get_future();
  auto h = rt.handle().spawn([f = std::move(pf)]() mutable { return std::move(f); });
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK_FALSE(h.is_ready());
  p.set_value(5);
  CHECK(*rt.block_on(std::move(h)) == 5);
}

TEST_CASE("abort cancels a task waiting on a promise", "[runtime]") {
  Runtime rt = Runtime::with_workers(2);
  Promise<int> p;
  Future<int> pf = p.get_future();
  auto h = rt.handle().spawn([f = std::move(pf)]() mutable { return std::move(f); });
  h.abort();
  auto r = rt.block_on(std::move(h));
  CHECK(absl::IsCancelled(r.status()));
}

TEST_CASE("runtime destruction fails pending join handles with CancelledError", "[runtime]") {
  std::optional<Future<int>> pending;
  Promise<int> never;
  {
    Runtime rt = Runtime::with_workers(2);
    Future<int> nf = never.get_future();
    pending = rt.handle()
                  .spawn([f = std::move(nf)]() mutable { return std::move(f); })
                  .into_future();
  }
  REQUIRE(pending->is_ready());
  auto r = pending->take_result();
  CHECK(absl::IsCancelled(r.status()));
}

TEST_CASE("yield_now lets other tasks run", "[runtime]") {
  Runtime rt = Runtime::with_workers(1);
  std::vector<int> order;
  auto r = rt.block_on([&order] {
    auto other = nanorun::spawn([&order] { order.push_back(2); });
    order.push_back(1);
    return nanorun::yield_now().then([&order, o = std::move(other)]() mutable {
      order.push_back(3);
      return std::move(o).into_future();
    });
  });
  REQUIRE(r.ok());
  CHECK(order == std::vector<int>{1, 2, 3});
}

TEST_CASE("poll_fn drives a custom leaf future", "[runtime]") {
  Runtime rt = Runtime::with_workers(2);
  auto r = rt.block_on([] {
    int polls = 0;
    return nanorun::poll_fn<int>([polls](nanorun::Context& cx) mutable {
      if (++polls < 5) {
        cx.waker().wake_by_ref();
        return nanorun::Poll<int>::pending();
      }
      return nanorun::Poll<int>::ready(polls);
    });
  });
  REQUIRE(r.ok());
  CHECK(*r == 5);
}

TEST_CASE("misuse: spawn and poll_fn off a runtime fail, never crash", "[misuse]") {
  auto h = nanorun::spawn([] { return 1; });
  auto r = std::move(h).into_future().take_result();
  CHECK(absl::IsFailedPrecondition(r.status()));
  CHECK(absl::StrContains(r.status().message(), "outside a runtime"));
  auto p = nanorun::poll_fn<int>([](nanorun::Context&) { return nanorun::Poll<int>::ready(1); });
  CHECK(absl::IsFailedPrecondition(p.take_result().status()));
}

TEST_CASE("misuse: a task returning an empty future fails with a message", "[misuse]") {
  Runtime rt = Runtime::with_workers(2);
  auto r = rt.block_on(rt.handle().spawn([] { return nanorun::Future<int>(); }));
  REQUIRE_FALSE(r.ok());
  CHECK(absl::IsFailedPrecondition(r.status()));
  CHECK(absl::StrContains(r.status().message(), "a callback returned an empty Future"));
}

TEST_CASE("misuse: block_on on a worker returns FailedPrecondition", "[misuse]") {
  Runtime rt = Runtime::with_workers(1);
  auto r = rt.block_on([&rt] {
    absl::Status inner = rt.block_on([] {});
    return inner;
  });
  CHECK(absl::IsFailedPrecondition(r));
  CHECK(absl::StrContains(r.message(), "worker thread"));
}

TEST_CASE("misuse: a Handle used after its Runtime is gone", "[misuse]") {
  nanorun::Handle handle;
  {
    Runtime rt = Runtime::with_workers(1);
    handle = rt.handle();
  }
  auto h = handle.spawn([] { return 1; });
  auto r = std::move(h).into_future().take_result();
  CHECK(absl::IsCancelled(r.status()));
  CHECK(absl::StrContains(r.status().message(), "shut down"));
}

TEST_CASE("misuse: Handle::current off a runtime is reported", "[misuse]") {
  static std::string message;
  auto previous = nanorun::SetMisuseHandler([](absl::string_view m) { message = std::string(m); });
  nanorun::Handle h = nanorun::Handle::current();
  nanorun::SetMisuseHandler(previous);
  CHECK_FALSE(h.valid());
  CHECK(absl::StrContains(message, "try_current"));
  CHECK_FALSE(nanorun::Handle::try_current().has_value());
}

TEST_CASE("a task that returns an error fails its own future, and nothing else", "[runtime]") {
  Runtime rt = Runtime::with_workers(2);
  absl::Status failed = rt.block_on([] { return absl::DataLossError("task says no"); });
  CHECK(failed.code() == absl::StatusCode::kDataLoss);
  CHECK(failed.message() == "task says no");
  // The runtime goes on.
  auto ok = rt.block_on([] { return 5; });
  REQUIRE(ok.ok());
  CHECK(*ok == 5);
}

TEST_CASE("a task that blocks its worker leaves the other worker running", "[runtime]") {
  Runtime rt = Runtime::with_workers(2);
  std::atomic<bool> release{false};
  std::atomic<bool> blocker_started{false};
  // A badly behaved task: blocks its worker thread (no future, no yield).
  auto blocker = rt.handle().spawn([&] {
    blocker_started = true;
    while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  while (!blocker_started.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  // Meanwhile 1,000 tasks complete on the other worker.
  std::atomic<int> done{0};
  std::vector<nanorun::JoinHandle<void>> handles;
  for (int i = 0; i < 1000; ++i) handles.push_back(rt.handle().spawn([&done] { ++done; }));
  for (auto& h : handles) REQUIRE(rt.block_on(std::move(h)).ok());
  CHECK(done == 1000);
  CHECK_FALSE(blocker.is_finished());  // Still blocked while the others ran.
  release = true;
  CHECK(rt.block_on(std::move(blocker)).ok());
}
