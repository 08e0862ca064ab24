// Layer: task. The state machine, reference counting, wakers, join handles
// and abort, driven by hand through a scheduler that just records tasks.
#include <malloc.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <deque>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "nanorun/task/join_handle.h"
#include "nanorun/task/task.h"
#include "tests/catch.h"

namespace {

using nanorun::Context;
using nanorun::Poll;
using nanorun::Waker;
using nanorun::task::Header;
using nanorun::task::RawJoinHandle;
using nanorun::task::Task;

// Queues scheduled tasks; the test "runs" them by calling poll.
class FakeScheduler final : public nanorun::task::Scheduler {
 public:
  void schedule(Header* t, bool) override { queue.push_back(t); }
  void task_freed(Header*) override { ++freed; }

  // Runs queued tasks until none are left.
  void run_all() {
    while (!queue.empty()) {
      Header* t = queue.front();
      queue.pop_front();
      (void)t->vtable->poll(t);
    }
  }

  std::deque<Header*> queue;
  int freed = 0;
};

// Pending until `*go` is set; stores its waker for the test.
struct WaitBody {
  using Output = absl::StatusOr<int>;
  bool* go;
  Waker* saved;
  int* polls;
  Poll<Output> poll(Context& cx) {
    ++*polls;
    if (*go) return Poll<Output>::ready(Output(42));
    *saved = cx.waker();
    return Poll<Output>::pending();
  }
};

template <class Body>
RawJoinHandle<typename Body::Output> Spawn(FakeScheduler& s, Body body) {
  Header* t = Task<Body>::Create(std::move(body), &s);
  s.schedule(t, false);
  return RawJoinHandle<typename Body::Output>(t);
}

}  // namespace

TEST_CASE("a task runs, completes and hands its output to the handle", "[task]") {
  FakeScheduler s;
  bool go = true;
  Waker saved;
  int polls = 0;
  auto h = Spawn(s, WaitBody{&go, &saved, &polls});
  CHECK_FALSE(h.is_finished());
  s.run_all();
  CHECK(polls == 1);
  CHECK(h.is_finished());
  Waker noop;
  Context cx(noop);
  auto out = h.poll(cx);
  REQUIRE(out.is_ready());
  CHECK(*out.value() == 42);
  CHECK(s.freed == 1);
}

TEST_CASE("a wake reschedules exactly once; wakes while notified coalesce", "[task]") {
  FakeScheduler s;
  bool go = false;
  Waker saved;
  int polls = 0;
  auto h = Spawn(s, WaitBody{&go, &saved, &polls});
  s.run_all();
  CHECK(polls == 1);
  CHECK(s.queue.empty());
  saved.wake_by_ref();
  saved.wake_by_ref();  // Already notified: no second queue entry.
  CHECK(s.queue.size() == 1);
  go = true;
  s.run_all();
  CHECK(polls == 2);
  CHECK(h.is_finished());
  saved = Waker();  // Dropping the last waker after completion.
  h = RawJoinHandle<absl::StatusOr<int>>();
  CHECK(s.freed == 1);
}

TEST_CASE("the join handle's waker is woken at completion", "[task]") {
  FakeScheduler s;
  bool go = false;
  Waker saved;
  int polls = 0;
  auto h = Spawn(s, WaitBody{&go, &saved, &polls});
  s.run_all();

  struct Flag {
    int woken = 0;
  } flag;
  static const nanorun::RawWakerVTable kVt = {
      [](const void* d) { return nanorun::RawWaker{d, &kVt}; },
      [](const void* d) { static_cast<Flag*>(const_cast<void*>(d))->woken++; },
      [](const void* d) { static_cast<Flag*>(const_cast<void*>(d))->woken++; },
      [](const void*) {}};
  Waker join_waker = Waker::from_raw(nanorun::RawWaker{&flag, &kVt});
  Context cx(join_waker);
  CHECK(h.poll(cx).is_pending());
  CHECK(flag.woken == 0);
  go = true;
  saved.wake();
  s.run_all();
  CHECK(flag.woken == 1);
  auto out = h.poll(cx);
  REQUIRE(out.is_ready());
  CHECK(*out.value() == 42);
}

TEST_CASE("abort cancels an idle task with CancelledError", "[task]") {
  FakeScheduler s;
  bool go = false;
  Waker saved;
  int polls = 0;
  auto h = Spawn(s, WaitBody{&go, &saved, &polls});
  s.run_all();
  h.abort();
  s.run_all();
  CHECK(polls == 1);  // Not polled again: the body was dropped.
  REQUIRE(h.is_finished());
  Waker noop;
  Context cx(noop);
  auto out = h.poll(cx);
  REQUIRE(out.is_ready());
  CHECK(absl::IsCancelled(out.value().status()));
  saved = Waker();
  CHECK(s.freed == 1);
}

TEST_CASE("a dropped handle detaches; the output is dropped at completion", "[task]") {
  FakeScheduler s;
  bool go = true;
  Waker saved;
  int polls = 0;
  { auto h = Spawn(s, WaitBody{&go, &saved, &polls}); }
  CHECK(s.freed == 0);
  s.run_all();
  CHECK(polls == 1);
  CHECK(s.freed == 1);
}

