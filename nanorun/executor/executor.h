// The multi-worker, work-stealing executor: the engine under Runtime.
//
// It runs tasks (the task layer's Header*) on N worker threads. Each worker
// has a bounded lock-free LocalQueue plus a LIFO slot; tasks spawned or woken
// from outside a worker go to the shared Injector. An idle worker steals half
// of a random peer's queue before going to sleep; one sleeping worker holds
// the driver token and sleeps in the reactor, the others on their own
// condition variables (parker.h). Wakes never allocate.
//
// Layering: the executor sits below the future layer and knows nothing of
// Future<T>. Runtime, Handle and spawn(F) speak in futures, so they live in
// nanorun/future/runtime.h and drive this class.
#ifndef NANORUN_EXECUTOR_EXECUTOR_H_
#define NANORUN_EXECUTOR_EXECUTOR_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "nanorun/blocking/blocking_pool.h"
#include "nanorun/executor/idle.h"
#include "nanorun/executor/injector.h"
#include "nanorun/executor/local_queue.h"
#include "nanorun/executor/owned_tasks.h"
#include "nanorun/executor/parker.h"
#include "nanorun/reactor/reactor.h"
#include "nanorun/task/header.h"
#include "nanorun/task/join_handle.h"
#include "nanorun/task/task.h"
#include "nanorun/time/clock.h"
#include "nanorun/time/driver.h"

