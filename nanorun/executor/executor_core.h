// ExecutorCore: the executor's machinery behind the Executor interface
// (executor.h): the workers, their local queues, the injector, parking, the
// task registry and the reference counts. Internal to nanorun/executor: only
// the executor's .cc files and its own tests include this header, so the
// layers above (and every program that includes nanorun.h) do not rebuild
// when it changes. See executor.h for the overview, idle.h for the
// no-lost-wakeup handshake.
#ifndef NANORUN_EXECUTOR_EXECUTOR_CORE_H_
#define NANORUN_EXECUTOR_EXECUTOR_CORE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "nanorun/executor/executor.h"
#include "nanorun/executor/idle.h"
#include "nanorun/executor/injector.h"
#include "nanorun/executor/local_queue.h"
#include "nanorun/executor/owned_tasks.h"
#include "nanorun/executor/parker.h"

namespace nanorun {
inline namespace v0 {
namespace executor {

struct Worker;  // executor.cc

class ExecutorCore final : public Executor {
 public:
  ExecutorCore(size_t num_workers, std::unique_ptr<reactor::Reactor> r, time::Clock clock,
               blocking::PoolOptions pool, ObserveOptions observe);

  // Starts one thread per worker (once, from Executor::Create).
  void start_workers();

  // Executor's out-of-line members, which forward here (same meaning).
  void submit_new(task::Header* task, SpawnOptions options);
  void shutdown();
  DrainReport drain(absl::Time deadline);
  void retain();
  void drop_ref();
  RuntimeMetrics metrics();
  TaskDump dump();

  // task::Scheduler.
  void schedule(task::Header* task, bool is_yield) override;
  void task_freed(task::Header* task) override;

 private:
  // Freed by the last reference (drop_ref / task_freed), never by a caller.
  ~ExecutorCore();

  void cancel_queued(task::Header* task);
  void poll_task(Worker* worker, task::Header* task);
  void poll_observed(Worker* worker, task::Header* task);
  void count_poll(Worker* worker, const task::Header* task, task::PollOutcome outcome,
                  bool unregistered);
  task::TaskTrace* make_trace(task::Header* task, const char* name);
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
  void submit_ring_ops(Worker* worker);  // Those defer_ring_submit() held back.
  void park(Worker* worker);
  bool has_visible_work() const;
  void notify_parked();
  void drop_shared_ref();
  void task_terminated(const task::Header* task) const;
  void process_timers(Worker* worker);
  void report_stall(Worker* worker, int64_t began_ns, const char* what,
                    const task::Header* task, const task::TaskTrace* trace) const;

  Driver driver_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  Injector injector_;
  OwnedTasks owned_;
  Idle idle_;
  std::atomic<bool> joined_{false};
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
  // Every task spawned from a thread that is not a worker, and tasks freed
  // unfinished on such a thread (for metrics).
  LineOfItsOwn foreign_spawned_;
  LineOfItsOwn foreign_aborted_;
  std::atomic<size_t> refs_{1};
  const uint32_t shuffle_seed_;  // 0: shuffle mode off (see executor.cc).
  // Tasks still allocated after refs_ reached zero, minus those freed since;
  // see drop_ref(). Signed: frees may be counted before the total is added.
  std::atomic<int64_t> tasks_left_{0};
  const int64_t started_ns_;  // Steady-clock ns at creation (metrics' uptime).
  // Set once at creation; read by every worker. The flags say which hooks
  // are set, so an unset one costs a test of a bool next to what the path
  // reads anyway, not a look into a std::function.
  const ObserveOptions observe_;
  const RuntimeHooks& hooks_ = observe_.hooks;
  const bool has_park_hooks_;
  const bool has_task_hooks_;
  const int64_t stall_ns_;  // 0: the stall detector is off.
  const bool observe_polls_;  // Every poll takes poll_observed (stalls, task hooks).
};

}  // namespace executor
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_EXECUTOR_EXECUTOR_CORE_H_
