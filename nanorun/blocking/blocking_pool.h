// The blocking pool: threads, separate from a runtime's async workers, that
// run code which blocks (a database driver, getaddrinfo, a file read) so that
// no worker stalls on it (tokio's spawn_blocking pool).
//
//  - Lazily grown: a thread is started when a job comes and no thread is
//    idle, up to `max_threads`; beyond that, jobs wait in a FIFO queue (a full
//    pool queues, it never refuses).
//  - Idle threads retire after `keep_alive` without work.
//  - Jobs never run on an async worker, and an async worker never waits for
//    the pool: submit() only queues and signals.
//  - A job that is running cannot be stopped. One still queued can be taken
//    out by its owner (Job::try_claim, then remove), which is how a stopped
//    spawn_blocking future never runs its job.
//
// Lifetime: each thread holds a reference to the pool, so a pool whose owner
// (the runtime) has gone stays alive until its last thread has finished its
// job and left. shutdown() refuses new jobs, gives the queued and running
// ones until a deadline, then drops what never started and leaves the
// threads still running a job to finish it on their own (detached).
#ifndef NANORUN_BLOCKING_BLOCKING_POOL_H_
#define NANORUN_BLOCKING_BLOCKING_POOL_H_

#include <atomic>
#include <cstddef>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace nanorun {
inline namespace v0 {
namespace blocking {

// A unit of work, embedded in its owner's allocation (the future's state for
// spawn_blocking). Exactly one of run() and drop() is called, once, unless
// the owner claimed it first (try_claim; it then calls remove()).
struct Job {
  enum : int { kQueued, kClaimed };
  // Who settles the job: the pool (claiming it to run or drop it) or its
  // owner (taking it back). One CAS decides; the winner alone may touch the
  // job's other fields from then on (the owner's reference to the pool, say).
  std::atomic<int> phase{kQueued};
  bool try_claim() {
    int queued = kQueued;
    return phase.compare_exchange_strong(queued, kClaimed, std::memory_order_acq_rel);
  }
  // The job's work, on a pool thread. After it returns the pool never
  // touches the job again (the owner may free it from inside).
  void (*run)(Job* self) = nullptr;
  // The pool will never run it (shutdown). Same rule as run.
  void (*drop)(Job* self) = nullptr;

  // Guarded by the pool's mutex.
  Job* prev = nullptr;
  Job* next = nullptr;
  bool linked = false;
};

struct PoolOptions {
  size_t max_threads = 512;                     // tokio's default.
  absl::Duration keep_alive = absl::Seconds(10);  // An idle thread retires after this.
};

// What shutdown() did with the jobs that were queued or running when it began
// (and any submitted before it refused new ones).
struct PoolShutdownReport {
  size_t finished = 0;  // Ran to their end before the deadline.
  size_t dropped = 0;   // Never started: drop() was called (their futures fail Cancelled).
  size_t detached = 0;  // Still running at the deadline: left to finish on their own.
};

class BlockingPool : public std::enable_shared_from_this<BlockingPool> {
 public:
  static std::shared_ptr<BlockingPool> Create(PoolOptions options);
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;
  ~BlockingPool();

  // Queues `job` and wakes or starts a thread for it. False once shut down
  // (the job is not touched, and the caller still owns it).
  bool submit(Job* job);
  // By a job's owner that won job->try_claim(): takes it out of the queue
  // (if the pool has not unlinked it already). The pool never touches it
  // again.
  void remove(Job* job);

  // Refuses new jobs; waits until every queued and running job has finished
  // or `deadline` passes; drops the jobs that have not started, and leaves
  // the running ones to finish detached. Idempotent (later calls report zeros).
  // `finished` counts jobs finished since finished_total() was `baseline`
  // (default: since this call).
  static constexpr size_t kNow = ~size_t{0};
  PoolShutdownReport shutdown(absl::Time deadline, size_t baseline = kNow);
  // True once nothing is queued or running (for a graceful runtime drain).
  bool is_quiet() const;

  // For tests and metrics.
  size_t threads() const;
  size_t idle_threads() const;
  size_t queued() const;
  size_t running() const;
  size_t finished_total() const;  // Jobs run to their end, ever.
  size_t max_threads() const { return options_.max_threads; }

 private:
  explicit BlockingPool(PoolOptions options) : options_(options) {}
  void thread_main();
  void push_back_locked(Job* job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void unlink_locked(Job* job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Pops the first job this pool can claim (skipping ones their owner took).
  Job* claim_front_locked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const PoolOptions options_;
  mutable absl::Mutex mu_;
  absl::CondVar work_;      // A job was queued, or shutdown began.
  absl::CondVar changed_;   // A job finished or a thread left (shutdown waits on it).
  Job* head_ ABSL_GUARDED_BY(mu_) = nullptr;
  Job* tail_ ABSL_GUARDED_BY(mu_) = nullptr;
  size_t queued_ ABSL_GUARDED_BY(mu_) = 0;
  size_t threads_ ABSL_GUARDED_BY(mu_) = 0;
  size_t idle_ ABSL_GUARDED_BY(mu_) = 0;
  size_t running_ ABSL_GUARDED_BY(mu_) = 0;
  size_t finished_ ABSL_GUARDED_BY(mu_) = 0;  // Jobs run to their end, ever.
  size_t wakeups_ ABSL_GUARDED_BY(mu_) = 0;   // Signals not yet taken by an idle thread.
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace blocking
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_BLOCKING_BLOCKING_POOL_H_
