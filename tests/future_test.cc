// Layer: future. Future/Promise, then and friends, the continuation policy,
// combinators, and misuse messages.
#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "nanorun/nanorun.h"
#include "tests/catch.h"
#include "tests/test_util.h"

using nanorun::Future;
using nanorun::Promise;
using nanorun::make_error_future;
using nanorun::make_ready_future;
using nanorun_test::WaitFor;

namespace {

// Records misuse reports instead of aborting, for the duration of a scope.
std::string* g_last_misuse = nullptr;
struct MisuseRecorder {
  std::string message;
  nanorun::MisuseHandler previous;
  MisuseRecorder() {
    g_last_misuse = &message;
    previous = nanorun::SetMisuseHandler(
        [](absl::string_view m) { *g_last_misuse = std::string(m); });
  }
  ~MisuseRecorder() {
    nanorun::SetMisuseHandler(previous);
    g_last_misuse = nullptr;
  }
};

// Takes the result of a future that must already be ready.
template <class T>
auto Get(Future<T> f) {
  REQUIRE(f.is_ready());
  return f.take_result();
}

}  // namespace

TEST_CASE("then on a ready future runs at once", "[future]") {
  auto f = make_ready_future(20).then([](int x) { return x + 1; }).then([](int x) {
    return x * 2;
  });
  auto r = Get(std::move(f));
  REQUIRE(r.ok());
  CHECK(*r == 42);
}

TEST_CASE("then waits for the promise", "[future]") {
  Promise<int> p;
  bool ran = false;
  auto f = p.get_future().then([&](int x) {
    ran = true;
    return std::to_string(x);
  });
  CHECK_FALSE(ran);
  CHECK_FALSE(f.is_ready());
  p.set_value(7);
  CHECK(ran);
  CHECK(*Get(std::move(f)) == "7");
}

TEST_CASE("errors skip then and reach on_error", "[future]") {
  int calls = 0;
  auto f = make_error_future<int>(absl::NotFoundError("nope"))
               .then([&](int x) {
                 ++calls;
                 return x;
               })
               .on_error([](absl::Status s) {
                 return s.code() == absl::StatusCode::kNotFound ? 5 : 6;
               });
  CHECK(calls == 0);
  CHECK(*Get(std::move(f)) == 5);
}

TEST_CASE("then accepts StatusOr, Status, void and Future returns", "[future]") {
  auto a = make_ready_future(1).then([](int) -> absl::StatusOr<int> {
    return absl::InvalidArgumentError("bad");
  });
  CHECK(absl::IsInvalidArgument(Get(std::move(a)).status()));

  auto b = make_ready_future(1).then([](int) { return absl::OkStatus(); });
  static_assert(std::is_same<decltype(b), Future<void>>::value, "Status -> void");
  CHECK(Get(std::move(b)).ok());

  int seen = 0;
  auto c = make_ready_future(3).then([&](int x) { seen = x; });
  static_assert(std::is_same<decltype(c), Future<void>>::value, "void -> void");
  CHECK(Get(std::move(c)).ok());
  CHECK(seen == 3);

  Promise<int> inner;
  auto d = make_ready_future(1).then([&](int) { return inner.get_future(); });
  CHECK_FALSE(d.is_ready());
  inner.set_value(9);
  CHECK(*Get(std::move(d)) == 9);
}

TEST_CASE("then_result always runs and sees the status", "[future]") {
  auto f = make_error_future<int>(absl::AbortedError("x"))
               .then_result([](absl::StatusOr<int> r) { return r.ok() ? 1 : 2; });
  CHECK(*Get(std::move(f)) == 2);
  auto g = make_ready_future().then_result([](absl::Status s) { return s.ok(); });
  CHECK(*Get(std::move(g)));
}

TEST_CASE("finally runs either way and passes the result through", "[future]") {
  int runs = 0;
  auto ok = make_ready_future(4).finally([&] { ++runs; });
  auto bad = make_error_future<int>(absl::UnavailableError("u")).finally([&] { ++runs; });
  CHECK(*Get(std::move(ok)) == 4);
  CHECK(absl::IsUnavailable(Get(std::move(bad)).status()));
  CHECK(runs == 2);
}