#if NANORUN_HAS_EXCEPTIONS
TEST_CASE("an exception escaping poll fails the task, not the thread", "[task]") {
  struct Throwing {
    using Output = absl::StatusOr<int>;
    Poll<Output> poll(Context&) { throw std::runtime_error("boom"); }
  };
  FakeScheduler s;
  auto h = Spawn(s, Throwing{});
  s.run_all();
  Waker noop;
  Context cx(noop);
  auto out = h.poll(cx);
  REQUIRE(out.is_ready());
  CHECK(out.value().status().message().find("boom") != absl::string_view::npos);
}
#endif

TEST_CASE("wakes from another thread racing the poll lose nothing", "[task][stress]") {
  // The body counts wakes it has seen; a foreign thread wakes N times while
  // the test thread polls. At the end every wake led to a poll (or was
  // coalesced into one that saw it).
  struct CountBody {
    using Output = absl::StatusOr<int>;
    std::atomic<int>* wakes_sent;
    std::atomic<Waker*>* slot;
    Waker* storage;
    int target;
    Poll<Output> poll(Context& cx) {
      if (wakes_sent->load() >= target) return Poll<Output>::ready(Output(1));
      if (slot->load() == nullptr) {
        *storage = cx.waker();
        slot->store(storage);
      }
      return Poll<Output>::pending();
    }
  };
  std::atomic<int> wakes{0};
  std::atomic<Waker*> slot{nullptr};
  Waker storage;
  constexpr int kWakes = 20000;
  // A thread-safe scheduler: a mutex-free single consumer via atomic flag.
  class QueueScheduler final : public nanorun::task::Scheduler {
   public:
    void schedule(Header* t, bool) override {
      std::lock_guard<std::mutex> l(mu);
      q.push_back(t);
    }
    void task_freed(Header*) override { freed++; }
    Header* pop() {
      std::lock_guard<std::mutex> l(mu);
      if (q.empty()) return nullptr;
      Header* t = q.front();
      q.pop_front();
      return t;
    }
    std::mutex mu;
    std::deque<Header*> q;
    std::atomic<int> freed{0};
  } s;
  Header* t = Task<CountBody>::Create(CountBody{&wakes, &slot, &storage, kWakes}, &s);
  s.schedule(t, false);
  RawJoinHandle<absl::StatusOr<int>> h(t);
  std::thread waker_thread([&] {
    while (slot.load() == nullptr) std::this_thread::yield();
    Waker w = *slot.load();
    for (int i = 0; i < kWakes; ++i) {
      wakes.fetch_add(1);
      w.wake_by_ref();
    }
  });
  while (!h.is_finished()) {
    if (Header* next = s.pop()) (void)next->vtable->poll(next);
  }
  waker_thread.join();
  while (Header* next = s.pop()) (void)next->vtable->poll(next);  // Drain stale entries.
  storage = Waker();
  h = RawJoinHandle<absl::StatusOr<int>>();
  CHECK(s.freed.load() == 1);
}

// The block cache and its slabs (task/block_cache.h): blocks of every class,
// many more than any cache holds, allocated on one thread and freed on
// another, never overlap; and once all are freed the slabs go back, so the
// heap does not keep the peak.
TEST_CASE("block cache: 200,000 blocks across threads never overlap, and the memory comes back",
          "[task][stress]") {
  using nanorun::task::AllocateBlock;
  using nanorun::task::FreeBlock;
  struct Block {
    unsigned char* p;
    size_t size;
    unsigned char tag;
  };
  constexpr int kBlocks = 200000;
  auto make = [](int i) {
    size_t size = 8 + static_cast<size_t>(i % 31) * 16;  // Every class, 8 .. 488 bytes.
    auto* p = static_cast<unsigned char*>(AllocateBlock(size));
    unsigned char tag = static_cast<unsigned char>(i * 7 + 1);
    for (size_t k = 0; k < size; ++k) p[k] = tag;
    REQUIRE(reinterpret_cast<uintptr_t>(p) % nanorun::task::kBlockAlign == 0);
    return Block{p, size, tag};
  };
  auto intact = [](const Block& b) {
    for (size_t k = 0; k < b.size; ++k) {
      if (b.p[k] != b.tag) return false;
    }
    return true;
  };
  for (int round = 0; round < 2; ++round) {
    std::vector<Block> blocks;
    blocks.reserve(kBlocks);
    for (int i = 0; i < kBlocks; ++i) blocks.push_back(make(i));
    size_t broken = 0;
    for (const Block& b : blocks) broken += intact(b) ? 0 : 1;
    CHECK(broken == 0);
    // Freed on another thread (as a worker frees what another spawned).
    std::thread other([&] {
      for (const Block& b : blocks) FreeBlock(b.p, b.size);
    });
    other.join();
  }
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33)) && \
    !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  // ~50 MB were live at the peak; what stays is what the caches and the
  // depot may keep (512 KiB per class in the depot) and slabs they pin.
  size_t in_use = mallinfo2().uordblks;
  INFO("heap in use after freeing everything: " << in_use);
  CHECK(in_use < 24u * 1024 * 1024);  // One slab per class keeps this ~18 MB; mixed slabs kept 64 MB.
#endif
}
