// RuntimeMetrics: a snapshot of what one runtime has done and holds now, from
// Handle::metrics(). Cheap enough to take every second in production: each
// worker counts into its own counters (plain stores from its own thread, no
// lock and no shared cache line on its paths), and a snapshot only reads them.
//
// Counters (`uint64_t ..._total`-like fields: spawned, polls, ...) only grow,
// from the runtime's start; take two snapshots and subtract for a rate.
// Gauges (depths, pending, alive) are what was there when the snapshot read
// them. A snapshot is not atomic across fields: while workers run, two
// fields may be read a few operations apart (e.g. a task counted as
// completed whose poll is not counted yet). Built with
// `--define=nanorun_metrics=off` (CMake: -DNANORUN_METRICS=OFF) the
// counters are compiled out and read as 0; gauges still work.
#ifndef NANORUN_EXECUTOR_METRICS_H_
#define NANORUN_EXECUTOR_METRICS_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/time/time.h"

namespace nanorun {
inline namespace v0 {

// One worker thread's share of RuntimeMetrics.
struct WorkerMetrics {
  // Tasks spawned from this worker's thread (by tasks or continuations
  // running on it).
  uint64_t tasks_spawned = 0;
  // Polls of a task's body this worker ran (a task woken n times is polled
  // n + 1 times; a continuation run by a task counts with its poll).
  uint64_t polls = 0;
  // Tasks whose body finished on this worker, with a value or an error.
  uint64_t tasks_completed = 0;
  // Tasks that ended unfinished on this worker: aborted (JoinHandle::abort),
  // or freed while pending because their handle and every waker were
  // dropped, so nothing could run them again.
  uint64_t tasks_aborted = 0;
  // Times this worker took work from a peer's queue, and the tasks it took
  // (about half the victim's queue each time).
  uint64_t steals = 0;
  uint64_t tasks_stolen = 0;
  // Times this worker went to sleep for lack of work.
  uint64_t parks = 0;
  // Times a budget made work wait so other work could run: a task chain
  // kept in the LIFO slot moved to the back of the queue, I/O completions
  // left over a batch of 128, a repeat() loop yielding after its step budget.
  uint64_t budget_forced_yields = 0;
  // Time this worker spent awake (running tasks, timers, I/O or looking for
  // work) rather than parked, since it started. Kept with a coarse clock
  // (the kernel's tick, 1-4 ms on Linux; see sys/coarse_clock.h): right on
  // average over many sleeps, off by up to a few ticks in any one reading.
  absl::Duration busy = absl::ZeroDuration();
  // Tasks in this worker's local queue now (not counting the one task that
  // may sit in its LIFO slot, which only its own thread may read).
  size_t local_queue_depth = 0;
};

// A whole runtime. Fields are zero for an invalid Handle.
struct RuntimeMetrics {
  // Worker threads.
  size_t workers = 0;
  // Time since the runtime started.
  absl::Duration uptime = absl::ZeroDuration();

  // Tasks spawned, from anywhere (workers and other threads).
  uint64_t tasks_spawned = 0;
  // Tasks whose body finished (value or error).
  uint64_t tasks_completed = 0;
  // Tasks that ended unfinished (see WorkerMetrics::tasks_aborted), on the
  // workers and on other threads (a task freed when another thread dropped
  // its last reference).
  uint64_t tasks_aborted = 0;
  // Tasks spawned and not yet ended: tasks_spawned - tasks_completed -
  // tasks_aborted. Tasks cancelled by the runtime's shutdown are not counted
  // as ended (the figures describe a running runtime).
  uint64_t tasks_alive = 0;

  // Sums over the workers (see WorkerMetrics).
  uint64_t polls = 0;
  uint64_t steals = 0;
  uint64_t tasks_stolen = 0;
  uint64_t parks = 0;
  uint64_t budget_forced_yields = 0;
  absl::Duration busy = absl::ZeroDuration();

  // Tasks in the shared queue now: spawned or woken from outside the
  // workers, or overflowed from a full local queue, waiting for a worker.
  size_t injector_depth = 0;

  // The blocking pool (spawn_blocking): threads started, those running a
  // job now, and jobs waiting for a thread.
  size_t blocking_threads = 0;
  size_t blocking_busy = 0;
  size_t blocking_queued = 0;

  // Timers (sleeps, timeouts, interval ticks) waiting now, and timers the
  // runtime has fired on time (not counting those cancelled, or already due
  // when armed and so never queued).
  size_t timers_pending = 0;
  uint64_t timers_fired = 0;

  // Sockets and other fds registered with the reactor now, and readiness
  // events the reactor has delivered (one per socket per wake-up).
  size_t io_registrations = 0;
  uint64_t io_events = 0;
  // Socket operations the kernel carried out as completion requests (TCP
  // reads on io_uring; docs/architecture.md), completed so far; always 0 on
  // the other reactors.
  uint64_t io_ring_completions = 0;

  // One entry per worker, in worker order.
  std::vector<WorkerMetrics> per_worker;
};

}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_EXECUTOR_METRICS_H_
