// nanorun::sync: Semaphore and Mutex. FIFO grants, the cancel rules (a stopped
// acquire or lock takes nothing and leaves nothing held), close, lifetimes, and
// stress: no over-admission under concurrent acquire and cancel, no lost update
// under the Mutex.
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "nanorun/nanorun.h"
#include "tests/catch.h"
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

// ---- Channels ----

using nanorun::sync::Receiver;
using nanorun::sync::Sender;

TEST_CASE("channel: buffers up to capacity, then send waits; a recv admits the first waiting send") {
  auto [tx, rx] = nanorun::sync::channel<int>(2);
  CHECK(rx.capacity() == 2);
  CHECK(tx.send(1).is_ready());
  CHECK(tx.try_send(2).ok());
  absl::Status full = tx.try_send(99);
  CHECK(full.code() == absl::StatusCode::kResourceExhausted);
  Future<void> third = tx.send(3);
  Future<void> fourth = tx.send(4);
  CHECK_FALSE(third.is_ready());
  CHECK(rx.size() == 2);
  auto v1 = rx.recv();
  REQUIRE(v1.is_ready());
  CHECK(**v1.take_result() == 1);
  CHECK(third.is_ready());  // Its value took the freed slot...
  CHECK_FALSE(fourth.is_ready());  // ...and the next waits behind it (FIFO).
  CHECK(tx.try_send(98).code() == absl::StatusCode::kResourceExhausted);  // Waiters first.
  std::vector<int> got;
  for (int i = 0; i < 3; ++i) {
    auto v = rx.recv();
    REQUIRE(v.is_ready());
    got.push_back(**v.take_result());
  }
  CHECK(got == std::vector<int>{2, 3, 4});
  CHECK(fourth.is_ready());
  CHECK(fourth.take_result().ok());
}

TEST_CASE("channel: a waiting recv gets the next send; the end is nullopt after the last Sender") {
  auto [tx, rx] = nanorun::sync::channel<std::string>(4);
  Future<std::optional<std::string>> waiting = rx.recv();
  CHECK_FALSE(waiting.is_ready());
  Sender<std::string> copy = tx;
  CHECK(copy.send("hello").is_ready());
  REQUIRE(waiting.is_ready());
  CHECK(*waiting.take_result() == std::optional<std::string>("hello"));
  CHECK(tx.send("buffered").is_ready());
  Future<std::optional<std::string>> second_wait;
  {
    Sender<std::string> gone = std::move(tx);
  }  // One Sender left (copy).
  CHECK(**rx.recv().take_result() == "buffered");
  second_wait = rx.recv();
  CHECK_FALSE(second_wait.is_ready());
  copy = Sender<std::string>(copy);  // Self-copy through a temporary: still one.
  { Sender<std::string> last = std::move(copy); }
  REQUIRE(second_wait.is_ready());  // Every Sender gone, nothing buffered: the end.
  CHECK(*second_wait.take_result() == std::nullopt);
  CHECK(*rx.recv().take_result() == std::nullopt);
  CHECK(rx.try_recv().status().code() == absl::StatusCode::kOutOfRange);
}

