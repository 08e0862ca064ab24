// The worker loop, scheduling, stealing, parking and shutdown (see
// executor.h for the overview and idle.h for the no-lost-wakeup handshake).
#include "nanorun/executor/executor_core.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/base/attributes.h"
#include "absl/base/optimization.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "nanorun/sys/coarse_clock.h"
#include "nanorun/sys/misuse.h"
#include "nanorun/sys/thread_name.h"

namespace nanorun {
inline namespace v0 {
namespace executor {

// One worker's metrics counters (see metrics.h). Only the worker's own
// thread writes them, each with a load and a release store (no RMW, no
// lock); snapshots read them from any thread. On their own cache line, so a
// snapshot does not disturb the fields the worker's peers read.
struct alignas(64) WorkerCounters {
  std::atomic<uint64_t> spawned{0};
  std::atomic<uint64_t> polls{0};
  std::atomic<uint64_t> completed{0};
  std::atomic<uint64_t> aborted{0};
  std::atomic<uint64_t> steals{0};
  std::atomic<uint64_t> stolen{0};
  std::atomic<uint64_t> parks{0};
  std::atomic<uint64_t> budget_yields{0};
  // Awake time up to the last park, and when the current awake stretch
  // began (sys::CoarseMonotonicNanos; 0 while parked).
  std::atomic<int64_t> busy_ns{0};
  std::atomic<int64_t> awake_since_ns{0};
};

// Everything one worker owns. Only its own thread touches `lifo_slot`,
// `tick`, `rng` and `is_searching`; `queue` is shared with stealers and
// `parker` with unparkers.
struct Worker {
  Worker(ExecutorCore* e, size_t i) : executor(e), index(i), rng(0x9e3779b9u * (i + 1)) {}

  ExecutorCore* executor;
  size_t index;
  LocalQueue queue;
  task::Header* lifo_slot = nullptr;
  Parker parker;
  uint32_t tick = 0;
  uint32_t rng;
  bool is_searching = false;
  // While this worker runs the I/O operations that edges woke, the tasks
  // they wake are queued here without waking a peer each (see schedule()).
  bool collecting_io = false;
  uint32_t io_woken = 0;
  // While this worker is inside the reactor: I/O wakes are deferred to
  // `deferred_io` (a FIFO), run once it is out (Executor::defer_io).
  bool in_reactor = false;
  // Completion operations were queued into the reactor during this I/O batch
  // and wait for its end to be submitted (Executor::defer_ring_submit).
  bool ring_submit_due = false;
  DeferredIo* deferred_io = nullptr;
  DeferredIo* deferred_io_tail = nullptr;
  // Pending yields (defer_yield), in order; `yields_running` is the batch
  // being run (so a yield made by a continuation waits for the next batch).
  struct PendingYield {
    Executor::YieldFn run;
    void* arg;
  };
  std::vector<PendingYield> yields;
  std::vector<PendingYield> yields_running;
  uint32_t yields_since = 0;  // `tick` when the first of `yields` came.
  // Executor references this worker borrowed from refs_ and has not handed
  // out (ExecutorCore::retain/drop_ref on this thread). Returned at exit.
  int64_t ref_budget = 0;
  // Tasks outside the registry (SpawnOptions::completes_on_first_poll) that
  // this worker spawned, and those it polled (each is polled exactly once).
  // Only this worker writes them; drain() sums them to see whether any such
  // task is still queued or running (ExecutorCore::unregistered_in_flight).
  std::atomic<uint64_t> unregistered_spawned{0};
  std::atomic<uint64_t> unregistered_polled{0};
  // Timeouts armed on this worker wait here until its turn ends (see
  // TimerDriver::insert_staged): most are cancelled before.
  time::TimerStaging timer_staging;
  WorkerCounters counters;

  uint32_t next_random() {  // xorshift32: only picks steal victims.
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
  }
};

namespace {

thread_local Worker* tl_worker = nullptr;

// +1 on a counter that only the calling thread writes: no RMW. Release, so a
// reader that sees it also sees what happened before (see drain()).
void BumpOwnCounter(std::atomic<uint64_t>& counter) {
  counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_release);
}

// A metrics counter of the calling worker's own (WorkerCounters): the same
// store as BumpOwnCounter, or nothing when metrics are compiled out.
#ifndef NANORUN_NO_METRICS
constexpr bool kMetrics = true;
#else
constexpr bool kMetrics = false;
#endif
inline void Count(std::atomic<uint64_t>& counter, uint64_t n = 1) {
  if (kMetrics) {
    counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_release);
  }
}

int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Every kFairnessInterval-th task a worker runs (counting every task it
// takes from any queue, i.e. every tick of its loop), it looks at the shared
// injector before its own queue, so tasks from outside cannot starve behind
// a worker whose local work keeps regenerating. 61 follows tokio: a prime, so
// it does not fall into step with periodic workloads. Incidental: may change.
constexpr uint32_t kFairnessInterval = 61;

// Executor references a worker borrows from the shared count at a time.
constexpr int64_t kRefBulk = 1024;

// Tasks run from the LIFO slot in a row before the slot is flushed to the
// back of the queue, so two tasks waking each other cannot starve the rest.
constexpr int kMaxLifoPolls = 3;

// I/O operations woken in the reactor that run in a row once the worker is
// out of it; the rest wait for the worker's next turn (after one task), so a
// flood of ready sockets cannot delay tasks and timers without bound.
// Incidental, tokio's budget: 128.
constexpr int kIoBudget = 128;

// Shuffle mode (NANORUN_SHUFFLE_SEED=<n> or =random; like Seastar's
// shuffled task queue): workers pick the LIFO slot or the queue, and check
// the injector first, by coin flips from a seeded generator, so code that
// silently relies on one run order fails in tests. The seed is printed; the
// same seed replays the same choices (thread timing may still differ).
// Returns 0 when off.
uint32_t ShuffleSeedFromEnvironment() {
  const char* text = std::getenv("NANORUN_SHUFFLE_SEED");
  if (text == nullptr || *text == '\0') return 0;
  uint32_t seed = static_cast<uint32_t>(std::strtoul(text, nullptr, 10));
  if (std::string(text) == "random" || seed == 0) {
    seed = static_cast<uint32_t>(
        std::chrono::steady_clock::now().time_since_epoch().count() | 1);
  }
  std::fprintf(stderr,
               "nanorun: shuffle mode, seed %u (NANORUN_SHUFFLE_SEED=%u replays it)\n",
               seed, seed);
  return seed;
}

}  // namespace

absl::Status Executor::Create(size_t num_workers, time::Clock clock, Executor** out,
                              blocking::PoolOptions pool, ObserveOptions observe,
                              const reactor::Choice& reactor) {
  if (num_workers == 0) num_workers = 1;
  std::unique_ptr<reactor::Reactor> r;
  absl::Status status = reactor::Reactor::Create(reactor, &r);
  if (!status.ok()) return status;
  auto* e = new ExecutorCore(num_workers, std::move(r), std::move(clock), pool, std::move(observe));
  e->start_workers();
  *out = e;
  return absl::OkStatus();
}

Executor::Executor(size_t num_workers, std::unique_ptr<reactor::Reactor> r, time::Clock clock,
                   blocking::PoolOptions pool)
    : reactor_(std::move(r)),
      timers_(std::move(clock), reactor_.get()),
      blocking_(blocking::BlockingPool::Create(pool)),
      num_workers_(num_workers) {}

Executor::~Executor() = default;

// Executor's out-of-line members: ExecutorCore is the only implementation.
ExecutorCore* Executor::core() { return static_cast<ExecutorCore*>(this); }
void Executor::submit_new(task::Header* t, SpawnOptions options) { core()->submit_new(t, options); }
void Executor::shutdown() { core()->shutdown(); }
Executor::DrainReport Executor::drain(absl::Time deadline) { return core()->drain(deadline); }
RuntimeMetrics Executor::metrics() { return core()->metrics(); }
void Executor::retain() { core()->retain(); }
void Executor::drop_ref() { core()->drop_ref(); }

ExecutorCore::ExecutorCore(size_t num_workers, std::unique_ptr<reactor::Reactor> r,
                           time::Clock clock, blocking::PoolOptions pool,
                           ObserveOptions observe)
    : Executor(num_workers, std::move(r), std::move(clock), pool),
      driver_(reactor_.get(), &timers_),
      idle_(num_workers),
      shuffle_seed_(ShuffleSeedFromEnvironment()),
      started_ns_(SteadyNanos()),
      observe_(std::move(observe)),
      has_park_hooks_(hooks_.on_park != nullptr || hooks_.on_unpark != nullptr),
      has_task_hooks_(hooks_.on_task_spawn != nullptr || hooks_.on_task_terminate != nullptr),
      stall_ns_(observe_.stall.threshold > absl::ZeroDuration()
                    ? absl::ToInt64Nanoseconds(observe_.stall.threshold)
                    : 0),
      observe_polls_(stall_ns_ != 0 || has_task_hooks_) {
  workers_.reserve(num_workers);
  for (size_t i = 0; i < num_workers; ++i) {
    workers_.push_back(std::make_unique<Worker>(this, i));
    Worker& w = *workers_.back();
    if (shuffle_seed_ != 0) w.rng = shuffle_seed_ * 2654435761u + static_cast<uint32_t>(i);
    if (w.rng == 0) w.rng = 1;  // xorshift needs a non-zero state.
  }
}

ExecutorCore::~ExecutorCore() = default;

void ExecutorCore::start_workers() {
  threads_.reserve(workers_.size());
  for (auto& worker : workers_) {
    Worker* w = worker.get();
    threads_.emplace_back([this, w] { run_worker(w); });
  }
}

void Executor::count_budget_yield() {
  if (Worker* w = tl_worker) Count(w->counters.budget_yields);
}

Executor* Executor::current() {
  return tl_worker != nullptr ? tl_worker->executor : nullptr;
}

bool Executor::defer_io(DeferredIo* work) {
  Worker* w = tl_worker;
  if (w == nullptr || !w->in_reactor) return false;
  work->next = nullptr;
  if (w->deferred_io_tail != nullptr) {
    w->deferred_io_tail->next = work;
  } else {
    w->deferred_io = work;
  }
  w->deferred_io_tail = work;
  return true;
}

bool Executor::defer_ring_submit(Executor* owner) {
  Worker* w = tl_worker;
  if (w == nullptr || w->executor != owner || !(w->in_reactor || w->collecting_io)) return false;
  w->ring_submit_due = true;
  return true;
}

bool Executor::defer_yield(YieldFn run, void* arg) {
  Worker* w = tl_worker;
  if (w == nullptr) return false;
  if (w->yields.empty()) w->yields_since = w->tick;
  w->yields.push_back({run, arg});
  return true;
}

// Runs the yields pending now; those they make wait for the next call.
void ExecutorCore::run_yields(Worker* w, bool cancelled) {
  w->yields_running.swap(w->yields);
  for (const Worker::PendingYield& y : w->yields_running) y.run(y.arg, cancelled);
  w->yields_running.clear();
}

// Runs up to kIoBudget deferred I/O operations (each a syscall and the
// continuations of what it completes), batching the peers they make work for.
void ExecutorCore::run_deferred_io(Worker* w) {
  if (w->deferred_io == nullptr) return;
  int64_t began = ABSL_PREDICT_TRUE(stall_ns_ == 0) ? 0 : SteadyNanos();
  w->collecting_io = true;
  for (int i = 0; i < kIoBudget && w->deferred_io != nullptr; ++i) {
    DeferredIo* work = w->deferred_io;
    w->deferred_io = work->next;
    if (w->deferred_io == nullptr) w->deferred_io_tail = nullptr;
    work->next = nullptr;
    work->run(work->owner);
  }
  if (w->deferred_io != nullptr) Count(w->counters.budget_yields);  // Over budget.
  finish_io_batch(w);
  if (ABSL_PREDICT_FALSE(stall_ns_ != 0)) report_stall(w, began, "io", nullptr, nullptr);
}

void ExecutorCore::retain() {
  Worker* w = tl_worker;
  if (w != nullptr && w->executor == this) {
    if (w->ref_budget == 0) {
      refs_.fetch_add(kRefBulk, std::memory_order_relaxed);
      w->ref_budget = kRefBulk;
    }
    --w->ref_budget;
    return;
  }
  refs_.fetch_add(1, std::memory_order_relaxed);
}

void ExecutorCore::drop_ref() {
  Worker* w = tl_worker;
  if (w != nullptr && w->executor == this) {
    // A worker's thread runs only while the Runtime holds its reference, so
    // the count cannot reach zero here: keep the reference in the budget.
    if (++w->ref_budget > 2 * kRefBulk) {
      refs_.fetch_sub(kRefBulk, std::memory_order_relaxed);
      w->ref_budget -= kRefBulk;
    }
    return;
  }
  drop_shared_ref();
}

void ExecutorCore::drop_shared_ref() {
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  // Nothing but allocated tasks can reach us now. Count them; each one freed
  // after its shard was counted subtracts itself (task_freed). Whoever brings
  // the balance to zero after the total was added frees the executor: before
  // that the balance is <= 0 (only subtractions), so it cannot hit zero early.
  int64_t live = static_cast<int64_t>(owned_.count_for_release());
  if (tasks_left_.fetch_add(live, std::memory_order_acq_rel) + live == 0) {
    delete this;
  }
}

void ExecutorCore::task_freed(task::Header* t) {
  if ((t->state.load() & task::State::kComplete) == 0) {
    // Freed unfinished (see task::Scheduler): it ended here.
    Worker* w = tl_worker;
    if (w != nullptr && w->executor == this) {
      Count(w->counters.aborted);
    } else if (kMetrics) {
      foreign_aborted_.count.fetch_add(1, std::memory_order_release);
    }
    task_terminated(t);
  }
  task::TaskTrace* trace = nullptr;
  bool counted = owned_.unlink(t, &trace);
  delete trace;
  if (!counted) return;
  if (tasks_left_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
}

void ExecutorCore::submit_new(task::Header* t, SpawnOptions options) {
  task::TaskTrace* trace = nullptr;
  if (ABSL_PREDICT_FALSE(options.name != nullptr || observe_.trace_tasks)) {
    trace = make_trace(t, options.name);
    options.completes_on_first_poll = false;  // Traces are kept in the registry.
  }
  // Before the task is visible to anyone who could run or cancel it, so its
  // on_task_terminate cannot come first.
  if (has_task_hooks_ && hooks_.on_task_spawn) hooks_.on_task_spawn(TaskMeta{t});
  if (draining_.load(std::memory_order_relaxed)) {
    spawned_while_draining_.fetch_add(1, std::memory_order_relaxed);
  }
  if (options.completes_on_first_poll && !shutdown_.load(std::memory_order_acquire)) {
    // Never idle: queued until it runs, then complete. So nothing needs to
    // find it in the registry: shutdown cancels it in its queue, and drain()
    // sees it through the counters (counted before it is published, so its
    // poll is never counted before its spawn).
    t->state.set_unregistered();
    Worker* w = tl_worker;
    if (w != nullptr && w->executor == this) {
      BumpOwnCounter(w->unregistered_spawned);
      Count(w->counters.spawned);
      (void)schedule_local(t, /*is_yield=*/false);
      return;
    }
    foreign_unregistered_spawned_.count.fetch_add(1, std::memory_order_release);
    if (kMetrics) foreign_spawned_.count.fetch_add(1, std::memory_order_release);
    enqueue_foreign(t);
    return;
  }
  if (!owned_.bind(t, trace)) {
    // Shutting down: cancel now and drop the Notified reference. The task is
    // not in the registry, so it must never reach this executor again (its
    // JoinHandle may outlive it): mark it so ~Task skips task_freed.
    delete trace;
    t->state.set_unregistered();
    if (t->vtable->shutdown(t)) task_terminated(t);
    task::DropRef(t);
    return;
  }
  Worker* w = tl_worker;
  if (w != nullptr && w->executor == this) {
    Count(w->counters.spawned);
  } else if (kMetrics) {
    foreign_spawned_.count.fetch_add(1, std::memory_order_release);
  }
  if (!schedule_local(t, /*is_yield=*/false)) enqueue_foreign(t);
}

// On one of this executor's workers: queues `t` there and returns true.
bool ExecutorCore::schedule_local(task::Header* t, bool is_yield) {
  Worker* w = tl_worker;
  if (w == nullptr || w->executor != this) return false;
  // On one of our workers: keep the task local (hot in cache). A newly
  // woken task goes to the LIFO slot so a message-passing pair runs
  // back to back; a yielding task goes to the back of the queue.
  if (is_yield || (shuffle_seed_ != 0 && (w->next_random() & 1))) {
    w->queue.push_back(t, injector_);
  } else {
    task::Header* displaced = w->lifo_slot;
    w->lifo_slot = t;
    if (displaced == nullptr) return true;
    w->queue.push_back(displaced, injector_);
  }
  if (w->collecting_io) {
    // This worker runs them as soon as its I/O batch is done; a peer is
    // woken once for the whole batch if it is big (finish_io_batch).
    ++w->io_woken;
    return true;
  }
  // There is stealable work now; make sure someone is looking for it.
  notify_parked();
  return true;
}

void ExecutorCore::schedule(task::Header* t, bool is_yield) {
  if (schedule_local(t, is_yield)) return;

  // From another thread (a waker): once pushed, the task may run, finish and
  // be freed, and with it the last thing keeping this executor alive, before
  // notify_parked returns. Hold a reference on the task across both (tokio
  // holds one across schedule for the same reason): a registered task keeps
  // its executor alive. (Spawns come through submit_new, whose caller holds a
  // Handle or a bound continuation's reference.)
  t->state.ref_inc();
  enqueue_foreign(t);
  task::DropRef(t);
}

void ExecutorCore::enqueue_foreign(task::Header* t) {
  if (!injector_.push(t)) {
    // Closed by shutdown, which cancels registered tasks through the owned
    // list; this one may be outside it.
    cancel_queued(t);
    return;
  }
  notify_parked();
}

// Drops the Notified reference of a task that will never run (shut down).
// A registered task was cancelled through the registry; one outside it is
// cancelled here, so its JoinHandle sees CancelledError rather than wait.
void ExecutorCore::cancel_queued(task::Header* t) {
  if (t->state.is_unregistered() && t->vtable->shutdown(t)) task_terminated(t);
  task::DropRef(t);
}

// Out of line: tracing is the rare case, and its allocation would make
// submit_new save registers for everyone. The trace goes into the registry
// with the task (bind); the task's state says it has one.
ABSL_ATTRIBUTE_NOINLINE task::TaskTrace* ExecutorCore::make_trace(task::Header* t,
                                                                  const char* name) {
  t->state.set_traced();
  return new task::TaskTrace(name != nullptr ? name : "");
}

void ExecutorCore::task_terminated(const task::Header* t) const {
  if (has_task_hooks_ && hooks_.on_task_terminate) hooks_.on_task_terminate(TaskMeta{t});
}

// Polls `t`, counting it if it is outside the registry (once its poll,
// which may spawn more of them, is over).
// The fast path. A traced task, the stall detector or task hooks take
// poll_observed instead, out of line, so that this stays a short function
// with few registers to save (callgrind: 46 instructions per poll with all
// the paths in one, 35 with tracing and stalls out, fewer with hooks out).
void ExecutorCore::poll_task(Worker* w, task::Header* t) {
  uint64_t word = t->state.load_relaxed();  // Bits set before it was published.
  if (ABSL_PREDICT_FALSE((word & task::State::kTraced) != 0 || observe_polls_)) {
    return poll_observed(w, t);
  }
  bool unregistered = (word & task::State::kUnregistered) != 0;
  task::PollOutcome outcome = t->vtable->poll(t);  // `t` may be freed now.
  Count(w->counters.polls);
  if (outcome == task::PollOutcome::kCompleted) {
    Count(w->counters.completed);
  } else if (outcome == task::PollOutcome::kAborted) {
    Count(w->counters.aborted);
  }
  if (unregistered) BumpOwnCounter(w->unregistered_polled);
}

// After a poll: its counters, and on_task_terminate if it ended. `t` is only
// passed on as an address (it may be freed).
void ExecutorCore::count_poll(Worker* w, const task::Header* t, task::PollOutcome outcome,
                              bool unregistered) {
  Count(w->counters.polls);
  if (outcome == task::PollOutcome::kCompleted) {
    Count(w->counters.completed);
    task_terminated(t);
  } else if (outcome == task::PollOutcome::kAborted) {
    Count(w->counters.aborted);
    task_terminated(t);
  }
  if (unregistered) BumpOwnCounter(w->unregistered_polled);
}

// poll_task for a traced task (its trace updated, NoteWait pointed at it),
// with the stall detector on (the poll timed), or with task hooks set.
ABSL_ATTRIBUTE_NOINLINE void ExecutorCore::poll_observed(Worker* w, task::Header* t) {
  bool unregistered = t->state.is_unregistered();
  // The poller owns the task (it is RUNNING), so the trace stays alive
  // through the poll; one lookup under its registry shard's lock.
  task::TaskTrace* trace =
      (t->state.load_relaxed() & task::State::kTraced) != 0 ? owned_.trace_of(t) : nullptr;
  int64_t began = trace != nullptr || stall_ns_ != 0 ? SteadyNanos() : 0;
  bool hold = false;
  if (trace != nullptr) {
    trace->last_poll_ns.store(began, std::memory_order_relaxed);
    trace->polls.store(trace->polls.load(std::memory_order_relaxed) + 1,
                       std::memory_order_relaxed);
    task::SetPolledTrace(trace);
    // A stall report names the task after its poll, which may free it.
    hold = stall_ns_ != 0;
    if (hold) t->state.ref_inc();
  }
  task::PollOutcome outcome = t->vtable->poll(t);  // `t` may be freed now (unless held).
  count_poll(w, t, outcome, unregistered);
  if (trace != nullptr) task::SetPolledTrace(nullptr);
  if (stall_ns_ != 0) report_stall(w, began, "poll", t, hold ? trace : nullptr);
  if (hold) task::DropRef(t);
}

// Reports the stretch that began at `began_ns` if it was longer than the
// threshold. `trace` is only read if the caller holds the task alive.
void ExecutorCore::report_stall(Worker* w, int64_t began_ns, const char* what,
                                const task::Header* t, const task::TaskTrace* trace) const {
  int64_t took = SteadyNanos() - began_ns;
  if (took <= stall_ns_) return;
  StallReport report;
  report.worker = w->index;
  report.duration = absl::Nanoseconds(took);
  report.what = what;
  report.task_id = t;
  if (trace != nullptr) report.task_name = trace->name;
  if (observe_.stall.sink) {
    observe_.stall.sink(report);
    return;
  }
  std::fprintf(stderr, "nanorun: worker %zu was held %s by one %s%s%s%s (stall threshold %s)\n",
               report.worker, absl::FormatDuration(report.duration).c_str(), what,
               report.task_name.empty() ? "" : " of task \"", report.task_name.c_str(),
               report.task_name.empty() ? "" : "\"",
               absl::FormatDuration(observe_.stall.threshold).c_str());
}

// Fires due timers, timing the batch for the stall detector when it is on.
void ExecutorCore::process_timers(Worker* w) {
  if (ABSL_PREDICT_TRUE(stall_ns_ == 0)) {
    timers_.process();
    return;
  }
  int64_t began = SteadyNanos();
  timers_.process();
  report_stall(w, began, "timers", nullptr, nullptr);
}

// An upper bound on the tasks outside the registry that are queued or
// running, exact when nothing spawns meanwhile; `spawned` gets the spawn
// total it saw. Polls are read before spawns: each poll follows its spawn
// (release/acquire through the counters), so every poll seen has its spawn
// seen too, and the difference is never below the true count.
uint64_t ExecutorCore::unregistered_in_flight(uint64_t* spawned) const {
  uint64_t polled = 0;
  for (const auto& w : workers_) polled += w->unregistered_polled.load(std::memory_order_acquire);
  uint64_t total = foreign_unregistered_spawned_.count.load(std::memory_order_acquire);
  for (const auto& w : workers_) total += w->unregistered_spawned.load(std::memory_order_acquire);
  *spawned = total;
  return total > polled ? total - polled : 0;
}

// True when no task is left to finish: none outside the registry in flight
// (before and after the registry is read, with no spawn between: so none
// appeared while the registry was counted), and none in it incomplete.
bool ExecutorCore::tasks_quiet() {
  uint64_t spawned_before = 0;
  if (unregistered_in_flight(&spawned_before) != 0) return false;
  if (owned_.count_incomplete() != 0) return false;
  uint64_t spawned_after = 0;
  return unregistered_in_flight(&spawned_after) == 0 && spawned_after == spawned_before;
}

void ExecutorCore::notify_parked() {
  // Pairs with the seq_cst RMW in Idle::transition_worker_to_parked.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  int worker = idle_.worker_to_notify();
  if (worker >= 0) workers_[static_cast<size_t>(worker)]->parker.unpark(driver_);
}

void ExecutorCore::run_worker(Worker* w) {
  if (!hooks_.thread_name_prefix.empty()) {
    sys::SetCurrentThreadName(hooks_.thread_name_prefix + std::to_string(w->index));
  }
  if (hooks_.on_thread_start) hooks_.on_thread_start(w->index);
  tl_worker = w;
  if (kMetrics) {
    w->counters.awake_since_ns.store(sys::CoarseMonotonicNanos(), std::memory_order_release);
  }
  timers_.attach_staging(&w->timer_staging);
  while (!shutdown_.load(std::memory_order_acquire)) {
    // The last turn is over: its timeouts still pending go into the wheel.
    if (!w->timer_staging.empty()) timers_.flush_staged();
    ++w->tick;
    run_deferred_io(w);  // What the last look at the reactor woke.
    if (!w->yields.empty() && w->tick - w->yields_since >= kFairnessInterval) {
      run_yields(w, false);  // The local queue never empties: do not starve them.
    }
    task::Header* t = next_task(w);
    if (t == nullptr && !w->yields.empty()) {
      // No local work left: the yielders' turn (before stealing, so a
      // yielding task stays on its worker).
      run_yields(w, false);
      continue;
    }
    if (t == nullptr) t = steal_work(w);
    if (t == nullptr) {
      // About to sleep: fire what is due first (it may make work).
      process_timers(w);
      t = next_task(w);
    }
    if (t != nullptr) {
      submit_ring_ops(w);  // The batch's requests must not wait behind a task.
      run_task(w, t);
      continue;
    }
    if (w->deferred_io != nullptr) continue;  // Woken I/O left over the budget.
    if (!w->timer_staging.empty()) continue;  // Armed by what process() ran.
    park(w);
  }
  // Operations woken in the reactor still run (they may complete, or wait
  // again until shutdown closes their registration).
  while (w->deferred_io != nullptr) run_deferred_io(w);
  timers_.detach_staging();  // Into the wheel: shutdown cancels them there.
  if (kMetrics) {
    WorkerCounters& c = w->counters;
    int64_t since = c.awake_since_ns.exchange(0, std::memory_order_relaxed);
    int64_t awake = sys::CoarseMonotonicNanos() - since;
    c.busy_ns.store(c.busy_ns.load(std::memory_order_relaxed) + awake, std::memory_order_release);
  }
  tl_worker = nullptr;
  // The Runtime still holds its reference while workers exit: not the last.
  refs_.fetch_sub(w->ref_budget, std::memory_order_acq_rel);
  w->ref_budget = 0;
  if (hooks_.on_thread_stop) hooks_.on_thread_stop(w->index);
}

task::Header* ExecutorCore::next_task(Worker* w) {
  if (shuffle_seed_ != 0) return next_task_shuffled(w);
  if (w->tick % kFairnessInterval == 0) {
    // Busy workers fire due timers and look for I/O too, so both make
    // progress however much work there is (not in a lump when a worker
    // finally goes idle; tokio#4730 is one busy task stalling all I/O).
    process_timers(w);
    poll_io_without_blocking();
    if (task::Header* t = take_from_injector(w)) return t;
  }
  if (w->lifo_slot != nullptr) return std::exchange(w->lifo_slot, nullptr);
  if (task::Header* t = w->queue.pop()) return t;
  return take_from_injector(w);
}

// next_task in shuffle mode: the same sources, tried in a random order.
task::Header* ExecutorCore::next_task_shuffled(Worker* w) {
  if (w->tick % kFairnessInterval == 0) {
    process_timers(w);
    poll_io_without_blocking();
  }
  uint32_t coin = w->next_random();
  if ((coin & 3) == 0) {
    if (task::Header* t = take_from_injector(w)) return t;
  }
  if ((coin & 4) != 0) {
    if (task::Header* t = w->queue.pop()) return t;
  }
  if (w->lifo_slot != nullptr) return std::exchange(w->lifo_slot, nullptr);
  if (task::Header* t = w->queue.pop()) return t;
  return take_from_injector(w);
}

// Takes this worker's share of the injector in one lock (perf showed workers
// spinning on the injector lock when taking one task at a time while a peer
// overflowed into it): returns one task to run and queues the rest locally,
// where idle peers can steal them.
task::Header* ExecutorCore::take_from_injector(Worker* w) {
  size_t len = injector_.len();
  if (len == 0) return nullptr;
  size_t room = LocalQueue::kCapacity - w->queue.len();
  size_t share = len / workers_.size() + 1;
  size_t want = std::min({share, room / 2 + 1, size_t{LocalQueue::kCapacity / 2}});
  size_t count = 0;
  task::Header* first = injector_.pop_batch(want, &count);
  if (first == nullptr) return nullptr;
  for (task::Header* t = first->queue_next; t != nullptr;) {
    task::Header* next = t->queue_next;
    t->queue_next = nullptr;
    w->queue.push_back(t, injector_);
    t = next;
  }
  first->queue_next = nullptr;
  if (count > 1) notify_parked();  // There is stealable work now.
  return first;
}

// Takes the driver token if nobody sleeps in the reactor, and collects the
// I/O edges that arrived (waking their tasks onto this worker). Only when
// sockets are registered: it costs an epoll_wait syscall.
void ExecutorCore::poll_io_without_blocking() {
  if (reactor_->io_registrations() == 0) return;
  if (!driver_.try_acquire()) return;  // A parked worker is collecting them.
  Worker* w = tl_worker;
  w->in_reactor = true;
  reactor_->park(absl::ZeroDuration());
  w->in_reactor = false;
  driver_.release();
  run_deferred_io(w);
}

// A socket's task is short (a syscall and a continuation): waking a
// sleeping peer to steal one costs more (a futex round trip each; strace
// showed 0.65 per echo round trip) than running it here. Peers are woken
// only for batches worth sharing.
// Requests queued into the ring during an I/O batch go to the kernel with
// the worker's next step: in the io_uring_enter that parks it, if it parks
// in the reactor (one syscall for the turn, and the requests' task work is
// then the parked thread's); else before it runs a task or sleeps elsewhere.
void ExecutorCore::submit_ring_ops(Worker* w) {
  if (ABSL_PREDICT_TRUE(!w->ring_submit_due)) return;
  w->ring_submit_due = false;
  reactor_->submit_queued();
}

void ExecutorCore::finish_io_batch(Worker* w) {
  constexpr uint32_t kShareBatch = 4;
  w->collecting_io = false;
  uint32_t woken = std::exchange(w->io_woken, 0);
  if (woken >= kShareBatch) notify_parked();
}

task::Header* ExecutorCore::steal_work(Worker* w) {
  if (!w->is_searching) {
    if (!idle_.transition_worker_to_searching()) return nullptr;
    w->is_searching = true;
  }
  size_t n = workers_.size();
  size_t start = w->next_random() % n;
  for (size_t i = 0; i < n; ++i) {
    Worker* peer = workers_[(start + i) % n].get();
    if (peer == w) continue;
    if (task::Header* t = peer->queue.steal_into(w->queue)) {
      Count(w->counters.steals);
      Count(w->counters.stolen, uint64_t{w->queue.len()} + 1);  // Exact for the owner.
      return t;
    }
  }
  return take_from_injector(w);
}

void ExecutorCore::run_task(Worker* w, task::Header* t) {
  if (w->is_searching) {
    w->is_searching = false;
    // The last searcher found work: there may be more, so wake another.
    if (idle_.transition_worker_from_searching()) notify_parked();
  }
  poll_task(w, t);
  for (int i = 0; i < kMaxLifoPolls && w->lifo_slot != nullptr; ++i) {
    ++w->tick;
    poll_task(w, std::exchange(w->lifo_slot, nullptr));
  }
  if (w->lifo_slot != nullptr) {
    Count(w->counters.budget_yields);
    w->queue.push_back(std::exchange(w->lifo_slot, nullptr), injector_);
  }
}

bool ExecutorCore::has_visible_work() const {
  if (!injector_.empty()) return true;
  for (const auto& peer : workers_) {
    if (!peer->queue.empty()) return true;
  }
  return false;
}

void ExecutorCore::park(Worker* w) {
  // A searching worker stops searching as it goes to sleep.
  bool last_searcher = idle_.transition_worker_to_parked(w->index, w->is_searching);
  w->is_searching = false;
  if (last_searcher && has_visible_work()) notify_parked();
  if (kMetrics) {
    // Two clock reads per sleep, none per task; coarse ones (see
    // sys/coarse_clock.h: right on average, and 5x cheaper here).
    WorkerCounters& c = w->counters;
    int64_t now = sys::CoarseMonotonicNanos();
    int64_t since = c.awake_since_ns.load(std::memory_order_relaxed);
    c.awake_since_ns.store(0, std::memory_order_relaxed);
    c.busy_ns.store(c.busy_ns.load(std::memory_order_relaxed) + (now - since),
                    std::memory_order_release);
    Count(c.parks);
  }
  if (has_park_hooks_ && hooks_.on_park) hooks_.on_park(w->index);
  w->in_reactor = true;  // If this worker sleeps in the reactor.
  w->parker.park(driver_, std::exchange(w->ring_submit_due, false));
  w->in_reactor = false;
  if (has_park_hooks_ && hooks_.on_unpark) hooks_.on_unpark(w->index);
  if (kMetrics) {
    w->counters.awake_since_ns.store(sys::CoarseMonotonicNanos(), std::memory_order_release);
  }
  // What the reactor woke runs at the top of the worker loop, once this
  // worker no longer counts as parked.
  if (shutdown_.load(std::memory_order_acquire)) return;
  if (idle_.unpark_worker_by_id(w->index)) {
    // Not chosen by a notifier (a reactor or spurious wake): we are
    // unparked but not searching. Go and look for work anyway.
    return;
  }
  // Chosen by worker_to_notify: already counted as unparked + searching.
  w->is_searching = true;
}

void ExecutorCore::shutdown() {
  if (tl_worker != nullptr && tl_worker->executor == this) {
    ReportMisuse(
        "a Runtime was shut down (destroyed) from one of its own worker "
        "threads; it would have to join itself. Destroy it from the thread "
        "that created it.");
    return;
  }
  if (joined_.exchange(true)) return;
  shutdown_.store(true, std::memory_order_release);
  // Blocking jobs that never started are dropped (their futures fail with
  // CancelledError once the timers below are gone too); running ones are left
  // to finish on their own threads.
  (void)blocking_->shutdown(absl::InfinitePast());
  for (auto& worker : workers_) worker->parker.unpark(driver_);
  for (auto& thread : threads_) thread.join();
  // No worker runs any more. Refuse new work, cancel every live task (each
  // join handle sees CancelledError), then drop the Notified references
  // still sitting in queues.
  task::Header* queued = injector_.close();
  owned_.close_and_shutdown_all([this](task::Header* t) { task_terminated(t); });
  while (queued != nullptr) {
    task::Header* next = queued->queue_next;
    cancel_queued(queued);
    queued = next;
  }
  for (auto& worker : workers_) {
    if (worker->lifo_slot != nullptr) cancel_queued(std::exchange(worker->lifo_slot, nullptr));
    while (task::Header* t = worker->queue.pop()) cancel_queued(t);
    // Their continuations see CancelledError; one that yields again (this
    // thread is no worker) gets a ready future, so this ends.
    while (!worker->yields.empty()) run_yields(worker.get(), true);
  }
  // Last, once nothing can be queued any more: pending timers fire as
  // cancelled, so every sleep and timeout fails with CancelledError (their
  // continuations, bound to this runtime, are cancelled in turn), and so do
  // pending socket operations (their sockets are closed).
  timers_.shutdown();
  reactor_->close_all_io();
}

Executor::DrainReport ExecutorCore::drain(absl::Time deadline) {
  DrainReport report;
  if (tl_worker != nullptr && tl_worker->executor == this) {
    ReportMisuse(
        "Runtime::shutdown(grace) was called from one of the runtime's own worker "
        "threads; it would wait for itself. Call it from the thread that created the "
        "runtime.");
    return report;
  }
  if (joined_.load(std::memory_order_acquire) || draining_.exchange(true)) return report;
  uint64_t unused = 0;
  size_t at_start = owned_.count_incomplete() + unregistered_in_flight(&unused);
  size_t jobs_finished_before = blocking_->finished_total();
  // Poll, coarsely: a drain is rare and lasts milliseconds to seconds; the
  // workers keep running meanwhile and nothing on their paths waits for it.
  while (absl::Now() < deadline && (!tasks_quiet() || !blocking_->is_quiet())) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  report.blocking = blocking_->shutdown(deadline, jobs_finished_before);
  report.tasks_cancelled = owned_.count_incomplete() + unregistered_in_flight(&unused);
  size_t total = at_start + spawned_while_draining_.load(std::memory_order_relaxed);
  report.tasks_finished = total > report.tasks_cancelled ? total - report.tasks_cancelled : 0;
  shutdown();
  return report;
}

TaskDump Executor::dump() { return core()->dump(); }

TaskDump ExecutorCore::dump() {
  std::vector<std::pair<task::Header*, task::TaskTrace*>> live;
  owned_.collect_live(&live);
  int64_t now = SteadyNanos();
  TaskDump out;
  out.tasks.reserve(live.size());
  for (const auto& [t, trace] : live) {
    TaskDumpEntry e;
    e.id = t;
    uint64_t word = t->state.load();
    if (word & task::State::kRunning) {
      e.state = TaskDumpEntry::State::kRunning;
    } else if (word & task::State::kNotified) {
      e.state = TaskDumpEntry::State::kNotified;
    }
    // Alive while we hold our reference, and with it its trace.
    if (trace != nullptr) {
      e.traced = true;
      e.name = trace->name;
      e.polls = trace->polls.load(std::memory_order_relaxed);
      int64_t last = trace->last_poll_ns.load(std::memory_order_relaxed);
      if (last != 0) e.since_last_poll = absl::Nanoseconds(now > last ? now - last : 0);
      e.waits_on = task::WaitKindName(trace->wait.load(std::memory_order_relaxed));
    }
    out.tasks.push_back(std::move(e));
    // Ours may be the last reference (the task ended meanwhile): then it is
    // freed here, on the caller's thread.
    task::DropRef(t);
  }
  return out;
}

// Completions are read before spawns: each completion follows its task's
// spawn (release stores, acquire loads), so alive is never below the truth.
RuntimeMetrics ExecutorCore::metrics() {
  RuntimeMetrics m;
  m.workers = workers_.size();
  int64_t now = SteadyNanos();
  int64_t coarse_now = sys::CoarseMonotonicNanos();  // The clock busy time is kept in.
  m.uptime = absl::Nanoseconds(now - started_ns_);
  m.per_worker.resize(workers_.size());
  uint64_t ended = 0;
  for (size_t i = 0; i < workers_.size(); ++i) {
    const WorkerCounters& c = workers_[i]->counters;
    WorkerMetrics& out = m.per_worker[i];
    out.tasks_completed = c.completed.load(std::memory_order_acquire);
    out.tasks_aborted = c.aborted.load(std::memory_order_acquire);
    ended += out.tasks_completed + out.tasks_aborted;
    m.tasks_completed += out.tasks_completed;
    m.tasks_aborted += out.tasks_aborted;
  }
  m.tasks_aborted += foreign_aborted_.count.load(std::memory_order_acquire);
  ended += foreign_aborted_.count.load(std::memory_order_acquire);
  m.tasks_spawned = foreign_spawned_.count.load(std::memory_order_acquire);
  for (size_t i = 0; i < workers_.size(); ++i) {
    const Worker& w = *workers_[i];
    const WorkerCounters& c = w.counters;
    WorkerMetrics& out = m.per_worker[i];
    out.tasks_spawned = c.spawned.load(std::memory_order_acquire);
    out.polls = c.polls.load(std::memory_order_acquire);
    out.steals = c.steals.load(std::memory_order_acquire);
    out.tasks_stolen = c.stolen.load(std::memory_order_acquire);
    out.parks = c.parks.load(std::memory_order_acquire);
    out.budget_forced_yields = c.budget_yields.load(std::memory_order_acquire);
    // The stretch awake now counts too: a worker stuck in one long poll
    // shows as busy, not idle.
    int64_t busy = c.busy_ns.load(std::memory_order_acquire);
    int64_t since = c.awake_since_ns.load(std::memory_order_acquire);
    if (since != 0 && coarse_now > since) busy += coarse_now - since;
    out.busy = absl::Nanoseconds(busy);
    out.local_queue_depth = w.queue.len();
    m.tasks_spawned += out.tasks_spawned;
    m.polls += out.polls;
    m.steals += out.steals;
    m.tasks_stolen += out.tasks_stolen;
    m.parks += out.parks;
    m.budget_forced_yields += out.budget_forced_yields;
    m.busy += out.busy;
  }
  m.tasks_alive = m.tasks_spawned > ended ? m.tasks_spawned - ended : 0;
  m.injector_depth = injector_.len();
  m.blocking_threads = blocking_->threads();
  size_t idle = blocking_->idle_threads();
  m.blocking_busy = m.blocking_threads > idle ? m.blocking_threads - idle : 0;
  m.blocking_queued = blocking_->queued();
  m.timers_pending = timers_.pending();
  m.timers_fired = timers_.fired();
  m.io_registrations = reactor_->io_registrations();
  m.io_events = reactor_->io_events();
  m.io_ring_completions = reactor_->ring_completions();
  return m;
}

}  // namespace executor
}  // namespace v0
}  // namespace nanorun