TEST_CASE("a destroyed promise breaks its future", "[future]") {
  Future<int> f;
  {
    Promise<int> p;
    f = p.get_future();
  }
  auto r = Get(std::move(f));
  CHECK(absl::IsCancelled(r.status()));
  CHECK(absl::StrContains(r.status().message(), "broken promise"));
}

TEST_CASE("set_error fails the future", "[future]") {
  Promise<void> p;
  auto f = p.get_future();
  p.set_error(absl::DataLossError("lost"));
  CHECK(absl::IsDataLoss(Get(std::move(f))));
}

TEST_CASE("a million-step chain on an unfulfilled promise does not recurse", "[future]") {
  // Runs on a thread with the default stack (8 MiB on Linux).
  std::thread t([] {
    Promise<int> p;
    Future<int> f = p.get_future();
    for (int i = 0; i < 1000000; ++i) f = std::move(f).then([](int x) { return x + 1; });
    p.set_value(0);
    auto r = Get(std::move(f));
    REQUIRE(r.ok());
    CHECK(*r == 1000000);
  });
  t.join();
}

TEST_CASE("a continuation attached off-runtime runs on the fulfilling thread", "[future][policy]") {
  Promise<int> p;
  std::thread::id ran_on;
  auto f = p.get_future().then([&](int x) {
    ran_on = std::this_thread::get_id();
    return x;
  });
  std::thread producer([&] { p.set_value(1); });
  std::thread::id producer_id = producer.get_id();
  producer.join();
  CHECK(ran_on == producer_id);
  CHECK(*Get(std::move(f)) == 1);
}

TEST_CASE("a continuation attached on a worker never runs on a foreign thread", "[future][policy]") {
  nanorun::Runtime rt = nanorun::Runtime::with_workers(2);
  Promise<int> p;
  std::atomic<bool> on_worker{false};
  std::atomic<bool> attached{false};
  auto h = rt.handle().spawn([&] {
    Future<int> f = p.get_future().then([&](int x) {
      on_worker = nanorun::Handle::try_current().has_value();
      return x + 1;
    });
    attached = true;
    return f;
  });
  while (!attached) std::this_thread::yield();
  p.set_value(1);  // This (foreign) thread completes the promise.
  auto r = rt.block_on(std::move(h));
  REQUIRE(r.ok());
  CHECK(*r == 2);
  CHECK(on_worker.load());
}

TEST_CASE("via moves later continuations onto a runtime", "[future][policy]") {
  nanorun::Runtime rt = nanorun::Runtime::with_workers(1);
  std::atomic<bool> on_worker{false};
  auto f = make_ready_future(1).via(rt.handle()).then([&](int x) {
    on_worker = nanorun::Handle::try_current().has_value();
    return x;
  });
  auto r = rt.block_on(std::move(f));
  REQUIRE(r.ok());
  CHECK(on_worker.load());
}

TEST_CASE("a continuation bound to a runtime that shut down fails, never runs", "[future][policy]") {
  Promise<int> p;
  Future<int> f;
  bool ran = false;
  {
    nanorun::Runtime rt = nanorun::Runtime::with_workers(1);
    f = p.get_future().via(rt.handle()).then([&ran](int x) {
      ran = true;
      return x;
    });
  }
  p.set_value(1);  // The runtime is gone: the continuation must not run here.
  REQUIRE(f.is_ready());
  auto r = f.take_result();
  CHECK_FALSE(ran);
  CHECK(absl::IsCancelled(r.status()));
  CHECK(absl::StrContains(r.status().message(), "shut down"));
}

TEST_CASE("when_all gathers values in order", "[combinators]") {
  Promise<int> a, b;
  std::vector<Future<int>> v;
  v.push_back(a.get_future());
  v.push_back(b.get_future());
  v.push_back(make_ready_future(3));
  auto all = nanorun::when_all(std::move(v));
  b.set_value(2);
  CHECK_FALSE(all.is_ready());
  a.set_value(1);
  auto r = Get(std::move(all));
  REQUIRE(r.ok());
  CHECK(*r == std::vector<int>{1, 2, 3});
}

