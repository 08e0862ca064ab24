// nanorun::sync: Semaphore and Mutex. FIFO grants, the cancel rules (a stopped
// acquire or lock takes nothing and leaves nothing held), close, lifetimes, and
// stress: no over-admission under concurrent acquire and cancel, no lost update
// under the Mutex.
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "catch2/catch.hpp"
#include "nanorun/nanorun.h"
#include "tests/test_util.h"

namespace {

using nanorun::Future;
using nanorun::JoinHandle;
using nanorun::Runtime;
using nanorun::sync::Mutex;
using nanorun::sync::MutexGuard;
using nanorun::sync::Notify;
using nanorun::sync::Semaphore;
using nanorun::sync::SemaphorePermit;
namespace ntime = nanorun::time;

using nanorun_test::kSanitized;
using nanorun_test::WaitFor;

TEST_CASE("Semaphore: permits are granted at once while free, then in FIFO order") {
  Semaphore sem(2);
  Future<SemaphorePermit> a = sem.acquire();
  Future<SemaphorePermit> b = sem.acquire();
  REQUIRE(a.is_ready());
  REQUIRE(b.is_ready());
  CHECK(sem.available_permits() == 0);
  Future<SemaphorePermit> c = sem.acquire();
  Future<SemaphorePermit> d = sem.acquire();
  CHECK_FALSE(c.is_ready());
  CHECK_FALSE(sem.try_acquire().has_value());
  { auto released = a.take_result(); }  // a's permit goes back: c is next.
  CHECK(c.is_ready());
  CHECK_FALSE(d.is_ready());
  { auto released = b.take_result(); }
  CHECK(d.is_ready());
  auto pc = c.take_result();
  REQUIRE(pc.ok());
  CHECK(pc->count() == 1);
  pc->release();
  CHECK(sem.available_permits() == 1);
}

TEST_CASE("Semaphore: a large waiter at the head is not passed; when it leaves, the next goes") {
  Semaphore sem(1);
  std::optional<SemaphorePermit> held = sem.try_acquire();
  REQUIRE(held.has_value());
  Future<SemaphorePermit> big = sem.acquire(3);
  Future<SemaphorePermit> small = sem.acquire(1);
  held.reset();  // One permit free: not enough for `big`, and `small` waits behind it.
  CHECK_FALSE(big.is_ready());
  CHECK_FALSE(small.is_ready());
  { Future<SemaphorePermit> dropped = std::move(big); }  // The head leaves...
  CHECK(small.is_ready());  // ...and the one behind it gets the free permit.
  CHECK(small.take_result().ok());
  CHECK(sem.available_permits() == 1);
}

TEST_CASE("Semaphore: a stopped acquire takes no permit: dropped, timed out, or its task aborted") {
  Runtime rt = Runtime::with_workers(2);
  Semaphore sem(1);
  std::optional<SemaphorePermit> held = sem.try_acquire();
  REQUIRE(held.has_value());
  { Future<SemaphorePermit> dropped = sem.acquire(); }
  auto timed_out = rt.block_on([&] { return ntime::timeout(absl::Milliseconds(10), sem.acquire()); });
  CHECK(timed_out.status().code() == absl::StatusCode::kDeadlineExceeded);
  JoinHandle<SemaphorePermit> task = rt.handle().spawn([sem] { return sem.acquire(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  task.abort();
  CHECK(rt.block_on(std::move(task)).status().code() == absl::StatusCode::kCancelled);
  Future<SemaphorePermit> waiting = sem.acquire();
  CHECK(waiting.request_stop());
  auto stopped = waiting.take_result();
  CHECK(stopped.status().code() == absl::StatusCode::kCancelled);
  CHECK(absl::StrContains(stopped.status().message(), "took no permit"));
  held.reset();
  CHECK(sem.available_permits() == 1);  // Nothing leaked, nothing taken.
  CHECK(sem.try_acquire().has_value());
}

TEST_CASE("Semaphore: close fails pending and later acquires; held permits still go back") {
  Semaphore sem(1);
  std::optional<SemaphorePermit> held = sem.try_acquire();
  Future<SemaphorePermit> pending = sem.acquire();
  sem.close();
  REQUIRE(pending.is_ready());
  CHECK(pending.take_result().status().code() == absl::StatusCode::kFailedPrecondition);
  auto later = sem.acquire().take_result();
  CHECK(later.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(absl::StrContains(later.status().message(), "closed"));
  CHECK(sem.is_closed());
  held.reset();
  CHECK(sem.available_permits() == 1);
  CHECK(sem.acquire(0).take_result().status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("Semaphore: a permit and a waiter outlive every handle safely") {
  std::optional<SemaphorePermit> held;
  Future<SemaphorePermit> waiting;
  {
    Semaphore sem(1);
    held = sem.try_acquire();
    waiting = sem.acquire();
  }
  CHECK_FALSE(waiting.is_ready());
  held.reset();  // Goes back to the core the waiter keeps alive, and grants it.
  REQUIRE(waiting.is_ready());
  CHECK(waiting.take_result().ok());
}

TEST_CASE("Semaphore stress: never over-admits while acquires are cancelled concurrently") {
  Runtime rt = Runtime::with_workers(2);
  const int kTasks = kSanitized ? 300 : 3000;
  constexpr size_t kPermits = 4;
  Semaphore sem(kPermits);
  auto in_use = std::make_shared<std::atomic<int>>(0);
  auto worst = std::make_shared<std::atomic<int>>(0);
  auto admitted = std::make_shared<std::atomic<int>>(0);
  std::vector<JoinHandle<void>> tasks;
  for (int i = 0; i < kTasks; ++i) {
    tasks.push_back(rt.handle().spawn([=] {
      size_t n = 1 + i % 2;
      return ntime::timeout(absl::Microseconds(200 + (i * 7919) % 800), sem.acquire(n))
          .then_result([=](absl::StatusOr<SemaphorePermit> p) -> Future<void> {
            if (!p.ok()) return nanorun::make_ready_future();  // Timed out: holds nothing.
            int now = in_use->fetch_add(static_cast<int>(n)) + static_cast<int>(n);
            int seen = worst->load();
            while (now > seen && !worst->compare_exchange_weak(seen, now)) {
            }
            admitted->fetch_add(1);
            auto permit = std::make_shared<SemaphorePermit>(*std::move(p));
            return ntime::sleep(absl::Microseconds(100)).then_result([=](absl::Status) {
              in_use->fetch_sub(static_cast<int>(n));
              permit->release();
            });
          });
    }));
    if (i % 7 == 0) tasks.back().abort();  // Some are aborted while they wait.
  }
  for (auto& t : tasks) (void)rt.block_on(std::move(t));
  INFO("admitted " << admitted->load() << " of " << kTasks);
  CHECK(worst->load() <= static_cast<int>(kPermits));
  CHECK(admitted->load() > 0);
  CHECK(WaitFor([&] { return sem.available_permits() == kPermits; }));
  CHECK(in_use->load() == 0);
}

TEST_CASE("Mutex: FIFO, try_lock, and a stopped lock never holds the mutex") {
  Mutex m;
  std::optional<MutexGuard> first = m.try_lock();
  REQUIRE(first.has_value());
  CHECK(first->owns_lock());
  CHECK_FALSE(m.try_lock().has_value());
  Future<MutexGuard> second = m.lock();
  Future<MutexGuard> third = m.lock();
  { Future<MutexGuard> dropped = m.lock(); }
  CHECK_FALSE(second.is_ready());
  first.reset();
  REQUIRE(second.is_ready());
  CHECK_FALSE(third.is_ready());
  auto g2 = second.take_result();
  REQUIRE(g2.ok());
  g2->unlock();
  REQUIRE(third.is_ready());
  { auto g3 = third.take_result(); }
  CHECK(m.try_lock().has_value());  // Free again: the dropped lock left nothing held.
}

TEST_CASE("Mutex stress: tasks x increments under the lock lose no update") {
  Runtime rt = Runtime::with_workers(2);
  const int kTasks = kSanitized ? 100 : 1000;
  const int kIncrements = kSanitized ? 100 : 1000;
  Mutex m;
  auto counter = std::make_shared<long>(0);  // Plain: only the mutex guards it.
  std::vector<JoinHandle<void>> tasks;
  for (int t = 0; t < kTasks; ++t) {
    tasks.push_back(rt.handle().spawn([=] {
      auto left = std::make_shared<int>(kIncrements);
      return nanorun::repeat([=] {
        return m.lock().then([=]([[maybe_unused]] MutexGuard guard) {
          ++*counter;
          return --*left == 0;
        });
      });
    }));
  }
  for (auto& t : tasks) REQUIRE(rt.block_on(std::move(t)).ok());
  CHECK(*counter == static_cast<long>(kTasks) * kIncrements);
}

TEST_CASE("Mutex: a guard moved into finally() holds the lock across a wait (docs/sync.md)") {
  Runtime rt = Runtime::with_workers(2);
  Mutex m;
  auto inside = std::make_shared<std::atomic<int>>(0);
  auto worst = std::make_shared<std::atomic<int>>(0);
  std::vector<JoinHandle<void>> tasks;
  for (int i = 0; i < 20; ++i) {
    tasks.push_back(rt.handle().spawn([=] {
      return m.lock().then([=](MutexGuard guard) {
        int now = inside->fetch_add(1) + 1;
        if (now > worst->load()) worst->store(now);
        return ntime::sleep(absl::Microseconds(200))
            .then([inside] { inside->fetch_sub(1); })
            .finally([guard = std::move(guard)] {});
      });
    }));
  }
  for (auto& t : tasks) REQUIRE(rt.block_on(std::move(t)).ok());
  CHECK(worst->load() == 1);
}

TEST_CASE("Notify: a notify_one before notified() is kept, as one permit") {
  Notify n;
  n.notify_one();
  n.notify_one();  // Still one permit.
  Future<void> first = n.notified();
  CHECK(first.is_ready());
  Future<void> second = n.notified();
  CHECK_FALSE(second.is_ready());
  n.notify_one();
  CHECK(second.is_ready());
  CHECK(second.take_result().ok());
}

TEST_CASE("Notify: notify_one wakes the first waiter; notify_all wakes all and keeps nothing") {
  Notify n;
  Future<void> a = n.notified();
  Future<void> b = n.notified();
  Future<void> c = n.notified();
  n.notify_one();
  CHECK(a.is_ready());
  CHECK_FALSE(b.is_ready());
  n.notify_all();
  CHECK(b.is_ready());
  CHECK(c.is_ready());
  Future<void> later = n.notified();
  CHECK_FALSE(later.is_ready());  // notify_all left no permit.
  { Future<void> dropped = std::move(later); }
  n.notify_one();  // Nobody waits now: becomes the permit.
  CHECK(n.notified().is_ready());
}

TEST_CASE("Notify: a stopped notified() takes no notification; the next waiter gets it") {
  Runtime rt = Runtime::with_workers(2);
  Notify n;
  { Future<void> dropped = n.notified(); }
  absl::Status timed_out =
      rt.block_on([n] { return ntime::timeout(absl::Milliseconds(10), n.notified()); });
  CHECK(timed_out.code() == absl::StatusCode::kDeadlineExceeded);
  Future<void> stopped = n.notified();
  CHECK(stopped.request_stop());
  CHECK(stopped.take_result().code() == absl::StatusCode::kCancelled);
  Future<void> waiting = n.notified();
  n.notify_one();
  CHECK(waiting.is_ready());
}

TEST_CASE("Notify stress: a ping-pong of 20,000 notifications between two tasks loses none") {
  Runtime rt = Runtime::with_workers(2);
  const int kRounds = kSanitized ? 2000 : 20000;
  Notify ping, pong;
  auto turn = std::make_shared<std::atomic<int>>(0);
  // Each side waits for its turn, then hands the turn over and notifies.
  auto side = [&](int me, Notify mine, Notify theirs) {
    return rt.handle().spawn([=] {
      auto done = std::make_shared<int>(0);
      return nanorun::repeat([=] {
        if (*done == kRounds) return nanorun::make_ready_future(true);
        if (turn->load() % 2 != me) return mine.notified().then([] { return false; });
        ++*done;
        turn->fetch_add(1);
        theirs.notify_one();
        return nanorun::make_ready_future(false);
      });
    });
  };
  JoinHandle<void> a = side(0, ping, pong);
  JoinHandle<void> b = side(1, pong, ping);
  auto within = [&](JoinHandle<void> h) {
    return rt.block_on([h = std::move(h)]() mutable {
      return ntime::timeout(absl::Seconds(30), std::move(h));
    });
  };
  CHECK(within(std::move(a)).ok());  // A lost notification would hang one side.
  CHECK(within(std::move(b)).ok());
  CHECK(turn->load() == 2 * kRounds);
}

}  // namespace
