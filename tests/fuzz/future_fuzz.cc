// The Future/Promise state machine under random sequences of make, then,
// set_value, set_error, drop (future or promise), spawn onto a two-worker
// runtime, abort, join, via, when_all and when_any, and the stop request (sleeps and
// timeouts made on the runtime, request_stop, detach), with a second thread fulfilling
// promises handed to it: four threads in all. Checks: every future and task handle
// that is kept has settled once the promises are gone and the runtime is
// destroyed (what the runtime had not finished is cancelled, never lost),
// and nothing leaks (the fuzzer runs under ASan/LSan).
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <memory>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "nanorun/future/combinators.h"
#include "nanorun/future/future.h"
#include "nanorun/future/runtime.h"
#include "nanorun/future/timers.h"
#include "tests/fuzz/check.h"

namespace {

struct Slot {
  std::unique_ptr<nanorun::Promise<int>> promise;
  nanorun::Future<int> future;
  std::unique_ptr<nanorun::JoinHandle<int>> task;  // Replacing it detaches the task.
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr size_t kSlots = 8;
  std::vector<Slot> slots(kSlots);
  auto runs = std::make_shared<std::atomic<int>>(0);
  auto rt = std::make_unique<nanorun::Runtime>(nanorun::Runtime::with_workers(2));
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
    switch (data[i] % 12) {
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
      case 6:  // Give the promise to the other thread.
        if (s.promise) {
          std::lock_guard<std::mutex> lock(mu);
          handed.push_back(std::move(s.promise));
          cv.notify_one();
        }
        break;
      case 7:  // A task that waits for the slot's future (an empty one fails it).
        s.task = std::make_unique<nanorun::JoinHandle<int>>(rt->handle().spawn(
            [f = std::move(s.future)]() mutable { return std::move(f); }));
        s.future = nanorun::Future<int>();
        break;
      case 8:
        if (s.task) s.task->abort();
        break;
      case 9:  // The task's result becomes the slot's future.
        if (s.task) {
          s.future = std::move(*s.task).into_future();
          s.task.reset();
        }
        break;
      case 11: {  // Stopping, told apart by the slot byte's high bits.
        switch ((data[i + 1] >> 3) % 4) {
          case 0: {  // A sleep of 0-1 ms, made on the runtime (it can be stopped).
            long us = data[i] % 2 == 0 ? 0 : 1000;
            nanorun::Future<int> made;
            (void)rt->block_on([&made, us] {
              made = nanorun::time::sleep(absl::Microseconds(us)).then([] { return 3; });
              return absl::OkStatus();
            });
            s.future = std::move(made);
            break;
          }
          case 1: {  // A 1 ms timeout around the slot's future.
            nanorun::Future<int> limited;
            (void)rt->block_on([&limited, &s] {
              limited = nanorun::time::timeout(absl::Milliseconds(1), std::move(s.future));
              return absl::OkStatus();
            });
            s.future = std::move(limited);
            break;
          }
          case 2:
            (void)s.future.request_stop();
            break;
          default:
            std::move(s.future).detach();
            s.future = nanorun::Future<int>();
        }
        break;
      }
      default: {
        // Op 10 is three, told apart by the slot byte's high bits (so the
        // corpus keeps its meaning as ops are added).
        Slot& next = slots[(data[i + 1] + 1) % kSlots];
        switch ((data[i + 1] >> 3) % 3) {
          case 0:  // Later continuations run on the runtime's workers.
            if (s.future.valid()) s.future = std::move(s.future).via(rt->handle());
            break;
          case 1:  // Both slots' futures, summed (empty inputs fail it).
            s.future = nanorun::when_all(std::move(s.future), std::move(next.future))
                           .then([](std::tuple<int, int> t) {
                             return std::get<0>(t) + std::get<1>(t);
                           });
            break;
          default: {  // The first of the two to settle.
            std::vector<nanorun::Future<int>> two;
            two.push_back(std::move(s.future));
            two.push_back(std::move(next.future));
            s.future = nanorun::when_any(std::move(two)).then(
                [](std::pair<size_t, int> first) { return first.second; });
          }
        }
      }
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    done = true;
    cv.notify_one();
  }
  other.join();
  // Every promise fulfilled or broken; then the runtime goes, cancelling
  // what it had not finished. After that nothing kept may be pending.
  for (Slot& s : slots) s.promise.reset();
  rt.reset();
  for (Slot& s : slots) {
    if (s.future.valid()) {
      FUZZ_CHECK(s.future.is_ready());
      (void)s.future.take_result();
    }
    if (s.task) FUZZ_CHECK(s.task->is_ready());
  }
  FUZZ_CHECK(runs->load() >= 0);
  return 0;
}
