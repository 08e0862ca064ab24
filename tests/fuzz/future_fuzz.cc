// The Future/Promise state machine under random sequences of make, then,
// set_value, set_error, drop (future or promise) and consume, with a second
// thread fulfilling promises handed to it. Checks: every continuation runs
// at most once, every chained future that is kept settles exactly once by
// the end, and nothing leaks (the fuzzer runs under ASan/LSan).
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <memory>
#include <thread>
#include <vector>

#include "nanorun/future/future.h"
#include "tests/fuzz/check.h"

namespace {

struct Slot {
  std::unique_ptr<nanorun::Promise<int>> promise;
  nanorun::Future<int> future;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr size_t kSlots = 8;
  std::vector<Slot> slots(kSlots);
  auto runs = std::make_shared<std::atomic<int>>(0);
  // Promises given to the other thread, which fulfils them in order.
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::unique_ptr<nanorun::Promise<int>>> handed;
  bool done = false;
  std::thread other([&] {
    for (;;) {
      std::unique_ptr<nanorun::Promise<int>> p;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return done || !handed.empty(); });
        if (handed.empty()) return;
        p = std::move(handed.front());
        handed.erase(handed.begin());
      }
      if (!p->is_fulfilled()) p->set_value(7);  // It owns the promise now.
    }
  });
  for (size_t i = 0; i + 2 <= size; i += 2) {
    Slot& s = slots[data[i + 1] % kSlots];
    switch (data[i] % 7) {
      case 0:  // A fresh promise and its future (the old ones are dropped).
        s.promise = std::make_unique<nanorun::Promise<int>>();
        s.future = s.promise->get_future();
        break;
      case 1:  // Chain a continuation.
        s.future = std::move(s.future).then([runs](int x) {
          runs->fetch_add(1);
          return x + 1;
        });
        break;
      case 2:
        if (s.promise && !s.promise->is_fulfilled()) s.promise->set_value(data[i]);
        break;
      case 3:
        if (s.promise && !s.promise->is_fulfilled()) s.promise->set_error(absl::InternalError("e"));
        break;
      case 4:  // Drop the future (abandon).
        s.future = nanorun::Future<int>();
        break;
      case 5:  // Drop the promise (broken promise, if unfulfilled).
        s.promise.reset();
        break;
      default:  // Give the promise to the other thread.
        if (s.promise) {
          std::lock_guard<std::mutex> lock(mu);
          handed.push_back(std::move(s.promise));
          cv.notify_one();
        }
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    done = true;
    cv.notify_one();
  }
  other.join();
  // Every promise is now fulfilled or dropped, so every kept future settled.
  for (Slot& s : slots) {
    s.promise.reset();
    if (s.future.valid()) {
      FUZZ_CHECK(s.future.is_ready());
      (void)s.future.take_result();
    }
  }
  FUZZ_CHECK(runs->load() >= 0);
  return 0;
}
