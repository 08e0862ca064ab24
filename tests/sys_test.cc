// The sys layer: fault injection (armed failures are taken exactly as many
// times as armed, by one operation only, even when threads race for them)
// and the coarse monotonic clock.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "nanorun/sys/coarse_clock.h"
#include "nanorun/sys/fault_injection.h"
#include "tests/catch.h"

namespace {

namespace fault = nanorun::sys::fault;

struct FaultScope {
  ~FaultScope() { fault::Reset(); }
};

TEST_CASE("unarmed, no call fails") {
  FaultScope scope;
  for (auto op : {fault::Op::kAccept, fault::Op::kConnect, fault::Op::kRead, fault::Op::kWrite}) {
    CHECK(fault::Take(op) == 0);
    CHECK(fault::Remaining(op) == 0);
  }
}

TEST_CASE("the next N calls of one operation fail with the armed error, then none") {
  FaultScope scope;
  fault::FailNext(fault::Op::kRead, 42, 3);
  CHECK(fault::Remaining(fault::Op::kRead) == 3);
  CHECK(fault::Take(fault::Op::kWrite) == 0);  // Another operation is untouched.
  CHECK(fault::Take(fault::Op::kRead) == 42);
  CHECK(fault::Take(fault::Op::kRead) == 42);
  CHECK(fault::Take(fault::Op::kRead) == 42);
  CHECK(fault::Take(fault::Op::kRead) == 0);
  CHECK(fault::Remaining(fault::Op::kRead) == 0);
}

TEST_CASE("Reset disarms every operation") {
  fault::FailNext(fault::Op::kAccept, 1, 10);
  fault::FailNext(fault::Op::kWrite, 2, 10);
  fault::Reset();
  CHECK(fault::Take(fault::Op::kAccept) == 0);
  CHECK(fault::Take(fault::Op::kWrite) == 0);
}

TEST_CASE("threads racing for armed failures take each exactly once") {
  FaultScope scope;
  constexpr int kArmed = 100000;
  fault::FailNext(fault::Op::kWrite, 7, kArmed);
  std::atomic<int> taken{0};
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kArmed / 2; ++i) {
        int err = fault::Take(fault::Op::kWrite);
        if (err == 7) ++taken;
        if (err != 7 && err != 0) ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(taken == kArmed);  // 200,000 calls for 100,000 failures.
  CHECK(wrong == 0);
  CHECK(fault::Remaining(fault::Op::kWrite) == 0);
}

}  // namespace

TEST_CASE("CoarseMonotonicNanos never goes back and follows real time within its tick", "[sys]") {
  int64_t before = nanorun::sys::CoarseMonotonicNanos();
  auto t0 = std::chrono::steady_clock::now();
  int64_t last = before;
  for (int i = 0; i < 1000; ++i) {
    int64_t now = nanorun::sys::CoarseMonotonicNanos();
    CHECK(now >= last);
    last = now;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  int64_t after = nanorun::sys::CoarseMonotonicNanos();
  int64_t real = std::chrono::duration_cast<std::chrono::nanoseconds>(
                     std::chrono::steady_clock::now() - t0)
                     .count();
  // The coarse clock lags by at most a tick (<= 4 ms on Linux; 10 ms allowed).
  CHECK(after - before >= real - 10'000'000);
  CHECK(after - before <= real + 10'000'000);
}
