// The blocking pool's threads, queue and shutdown (see blocking_pool.h).
#include "nanorun/blocking/blocking_pool.h"

#include <thread>
#include <utility>

namespace nanorun {
inline namespace v0 {
namespace blocking {

std::shared_ptr<BlockingPool> BlockingPool::Create(PoolOptions options) {
  if (options.max_threads == 0) options.max_threads = 1;
  return std::shared_ptr<BlockingPool>(new BlockingPool(options));
}

// Threads hold references, so none is left here; queued jobs were dropped by
// shutdown (the owner calls it before letting go).
BlockingPool::~BlockingPool() = default;

bool BlockingPool::submit(Job* job) {
  bool start_thread = false;
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_) return false;
    job->phase.store(Job::kQueued, std::memory_order_relaxed);
    push_back_locked(job);
    ++queued_;
    if (idle_ > wakeups_) {
      ++wakeups_;  // An idle thread that no earlier job has called yet.
      work_.Signal();
    } else if (threads_ < options_.max_threads) {
      ++threads_;
      start_thread = true;
    }
    // Otherwise every thread is busy and the pool is at its bound: the job
    // waits its turn.
  }
  if (start_thread) {
    std::thread([self = shared_from_this()] { self->thread_main(); }).detach();
  }
  return true;
}

void BlockingPool::remove(Job* job) {
  absl::MutexLock lock(&mu_);
  if (job->linked) {
    unlink_locked(job);
    --queued_;
    changed_.SignalAll();
  }
}

void BlockingPool::thread_main() {
  absl::MutexLock lock(&mu_);
  for (;;) {
    if (Job* job = claim_front_locked()) {
      ++running_;
      mu_.Unlock();
      job->run(job);  // Last touch of `job`.
      mu_.Lock();
      --running_;
      ++finished_;
      changed_.SignalAll();
      continue;
    }
    if (shut_down_) break;
    ++idle_;
    bool timed_out = work_.WaitWithTimeout(&mu_, options_.keep_alive);
    --idle_;
    if (wakeups_ > 0) --wakeups_;
    if (timed_out && head_ == nullptr) break;  // Idle for keep_alive: retire.
  }
  --threads_;
  changed_.SignalAll();
}

PoolShutdownReport BlockingPool::shutdown(absl::Time deadline, size_t baseline) {
  PoolShutdownReport report;
  Job* never_started = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_) return report;
    shut_down_ = true;
    work_.SignalAll();  // Idle threads leave; busy ones take the queue first.
    size_t finished_before = baseline == kNow ? finished_ : baseline;
    while ((queued_ > 0 || running_ > 0) && !changed_.WaitWithDeadline(&mu_, deadline)) {
    }
    report.finished = finished_ - finished_before;
    report.detached = running_;
    // What never started is dropped, after the lock (drop() settles futures).
    Job** tail = &never_started;
    while (Job* job = claim_front_locked()) {
      *tail = job;
      tail = &job->next;
      ++report.dropped;
    }
  }
  while (never_started != nullptr) {
    Job* next = never_started->next;
    never_started->drop(never_started);  // Last touch.
    never_started = next;
  }
  return report;
}

bool BlockingPool::is_quiet() const {
  absl::MutexLock lock(&mu_);
  return queued_ == 0 && running_ == 0;
}

size_t BlockingPool::threads() const {
  absl::MutexLock lock(&mu_);
  return threads_;
}
size_t BlockingPool::idle_threads() const {
  absl::MutexLock lock(&mu_);
  return idle_;
}
size_t BlockingPool::queued() const {
  absl::MutexLock lock(&mu_);
  return queued_;
}
size_t BlockingPool::finished_total() const {
  absl::MutexLock lock(&mu_);
  return finished_;
}
size_t BlockingPool::running() const {
  absl::MutexLock lock(&mu_);
  return running_;
}

void BlockingPool::push_back_locked(Job* job) {
  job->prev = tail_;
  job->next = nullptr;
  job->linked = true;
  if (tail_ != nullptr) {
    tail_->next = job;
  } else {
    head_ = job;
  }
  tail_ = job;
}

void BlockingPool::unlink_locked(Job* job) {
  if (job->prev != nullptr) {
    job->prev->next = job->next;
  } else {
    head_ = job->next;
  }
  if (job->next != nullptr) {
    job->next->prev = job->prev;
  } else {
    tail_ = job->prev;
  }
  job->prev = job->next = nullptr;
  job->linked = false;
}

Job* BlockingPool::claim_front_locked() {
  while (Job* job = head_) {
    unlink_locked(job);
    --queued_;
    if (job->try_claim()) return job;
    // Its owner claimed it back (its future was stopped) and will call
    // remove(), which finds it unlinked.
  }
  return nullptr;
}

}  // namespace blocking
}  // namespace v0
}  // namespace nanorun