TEST_CASE("when_all fails with the first error at once", "[combinators]") {
  Promise<int> a, b;
  auto all = nanorun::when_all(a.get_future(), b.get_future(), make_ready_future());
  b.set_error(absl::NotFoundError("first"));
  REQUIRE(all.is_ready());
  a.set_error(absl::InternalError("second"));
  auto r = Get(std::move(all));
  CHECK(absl::IsNotFound(r.status()));
}

TEST_CASE("variadic when_all builds a tuple", "[combinators]") {
  auto all = nanorun::when_all(make_ready_future(1), make_ready_future(std::string("x")),
                               make_ready_future());
  auto r = Get(std::move(all));
  REQUIRE(r.ok());
  CHECK(std::get<0>(*r) == 1);
  CHECK(std::get<1>(*r) == "x");
}

TEST_CASE("when_any settles with the first", "[combinators]") {
  Promise<int> a, b;
  std::vector<Future<int>> v;
  v.push_back(a.get_future());
  v.push_back(b.get_future());
  auto any = nanorun::when_any(std::move(v));
  b.set_value(20);
  a.set_value(10);
  auto r = Get(std::move(any));
  REQUIRE(r.ok());
  CHECK(r->first == 1);
  CHECK(r->second == 20);
  CHECK(absl::IsInvalidArgument(
      Get(nanorun::when_any(std::vector<Future<int>>())).status()));
}

TEST_CASE("repeat loops until true, without recursion", "[combinators]") {
  int i = 0;
  auto f = nanorun::repeat([&] { return make_ready_future(++i == 100000); });
  CHECK(Get(std::move(f)).ok());
  CHECK(i == 100000);

  int j = 0;
  auto g = nanorun::repeat([&]() -> Future<bool> {
    if (++j == 3) return make_error_future<bool>(absl::AbortedError("stop"));
    return make_ready_future(false);
  });
  CHECK(absl::IsAborted(Get(std::move(g))));
}

#if NANORUN_HAS_EXCEPTIONS
TEST_CASE("an exception in a continuation fails that future with its message", "[future]") {
  auto f = make_ready_future(1).then([](int) -> int { throw std::runtime_error("kaboom"); });
  auto r = Get(std::move(f));
  REQUIRE_FALSE(r.ok());
  CHECK(absl::StrContains(r.status().message(), "kaboom"));
}
#endif

TEST_CASE("misuse: set_value twice is reported, the second value dropped", "[misuse]") {
  MisuseRecorder rec;
  Promise<int> p;
  auto f = p.get_future();
  p.set_value(1);
  p.set_value(2);
  CHECK(absl::StrContains(rec.message, "Promise fulfilled twice"));
  CHECK(*Get(std::move(f)) == 1);
}

