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
//
// This header is the executor's interface to the layers above, and all that
// nanorun.h brings into a user's build. The machinery (workers, queues, the
// injector, parking, the task registry) is ExecutorCore in executor_core.h,
// which only the executor's own .cc files (and its tests) include, so a change
// there rebuilds the executor, not every program that includes nanorun.h.
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
#include "nanorun/executor/dump.h"
#include "nanorun/executor/hooks.h"
#include "nanorun/executor/metrics.h"
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
  // Traces the task under this name (task/trace.h; copied). Null: traced,
  // unnamed, only if the executor traces every task.
  const char* name = nullptr;
};

// What the runtime reports about itself beyond metrics (hooks.h, dump.h).
struct ObserveOptions {
  RuntimeHooks hooks;
  // Trace every task (for Handle::dump()), not only named ones.
  bool trace_tasks = false;
  StallDetector stall;
};

class ExecutorCore;

// Work a waker hands to the worker that is delivering I/O edges, to run once
// that worker has left the reactor (see Executor::defer_io). Intrusive: the
// waker's owner embeds it, and keeps it alive until run(owner) is called.
struct DeferredIo {
  DeferredIo* next = nullptr;
  void (*run)(void* owner) = nullptr;
  void* owner = nullptr;
};

// Abstract: the one implementation is ExecutorCore (executor_core.h), which
// Create() makes. The task layer reaches it through task::Scheduler.
class Executor : public task::Scheduler {
 public:
  // Starts `num_workers` (>= 1) worker threads whose timers read `clock`,
  // and a blocking pool (started lazily) bounded by `pool`; `observe` sets
  // the hooks, tracing and stall detector; `reactor` which backend to park
  // in. The returned executor holds one reference for the caller (drop_ref()
  // it after shutdown()).
  static absl::Status Create(size_t num_workers, time::Clock clock, Executor** out,
                             blocking::PoolOptions pool = {}, ObserveOptions observe = {},
                             const reactor::Choice& reactor = {});
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

  // For completion operations queued into `owner`'s reactor (reactor.h's
  // RingOp): when the calling thread is one of `owner`'s workers collecting
  // or running I/O, notes that it must hand the reactor what was queued
  // (submit_queued()) once its I/O batch is over, and returns true: one
  // syscall for the batch instead of one per operation, made by the thread
  // that parks in the reactor next (the kernel runs a request's work on the
  // thread that submitted it). Otherwise returns false: submit now.
  static bool defer_ring_submit(Executor* owner);

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

  size_t num_workers() const { return num_workers_; }

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

  // A snapshot of this runtime's counters and gauges (see metrics.h). Safe
  // from any thread, at any time (after shutdown too); takes no lock that a
  // worker takes per task.
  RuntimeMetrics metrics();
  // Every live task (see dump.h). Safe from any thread; walks the registry.
  TaskDump dump();

  // For budgets kept above the executor (repeat()'s step budget): counts one
  // budget-forced yield on the calling worker (nothing off a worker).
  static void count_budget_yield();

  // (task::Scheduler's schedule() and task_freed() are ExecutorCore's.)

 protected:
  // Only ExecutorCore derives from this; what it holds here is what the inline
  // members above read.
  Executor(size_t num_workers, std::unique_ptr<reactor::Reactor> r, time::Clock clock,
           blocking::PoolOptions pool);
  ~Executor();

  std::unique_ptr<reactor::Reactor> reactor_;
  time::TimerDriver timers_;
  std::shared_ptr<blocking::BlockingPool> blocking_;
  const size_t num_workers_;
  std::atomic<bool> shutdown_{false};
  std::atomic<bool> draining_{false};

 private:
  ExecutorCore* core();
  void submit_new(task::Header* task, SpawnOptions options);
};

}  // namespace executor
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_EXECUTOR_EXECUTOR_H_