namespace nanorun {
inline namespace v0 {
namespace executor {

// How Executor::spawn queues a new task. (Outside the class: clang cannot
// use default member initializers of a nested class in a default argument.)
struct SpawnOptions {
  // The body is Ready on its first poll, so the task is never idle: it is
  // always in a queue until it runs, and shutdown finds (and cancels) it
  // there. Such tasks skip the registry (two locked list operations); a
  // graceful drain counts them through per-worker counters instead.
  bool completes_on_first_poll = false;
};

struct Worker;

// Work a waker hands to the worker that is delivering I/O edges, to run once
// that worker has left the reactor (see Executor::defer_io). Intrusive: the
// waker's owner embeds it, and keeps it alive until run(owner) is called.
struct DeferredIo {
  DeferredIo* next = nullptr;
  void (*run)(void* owner) = nullptr;
  void* owner = nullptr;
};

class Executor final : public task::Scheduler {
 public:
  // Starts `num_workers` (>= 1) worker threads whose timers read `clock`,
  // and a blocking pool (started lazily) bounded by `pool`. The returned
  // executor holds one reference for the caller (drop_ref() it after
  // shutdown()).
  static absl::Status Create(size_t num_workers, time::Clock clock, Executor** out,
                             blocking::PoolOptions pool = {});
  static absl::Status Create(size_t num_workers, Executor** out) {
    return Create(num_workers, time::Clock(), out);
  }

  // The executor whose worker is the calling thread, or nullptr.
  static Executor* current();

  // For I/O wakers (nanorun::net's pending operations): when the calling thread
  // is a worker inside its reactor, delivering edges, queues `work` to run on
  // this worker right after it leaves the reactor, and returns true; otherwise
  // returns false (run it now). So no user continuation runs while the worker
  // is counted as parked and holds the driver token: peers would not be woken
  // for work, and timers and other I/O would wait behind it. At most
  // kIoBudget deferred operations run in a row; the rest run between tasks.
  static bool defer_io(DeferredIo* work);

  // For yield_now: when the calling thread is a worker, queues run(arg,
  // false) to run on it once it has no local task left to run (its LIFO slot
  // and queue are empty), or once it has run 61 more tasks if they never
  // empty; returns true. Otherwise returns false.
  // Allocation-free (a per-worker vector), unlike a task per yield. Pending
  // ones at shutdown run with cancelled = true, on the thread shutting down.
  // (tokio's yield_now defers its wake the same way: it runs when the worker
  // next looks at its driver: when idle, or every 61 tasks.)
  using YieldFn = void (*)(void* arg, bool cancelled);
  static bool defer_yield(YieldFn run, void* arg);

  // Spawns `body` as a new task. After shutdown the task is cancelled at
  // once and its handle yields absl::CancelledError.
  template <class Body>
  task::RawJoinHandle<typename Body::Output> spawn(Body body,
                                                   SpawnOptions options = {}) {
    task::Header* t = task::Task<Body>::Create(std::move(body), this);
    submit_new(t, options);
    return task::RawJoinHandle<typename Body::Output>(t);
  }

  // Stops the workers (the tasks they are polling finish that poll), joins
  // them, then cancels every task that has not completed: their join
  // handles see absl::CancelledError. Idempotent. Must not be called from a
  // worker of this executor (it would join itself); that is reported as
  // misuse and ignored.
  void shutdown();
  bool is_shut_down() const {
    return shutdown_.load(std::memory_order_acquire);
  }

  size_t num_workers() const { return workers_.size(); }

  // The pool that runs blocking jobs for this runtime (spawn_blocking).
  blocking::BlockingPool& blocking_pool() { return *blocking_; }
  const std::shared_ptr<blocking::BlockingPool>& blocking_pool_ref() const { return blocking_; }

  // A graceful shutdown: from now on is_draining() is true (the future layer
  // refuses spawns from outside the runtime); tasks and blocking jobs get
  // until `deadline` to finish; then shutdown() cancels what is left, and the
  // blocking pool drops its queued jobs and leaves running ones detached.
  // Same threading rule as shutdown().
  struct DrainReport {
    size_t tasks_finished = 0;
    size_t tasks_cancelled = 0;
    blocking::PoolShutdownReport blocking;
  };
  DrainReport drain(absl::Time deadline);
  bool is_draining() const { return draining_.load(std::memory_order_acquire); }

  // This runtime's timers. Workers fire them (see time/driver.h); they are
  // cancelled (fired with cancelled = true) by shutdown().
  time::TimerDriver& timers() { return timers_; }
  // This runtime's reactor (I/O registrations for nanorun::net).
  reactor::Reactor& reactor() { return *reactor_; }

  // Lifetime: the Runtime, every Handle and every continuation bound to this
  // executor hold a reference; allocated tasks keep it alive too, through
  // the task registry rather than a per-task count (no shared atomic on the
  // spawn path). The executor frees itself when both are gone.
  //
  // Continuations bound on a worker take and drop references constantly, so
  // each worker borrows references from refs_ in bulk (see ref_budget in
  // executor.cc) and hands them out without touching the shared counter.
  void retain();
  void drop_ref();

  // task::Scheduler.
  void schedule(task::Header* task, bool is_yield) override;
  void task_freed(task::Header* task) override;

 private:
  Executor(size_t num_workers, std::unique_ptr<reactor::Reactor> r, time::Clock clock,
           blocking::PoolOptions pool);
  ~Executor();

  void submit_new(task::Header* task, SpawnOptions options);
  void cancel_queued(task::Header* task);
  void poll_task(Worker* worker, task::Header* task);
  uint64_t unregistered_in_flight(uint64_t* spawned) const;
  bool tasks_quiet();
  bool schedule_local(task::Header* task, bool is_yield);
  void enqueue_foreign(task::Header* task);
  void run_worker(Worker* worker);
  void run_task(Worker* worker, task::Header* task);
  task::Header* next_task(Worker* worker);
  task::Header* next_task_shuffled(Worker* worker);
  task::Header* steal_work(Worker* worker);
  task::Header* take_from_injector(Worker* worker);
  void poll_io_without_blocking();
  void run_deferred_io(Worker* worker);
  static void run_yields(Worker* worker, bool cancelled);
  void finish_io_batch(Worker* worker);
  void park(Worker* worker);
  bool has_visible_work() const;
  void notify_parked();
  void drop_shared_ref();

  std::unique_ptr<reactor::Reactor> reactor_;
  time::TimerDriver timers_;
  Driver driver_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  Injector injector_;
  OwnedTasks owned_;
  Idle idle_;
  std::shared_ptr<blocking::BlockingPool> blocking_;
  std::atomic<bool> shutdown_{false};
  std::atomic<bool> joined_{false};
  std::atomic<bool> draining_{false};
  // Tasks spawned while draining (for the report).
  std::atomic<size_t> spawned_while_draining_{0};
  // Tasks outside the registry spawned from threads that are not workers
  // (the workers count theirs in Worker); see unregistered_in_flight. On
  // its own cache line: a thread spawning from outside writes it per spawn,
  // and the workers read shutdown_ and its neighbours on every loop.
  struct alignas(64) LineOfItsOwn {
    std::atomic<uint64_t> count{0};
  };
  LineOfItsOwn foreign_unregistered_spawned_;
  std::atomic<size_t> refs_{1};
  const uint32_t shuffle_seed_;  // 0: shuffle mode off (see executor.cc).
  // Tasks still allocated after refs_ reached zero, minus those freed since;
  // see drop_ref(). Signed: frees may be counted before the total is added.
  std::atomic<int64_t> tasks_left_{0};
};

}  // namespace executor
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_EXECUTOR_EXECUTOR_H_