TEST_CASE("misuse: take_result on a pending or empty future is reported, nothing consumed",
          "[misuse]") {
  MisuseRecorder rec;
  Promise<int> p;
  auto f = p.get_future();
  auto early = f.take_result();
  CHECK(absl::StrContains(rec.message, "not ready"));
  CHECK(early.status().code() == absl::StatusCode::kFailedPrecondition);
  // The future was left as it was: it still gets the value.
  REQUIRE(f.valid());
  p.set_value(7);
  REQUIRE(f.is_ready());
  CHECK(*f.take_result() == 7);

  rec.message.clear();
  Future<int> empty;
  CHECK(empty.take_result().status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(absl::StrContains(rec.message, "empty Future"));
}

TEST_CASE("misuse: a continuation returning an empty future fails with a message", "[misuse]") {
  // Ready input (the inline path) and pending input (the node path) alike.
  auto ready = make_ready_future(1).then([](int) { return Future<int>(); });
  Promise<int> p;
  auto later = p.get_future().then([](int) { return Future<int>(); });
  p.set_value(1);
  for (auto* f : {&ready, &later}) {
    REQUIRE(f->valid());
    auto r = Get(std::move(*f));
    CHECK(absl::IsFailedPrecondition(r.status()));
    CHECK(absl::StrContains(r.status().message(), "a callback returned an empty Future"));
  }
}

TEST_CASE("misuse: an empty input to when_all or when_any fails it, never hangs it", "[misuse]") {
  Promise<int> pending;  // Kept unfulfilled: only the empty input can settle things.
  std::vector<Future<int>> inputs;
  inputs.push_back(pending.get_future());
  inputs.push_back(Future<int>());
  auto all = Get(nanorun::when_all(std::move(inputs)));
  CHECK(absl::IsFailedPrecondition(all.status()));
  CHECK(absl::StrContains(all.status().message(), "when_all: input 1 is an empty Future"));

  auto tuple = Get(nanorun::when_all(make_ready_future(1), Future<int>()));
  CHECK(absl::IsFailedPrecondition(tuple.status()));
  CHECK(absl::StrContains(tuple.status().message(), "when_all: input 1 is an empty Future"));

  Promise<int> other;
  std::vector<Future<int>> any_inputs;
  any_inputs.push_back(Future<int>());
  any_inputs.push_back(other.get_future());
  auto any = Get(nanorun::when_any(std::move(any_inputs)));
  CHECK(absl::IsFailedPrecondition(any.status()));
  CHECK(absl::StrContains(any.status().message(), "when_any: input 0 is an empty Future"));
  pending.set_value(1);
  other.set_value(2);
}

TEST_CASE("misuse: a repeat step returning an empty future fails the loop", "[misuse]") {
  nanorun::Runtime rt = nanorun::Runtime::with_workers(1);
  absl::Status s = rt.block_on([] { return nanorun::repeat([] { return Future<bool>(); }); });
  CHECK(absl::IsFailedPrecondition(s));
  CHECK(absl::StrContains(s.message(), "a callback returned an empty Future"));
}

TEST_CASE("misuse: get_future twice fails the second future", "[misuse]") {
  Promise<int> p;
  auto a = p.get_future();
  auto b = p.get_future();
  auto r = Get(std::move(b));
  CHECK(absl::IsFailedPrecondition(r.status()));
  CHECK(absl::StrContains(r.status().message(), "get_future() called twice"));
  p.set_value(1);
  CHECK(*Get(std::move(a)) == 1);
}

TEST_CASE("misuse: then on a moved-from future fails with a message", "[misuse]") {
  auto f = make_ready_future(1);
  auto g = std::move(f).then([](int x) { return x; });
  auto h = std::move(f).then([](int x) { return x; });  // NOLINT: deliberate use after move
  auto r = Get(std::move(h));
  CHECK(absl::IsFailedPrecondition(r.status()));
  CHECK(absl::StrContains(r.status().message(), "empty Future"));
  CHECK(*Get(std::move(g)) == 1);
}

// ---- when_all_settled, for_each_concurrent ----

TEST_CASE("when_all_settled: every result in input order; errors do not end it early") {
  Promise<int> late;
  std::vector<Future<int>> inputs;
  inputs.push_back(make_ready_future(1));
  inputs.push_back(make_error_future<int>(absl::NotFoundError("missing")));
  inputs.push_back(late.get_future());
  inputs.push_back(Future<int>());  // Empty.
  Future<std::vector<absl::StatusOr<int>>> all = nanorun::when_all_settled(std::move(inputs));
  CHECK_FALSE(all.is_ready());  // The error did not settle it.
  late.set_value(3);
  REQUIRE(all.is_ready());
  auto r = all.take_result();
  REQUIRE(r.ok());
  REQUIRE(r->size() == 4);
  CHECK((*r)[0].value() == 1);
  CHECK((*r)[1].status().code() == absl::StatusCode::kNotFound);
  CHECK((*r)[2].value() == 3);
  CHECK((*r)[3].status().code() == absl::StatusCode::kFailedPrecondition);

  std::vector<Future<void>> voids;
  voids.push_back(nanorun::make_ready_future());
  voids.push_back(make_error_future<void>(absl::AbortedError("x")));
  auto v = nanorun::when_all_settled(std::move(voids)).take_result();
  REQUIRE(v.ok());
  CHECK((*v)[0].ok());
  CHECK((*v)[1].code() == absl::StatusCode::kAborted);
  CHECK(nanorun::when_all_settled(std::vector<Future<int>>()).take_result()->empty());
}

TEST_CASE("when_all_settled: stopped, it stops its inputs and fails with Cancelled") {
  nanorun::Runtime rt = nanorun::Runtime::with_workers(2);
  auto r = rt.block_on([] {
    std::vector<Future<void>> sleeps;
    for (int i = 0; i < 3; ++i) sleeps.push_back(nanorun::time::sleep(absl::Seconds(10)));
    return nanorun::time::timeout(absl::Milliseconds(10), nanorun::when_all_settled(std::move(sleeps)));
  });
  CHECK(r.status().code() == absl::StatusCode::kDeadlineExceeded);
  CHECK(rt.handle().pending_timers() == 0);  // The sleeps left the wheel.
}

TEST_CASE("for_each_concurrent: at most `limit` in flight, every item once, in starting order") {
  nanorun::Runtime rt = nanorun::Runtime::with_workers(2);
  auto in_flight = std::make_shared<std::atomic<int>>(0);
  auto most = std::make_shared<std::atomic<int>>(0);
  auto seen = std::make_shared<std::vector<int>>();  // f never runs concurrently with itself.
  std::vector<int> items(60);
  for (int i = 0; i < 60; ++i) items[i] = i;
  absl::Status s = rt.block_on([&] {
    return nanorun::for_each_concurrent(std::move(items), 4, [=](int item) {
      seen->push_back(item);
      int now = in_flight->fetch_add(1) + 1;
      int m = most->load();
      while (now > m && !most->compare_exchange_weak(m, now)) {
      }
      return nanorun::time::sleep(absl::Microseconds(300 + (item * 37) % 500)).then([=] {
        in_flight->fetch_sub(1);
      });
    });
  });
  REQUIRE(s.ok());
  CHECK(most->load() == 4);
  REQUIRE(seen->size() == 60);
  for (int i = 0; i < 60; ++i) CHECK((*seen)[i] == i);
}

TEST_CASE("for_each_concurrent: the first error stops the items in flight and starts no more") {
  nanorun::Runtime rt = nanorun::Runtime::with_workers(2);
  auto started = std::make_shared<std::atomic<int>>(0);
  auto finished = std::make_shared<std::atomic<int>>(0);
  std::vector<int> items(100);
  for (int i = 0; i < 100; ++i) items[i] = i;
  auto t0 = std::chrono::steady_clock::now();
  absl::Status s = rt.block_on([&] {
    return nanorun::for_each_concurrent(std::move(items), 3, [=](int item) -> Future<void> {
      started->fetch_add(1);
      if (item == 5) {
        return nanorun::time::sleep(absl::Milliseconds(5)).then([]() -> absl::Status {
          return absl::DataLossError("item 5 is corrupt");
        });
      }
      if (item < 5) return nanorun::make_ready_future();
      return nanorun::time::sleep(absl::Seconds(10)).then([=] { finished->fetch_add(1); });
    });
  });
  CHECK(s.code() == absl::StatusCode::kDataLoss);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));  // Not 10 s: stopped.
  CHECK(started->load() == 8);  // 0..4 at once, then 5, 6, 7 in flight: nothing after.
  CHECK(finished->load() == 0);
  CHECK(WaitFor([&] { return rt.handle().pending_timers() == 0; }));
}

TEST_CASE("for_each_concurrent: ready items loop without recursion; a stop of the whole stops it") {
  int64_t sum = 0;  // Not long: 32 bits on Windows.
  std::vector<int64_t> many(200000);
  for (int64_t i = 0; i < 200000; ++i) many[i] = i;
  absl::Status s = nanorun::for_each_concurrent(std::move(many), 8, [&sum](int64_t x) { sum += x; })
                       .take_result();
  CHECK(s.ok());
  CHECK(sum == int64_t{200000} * 199999 / 2);

  nanorun::Runtime rt = nanorun::Runtime::with_workers(2);
  auto r = rt.block_on([] {
    return nanorun::time::timeout(
        absl::Milliseconds(10),
        nanorun::for_each_concurrent(std::vector<int>(50), 5,
                                     [](int) { return nanorun::time::sleep(absl::Seconds(10)); }));
  });
  CHECK(r.code() == absl::StatusCode::kDeadlineExceeded);
  CHECK(WaitFor([&] { return rt.handle().pending_timers() == 0; }));

  CHECK(nanorun::for_each_concurrent(std::vector<int>{1}, 0, [](int) {}).take_result().code() ==
        absl::StatusCode::kInvalidArgument);
}