TEST_CASE("channel: close fails waiting and later sends; what is buffered is still read") {
  auto [tx, rx] = nanorun::sync::channel<int>(1);
  CHECK(tx.send(1).is_ready());
  Future<void> waiting = tx.send(2);
  CHECK(rx.try_recv().value() == 1);  // Admits 2.
  Future<void> waiting2 = tx.send(3);
  CHECK_FALSE(waiting2.is_ready());
  rx.close();
  CHECK(tx.is_closed());
  REQUIRE(waiting2.is_ready());
  absl::Status s = waiting2.take_result();
  CHECK(s.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(absl::StrContains(s.message(), "closed"));
  CHECK(tx.send(4).take_result().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(tx.try_send(5).code() == absl::StatusCode::kFailedPrecondition);
  CHECK(waiting.take_result().ok());
  CHECK(**rx.recv().take_result() == 2);
  CHECK(*rx.recv().take_result() == std::nullopt);  // Closed and drained.
}

TEST_CASE("channel: destroying the Receiver fails sends and destroys what was buffered") {
  auto tracked = std::make_shared<int>(7);
  auto [tx, rx] = nanorun::sync::channel<std::shared_ptr<int>>(4);
  CHECK(tx.send(tracked).is_ready());
  CHECK(tracked.use_count() == 2);
  { Receiver<std::shared_ptr<int>> gone = std::move(rx); }
  CHECK(tracked.use_count() == 1);
  CHECK(tx.send(tracked).take_result().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(tracked.use_count() == 1);  // The refused value was dropped, not kept.
  CHECK(rx.recv().take_result().status().code() == absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("channel: a stopped recv takes no value; a stopped send sends nothing") {
  Runtime rt = Runtime::with_workers(2);
  auto channel = nanorun::sync::channel<int>(1);
  Sender<int>& tx = channel.first;
  Receiver<int>& rx = channel.second;
  { auto dropped = rx.recv(); }
  auto timed_out = rt.block_on([&] { return ntime::timeout(absl::Milliseconds(5), rx.recv()); });
  CHECK(timed_out.status().code() == absl::StatusCode::kDeadlineExceeded);
  CHECK(tx.send(1).is_ready());  // Reaches nobody stopped: it is buffered.
  { Future<void> dropped = tx.send(2); }  // Full: waits, then dropped.
  auto send_timed_out =
      rt.block_on([&] { return ntime::timeout(absl::Milliseconds(5), tx.send(3)); });
  CHECK(send_timed_out.code() == absl::StatusCode::kDeadlineExceeded);
  Future<void> fourth = tx.send(4);
  CHECK_FALSE(fourth.is_ready());
  auto first = rt.block_on(rx.recv());
  REQUIRE(first.ok());
  CHECK(**first == 1);
  auto second = rt.block_on(rx.recv());
  CHECK(**second == 4);  // 2 and 3 were never sent.
  CHECK(rt.block_on(std::move(fourth)).ok());
  CHECK(rx.size() == 0);
}

// The recv a value is being handed to is dropped at that very moment (the test
// seam runs between the claim and the hand-over): the value comes back, to the
// buffer's front or to the recv that came next.
std::optional<Future<std::optional<int>>> g_recv_to_drop;
std::optional<Future<std::optional<int>>> g_recv_made_in_seam;
Receiver<int>* g_seam_receiver = nullptr;

TEST_CASE("channel: a value handed to a recv as it is dropped is not lost") {
  namespace sd = nanorun::sync::detail;
  auto [tx, rx] = nanorun::sync::channel<int>(4);
  CHECK(tx.send(0).is_ready());
  CHECK(**rx.recv().take_result() == 0);
  g_recv_to_drop = rx.recv();
  REQUIRE_FALSE(g_recv_to_drop->is_ready());
  sd::g_before_hand_over_for_test.store(+[] { g_recv_to_drop.reset(); });
  CHECK(tx.send(1).is_ready());
  CHECK(tx.send(2).is_ready());  // Buffered behind 1, which came back to the front.
  sd::g_before_hand_over_for_test.store(nullptr);
  CHECK(**rx.recv().take_result() == 1);
  CHECK(**rx.recv().take_result() == 2);

  // This time a new recv is waiting by the time the value comes back: it gets it.
  g_recv_to_drop = rx.recv();
  g_seam_receiver = &rx;
  sd::g_before_hand_over_for_test.store(+[] {
    if (!g_recv_to_drop.has_value()) return;
    g_recv_to_drop.reset();
    g_recv_made_in_seam = g_seam_receiver->recv();
  });
  CHECK(tx.send(3).is_ready());
  sd::g_before_hand_over_for_test.store(nullptr);
  REQUIRE(g_recv_made_in_seam.has_value());
  REQUIRE(g_recv_made_in_seam->is_ready());
  CHECK(**g_recv_made_in_seam->take_result() == 3);
  g_recv_made_in_seam.reset();
  CHECK(rx.size() == 0);
}

TEST_CASE("channel: a value racing a recv that is being dropped goes to the next recv, in order") {
  // The consumer gives each recv a very short timeout, so values often arrive
  // as a recv is stopped; every value still arrives exactly once, in order.
  Runtime rt = Runtime::with_workers(2);
  constexpr int kValues = kSanitized ? 3000 : 30000;
  auto [tx, rx] = nanorun::sync::channel<int>(4);
  JoinHandle<void> producer = rt.handle().spawn([tx = tx] {
    auto next = std::make_shared<int>(0);
    return nanorun::repeat([tx, next] {
      if (*next == kValues) return nanorun::make_ready_future(true);
      return tx.send((*next)++).then([] { return false; });
    });
  });
  { Sender<int> only_the_task = std::move(tx); }
  auto rx_ptr = std::make_shared<Receiver<int>>(std::move(rx));
  auto expected = std::make_shared<int>(0);
  auto timeouts = std::make_shared<int>(0);
  auto bad = std::make_shared<int>(0);
  auto consumer = rt.block_on([=] {
    return nanorun::repeat([=] {
      return ntime::timeout(absl::Microseconds(20), rx_ptr->recv())
          .then_result([=](absl::StatusOr<std::optional<int>> v) {
            if (!v.ok()) {
              ++*timeouts;
              return false;
            }
            if (!v->has_value()) return true;
            if (**v != *expected) ++*bad;
            *expected = **v + 1;
            return false;
          });
    });
  });
  REQUIRE(consumer.ok());
  REQUIRE(rt.block_on(std::move(producer)).ok());
  INFO("timeouts " << *timeouts);
  CHECK(*bad == 0);
  CHECK(*expected == kValues);
}

TEST_CASE("channel stress: 4 producers x 250,000 through capacity 16, each once, in order per producer") {
  Runtime rt = Runtime::with_workers(2);
  constexpr int kPerProducer = kSanitized ? 25000 : 250000;
  constexpr int kProducers = 4;
  auto [tx, rx] = nanorun::sync::channel<std::pair<int, int>>(16);
  std::vector<JoinHandle<void>> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.push_back(rt.handle().spawn([tx = tx, p] {
      auto next = std::make_shared<int>(0);
      return nanorun::repeat([tx, p, next] {
        if (*next == kPerProducer) return nanorun::make_ready_future(true);
        return tx.send({p, (*next)++}).then([] { return false; });
      });
    }));
  }
  { Sender<std::pair<int, int>> drop_ours = std::move(tx); }
  auto rx_ptr = std::make_shared<Receiver<std::pair<int, int>>>(std::move(rx));
  auto next_of = std::make_shared<std::vector<int>>(kProducers, 0);
  auto out_of_order = std::make_shared<long>(0);
  auto received = std::make_shared<long>(0);
  auto done = rt.block_on(rt.handle().spawn([=] {
    return nanorun::repeat([=] {
      return rx_ptr->recv().then([=](std::optional<std::pair<int, int>> m) {
        if (!m.has_value()) return true;
        ++*received;
        if (m->second != (*next_of)[m->first]) ++*out_of_order;
        (*next_of)[m->first] = m->second + 1;
        return false;
      });
    });
  }));
  REQUIRE(done.ok());
  for (auto& p : producers) REQUIRE(rt.block_on(std::move(p)).ok());
  CHECK(*received == static_cast<long>(kProducers) * kPerProducer);
  CHECK(*out_of_order == 0);
  for (int p = 0; p < kProducers; ++p) CHECK((*next_of)[p] == kPerProducer);
}

TEST_CASE("unbounded_channel: send never waits") {
  auto [tx, rx] = nanorun::sync::unbounded_channel<int>();
  const int kValues = 100000;
  for (int i = 0; i < kValues; ++i) REQUIRE(tx.send(i).is_ready());
  CHECK(rx.size() == static_cast<size_t>(kValues));
  int64_t sum = 0;  // Not long: 32 bits on Windows.
  for (int i = 0; i < kValues; ++i) sum += rx.try_recv().value();
  CHECK(sum == static_cast<int64_t>(kValues) * (kValues - 1) / 2);
  CHECK(rx.try_recv().status().code() == absl::StatusCode::kUnavailable);
}

TEST_CASE("channel: waiting futures outlive every handle and the runtime safely") {
  Future<std::optional<int>> orphan_recv;
  Future<void> orphan_send;
  {
    auto [tx, rx] = nanorun::sync::channel<int>(1);
    orphan_recv = rx.recv();
    auto [tx2, rx2] = nanorun::sync::channel<int>(1);
    CHECK(tx2.send(1).is_ready());
    orphan_send = tx2.send(2);
    CHECK_FALSE(orphan_send.is_ready());
  }  // Every handle gone.
  REQUIRE(orphan_recv.is_ready());
  CHECK(*orphan_recv.take_result() == std::nullopt);
  REQUIRE(orphan_send.is_ready());  // Its Receiver is gone: it fails.
  CHECK(orphan_send.take_result().code() == absl::StatusCode::kFailedPrecondition);

  // A task waiting in recv() on a runtime that is destroyed: the task is
  // cancelled, its recv leaves the queue, and the Receiver it owned goes.
  std::optional<Sender<int>> survivor;
  {
    Runtime rt = Runtime::with_workers(1);
    auto [tx, rx] = nanorun::sync::channel<int>(1);
    survivor = tx;
    auto rx_ptr = std::make_shared<Receiver<int>>(std::move(rx));
    JoinHandle<int> waiting = rt.handle().spawn([rx_ptr] {
      return rx_ptr->recv().then([](std::optional<int> v) { return v.value_or(-1); });
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  CHECK(survivor->send(5).take_result().code() == absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("channel: a moved-from Sender or Receiver reports it; channel(0) is reported misuse") {
  auto [tx, rx] = nanorun::sync::channel<int>(1);
  Sender<int> moved = std::move(tx);
  CHECK(tx.send(1).take_result().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(tx.try_send(1).code() == absl::StatusCode::kFailedPrecondition);
  CHECK(tx.is_closed());
  Receiver<int> moved_rx = std::move(rx);
  CHECK(rx.try_recv().status().code() == absl::StatusCode::kFailedPrecondition);

  static std::string message;
  auto previous = nanorun::SetMisuseHandler([](absl::string_view m) { message = std::string(m); });
  auto [tx0, rx0] = nanorun::sync::channel<int>(0);
  nanorun::SetMisuseHandler(previous);
  CHECK(absl::StrContains(message, "capacity >= 1"));
  CHECK(rx0.capacity() == 1);
}

// ---- Barrier ----

using nanorun::sync::Barrier;

TEST_CASE("Barrier: the n-th wait releases the round; exactly one is the leader; it starts over") {
  Barrier barrier(3);
  for (int round = 0; round < 2; ++round) {
    Future<bool> a = barrier.wait();
    Future<bool> b = barrier.wait();
    CHECK_FALSE(a.is_ready());
    CHECK(barrier.waiting() == 2);
    Future<bool> c = barrier.wait();
    REQUIRE(c.is_ready());
    REQUIRE(a.is_ready());
    REQUIRE(b.is_ready());
    CHECK(*c.take_result() == true);
    CHECK(*a.take_result() == false);
    CHECK(*b.take_result() == false);
    CHECK(barrier.waiting() == 0);
  }
  Barrier one(0);  // As Barrier(1).
  CHECK(*one.wait().take_result() == true);
}

TEST_CASE("Barrier: a stopped wait settles Cancelled and its arrival still counts") {
  Runtime rt = Runtime::with_workers(2);
  Barrier barrier(3);
  Future<bool> a = barrier.wait();
  auto timed_out = rt.block_on([&] { return ntime::timeout(absl::Milliseconds(5), barrier.wait()); });
  CHECK(timed_out.status().code() == absl::StatusCode::kDeadlineExceeded);
  CHECK(barrier.waiting() == 2);
  Future<bool> c = barrier.wait();
  CHECK(*c.take_result() == true);
  CHECK(*rt.block_on(std::move(a)) == false);
}

TEST_CASE("Barrier stress: 8 tasks x 500 rounds, one leader per round, nobody runs ahead") {
  Runtime rt = Runtime::with_workers(2);
  constexpr int kTasks = 8;
  const int kRounds = kSanitized ? 100 : 500;
  Barrier barrier(kTasks);
  auto leaders = std::make_shared<std::atomic<int>>(0);
  auto arrivals = std::make_shared<std::atomic<int>>(0);
  auto ahead = std::make_shared<std::atomic<int>>(0);
  std::vector<JoinHandle<void>> tasks;
  for (int t = 0; t < kTasks; ++t) {
    tasks.push_back(rt.handle().spawn([=] {
      auto round = std::make_shared<int>(0);
      return nanorun::repeat([=] {
        arrivals->fetch_add(1);
        return barrier.wait().then([=](bool leader) {
          if (leader) leaders->fetch_add(1);
          // Every task of this round has arrived before anyone is released.
          if (arrivals->load() < (*round + 1) * kTasks) ahead->fetch_add(1);
          return ++*round == kRounds;
        });
      });
    }));
  }
  for (auto& t : tasks) REQUIRE(rt.block_on(std::move(t)).ok());
  CHECK(leaders->load() == kRounds);
  CHECK(ahead->load() == 0);
  CHECK(arrivals->load() == kTasks * kRounds);
}

// ---- JoinSet ----

using nanorun::JoinSet;

TEST_CASE("JoinSet: join_next gives results in finishing order, then nullopt") {
  Runtime rt = Runtime::with_workers(2);
  JoinSet<int> set(rt.handle());
  CHECK(set.empty());
  for (int ms : {60, 10, 35}) {
    set.spawn([ms] { return ntime::sleep(absl::Milliseconds(ms)).then([ms] { return ms; }); });
  }
  set.spawn([]() -> absl::StatusOr<int> { return absl::NotFoundError("no such key"); });
  CHECK(set.size() == 4);
  std::vector<int> order;
  int errors = 0;
  for (int i = 0; i < 4; ++i) {
    auto next = rt.block_on(set.join_next());
    REQUIRE(next.ok());
    REQUIRE(next->has_value());
    if ((*next)->ok()) {
      order.push_back(***next);
    } else {
      CHECK((*next)->status().code() == absl::StatusCode::kNotFound);
      ++errors;
    }
  }
  CHECK(order == std::vector<int>{10, 35, 60});
  CHECK(errors == 1);
  CHECK(set.size() == 0);
  auto end = rt.block_on(set.join_next());
  REQUIRE(end.ok());
  CHECK_FALSE(end->has_value());
}

TEST_CASE("JoinSet: abort_all cancels the rest; each one's result still comes out") {
  Runtime rt = Runtime::with_workers(2);
  auto ran_to_end = std::make_shared<std::atomic<int>>(0);
  JoinSet<void> set(rt.handle());
  for (int i = 0; i < 5; ++i) {
    set.spawn([ran_to_end] {
      return ntime::sleep(absl::Seconds(10)).then([ran_to_end] { ran_to_end->fetch_add(1); });
    });
  }
  set.spawn([] {});  // Finishes at once.
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  set.abort_all();
  int cancelled = 0, ok = 0;
  while (!set.empty()) {
    auto next = rt.block_on([&] { return ntime::timeout(absl::Seconds(5), set.join_next()); });
    REQUIRE(next.ok());
    REQUIRE(next->has_value());
    if ((*next)->ok()) {
      ++ok;
    } else {
      CHECK((*next)->code() == absl::StatusCode::kCancelled);
      ++cancelled;
    }
  }
  CHECK(ok == 1);
  CHECK(cancelled == 5);
  CHECK(ran_to_end->load() == 0);
  CHECK(rt.handle().pending_timers() == 0);  // The sleeps left the wheel.
}

TEST_CASE("JoinSet: destroying the set aborts its tasks") {
  Runtime rt = Runtime::with_workers(2);
  auto ran_to_end = std::make_shared<std::atomic<int>>(0);
  {
    JoinSet<void> set(rt.handle());
    for (int i = 0; i < 3; ++i) {
      set.spawn([ran_to_end] {
        return ntime::sleep(absl::Milliseconds(30)).then([ran_to_end] { ran_to_end->fetch_add(1); });
      });
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(80));
  CHECK(ran_to_end->load() == 0);
  CHECK(WaitFor([&] { return rt.handle().pending_timers() == 0; }));
}

TEST_CASE("JoinSet: a stopped join_next takes no result") {
  Runtime rt = Runtime::with_workers(2);
  JoinSet<int> set(rt.handle());
  nanorun::Promise<int> gate;
  auto shared_gate = std::make_shared<Future<int>>(gate.get_future());
  set.spawn([shared_gate] { return std::move(*shared_gate); });
  auto timed_out =
      rt.block_on([&] { return ntime::timeout(absl::Milliseconds(5), set.join_next()); });
  CHECK(timed_out.status().code() == absl::StatusCode::kDeadlineExceeded);
  CHECK(set.size() == 1);
  gate.set_value(42);
  auto next = rt.block_on(set.join_next());
  REQUIRE(next.ok());
  REQUIRE(next->has_value());
  CHECK(***next == 42);
  CHECK(set.empty());
}

TEST_CASE("JoinSet: spawned from inside a task onto the current runtime; off a runtime it fails") {
  Runtime rt = Runtime::with_workers(2);
  auto sum = rt.block_on(rt.handle().spawn([] {
    auto set = std::make_shared<JoinSet<long>>();  // The current runtime.
    for (long i = 1; i <= 1000; ++i) set->spawn([i] { return i; });
    auto total = std::make_shared<long>(0);
    return nanorun::repeat([set, total] {
             return set->join_next().then([total](std::optional<absl::StatusOr<long>> r) {
               if (!r.has_value()) return true;
               *total += r->value();
               return false;
             });
           })
        .then([total] { return *total; });
  }));
  REQUIRE(sum.ok());
  CHECK(*sum == 1000L * 1001 / 2);

  JoinSet<int> nowhere;  // No runtime on this thread.
  nowhere.spawn([] { return 1; });
  CHECK(nowhere.size() == 1);
  auto r = nowhere.join_next();
  REQUIRE(r.is_ready());
  auto v = r.take_result();
  REQUIRE(v.ok());
  REQUIRE(v->has_value());
  CHECK((*v)->status().code() == absl::StatusCode::kCancelled);
  CHECK(absl::StrContains((*v)->status().message(), "could not be spawned"));
}

TEST_CASE("AbortHandle: outlives its task and its runtime safely") {
  nanorun::AbortHandle late;
  {
    Runtime rt = Runtime::with_workers(1);
    JoinHandle<int> h = rt.handle().spawn([] { return ntime::sleep(absl::Seconds(10)).then([] { return 1; }); });
    late = h.abort_handle();
    nanorun::AbortHandle copy = late;
    CHECK_FALSE(copy.is_finished());
    copy.abort();
    auto r = rt.block_on(std::move(h));
    CHECK(r.status().code() == absl::StatusCode::kCancelled);
    CHECK(late.is_finished());
  }
  late.abort();  // The task and its runtime are gone: nothing happens.
  CHECK(late.is_finished());
}

TEST_CASE("JoinSet<void>: try_join_next gives only finished results; OK and errors both count") {
  Runtime rt = Runtime::with_workers(2);
  JoinSet<void> set(rt.handle());
  auto gate = std::make_shared<nanorun::Promise<void>>();
  auto gate_future = std::make_shared<Future<void>>(gate->get_future());
  set.spawn([gate_future] { return std::move(*gate_future); });
  set.spawn([]() -> absl::Status { return absl::AbortedError("failed job"); });
  set.spawn([] {});
  CHECK(WaitFor([&] { return set.size() == 3; }));
  std::vector<absl::Status> got;
  CHECK(WaitFor([&] {
    while (auto r = set.try_join_next()) got.push_back(*r);
    return got.size() == 2;
  }));
  CHECK(set.size() == 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK_FALSE(set.try_join_next().has_value());  // The gated task is still running.
  gate->set_value();
  auto last = rt.block_on(set.join_next());
  REQUIRE(last.ok());
  REQUIRE(last->has_value());
  CHECK((*last)->ok());
  CHECK(set.empty());
  int errors = 0;
  for (auto& s : got) errors += s.code() == absl::StatusCode::kAborted;
  CHECK(errors == 1);
}

TEST_CASE("channel<absl::Status>: a Status is a value like any other through recv") {
  auto [tx, rx] = nanorun::sync::channel<absl::Status>(4);
  CHECK(tx.try_send(absl::OkStatus()).ok());
  CHECK(tx.try_send(absl::NotFoundError("x")).ok());
  auto first = rx.recv().take_result();
  REQUIRE(first.ok());
  REQUIRE(first->has_value());
  CHECK((*first)->ok());
  auto second = rx.recv().take_result();
  REQUIRE(second.ok());
  CHECK((*second)->code() == absl::StatusCode::kNotFound);
}
