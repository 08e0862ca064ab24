// The shared injection queue: tasks spawned or woken from outside a worker,
// and overflow from full local queues. A mutex-guarded intrusive FIFO (the
// link is Header::queue_next, so pushing never allocates); workers reach it
// only when their own queue is empty or on the periodic fairness check, so
// the lock is off the hot path. `len_` lets workers skip the lock when empty.
#ifndef NANORUN_EXECUTOR_INJECTOR_H_
#define NANORUN_EXECUTOR_INJECTOR_H_

#include <atomic>
#include <cstddef>

#include <mutex>

#include "nanorun/sys/spin_lock.h"

#include "absl/base/thread_annotations.h"
#include "nanorun/task/header.h"

namespace nanorun {
inline namespace v0 {
namespace executor {

class Injector {
 public:
  // Appends the chain first..last (linked through queue_next) of `count`
  // tasks. Returns false if the queue is closed; the caller keeps the tasks.
  bool push_batch(task::Header* first, task::Header* last, size_t count) {
    std::lock_guard<sys::SpinLock> lock(mu_);
    if (closed_) return false;
    last->queue_next = nullptr;
    if (tail_ != nullptr) {
      tail_->queue_next = first;
    } else {
      head_ = first;
    }
    tail_ = last;
    // seq_cst: pairs with the fence in Executor::notify_parked and the
    // last-searcher recheck (see idle.h).
    len_.fetch_add(count, std::memory_order_seq_cst);
    return true;
  }
  bool push(task::Header* task) { return push_batch(task, task, 1); }

  // Pops up to `max` tasks under one lock, as a chain linked through
  // queue_next (the last one's link is null). Returns the first, or nullptr.
  task::Header* pop_batch(size_t max, size_t* count) {
    *count = 0;
    if (max == 0 || len_.load(std::memory_order_acquire) == 0) return nullptr;
    std::lock_guard<sys::SpinLock> lock(mu_);
    task::Header* first = head_;
    task::Header* last = nullptr;
    while (head_ != nullptr && *count < max) {
      last = head_;
      head_ = head_->queue_next;
      ++*count;
    }
    if (head_ == nullptr) tail_ = nullptr;
    if (last != nullptr) last->queue_next = nullptr;
    len_.fetch_sub(*count, std::memory_order_relaxed);
    return *count > 0 ? first : nullptr;
  }

  bool empty() const { return len_.load(std::memory_order_seq_cst) == 0; }
  size_t len() const { return len_.load(std::memory_order_relaxed); }

  // Refuses further pushes and returns what was queued, for shutdown.
  task::Header* close() {
    std::lock_guard<sys::SpinLock> lock(mu_);
    closed_ = true;
    task::Header* all = head_;
    head_ = tail_ = nullptr;
    len_.store(0, std::memory_order_relaxed);
    return all;
  }

 private:
  // A spin lock, not absl::Mutex or std::mutex: this lock is on the
  // spawn/wake path and guards a few pointer writes; absl::Mutex's per-thread
  // identity lookup alone cost more than the critical section (perf, in
  // tools/bench spawn_remote). See sys/spin_lock.h.
  alignas(64) sys::SpinLock mu_;
  task::Header* head_ /* guarded by mu_ */ = nullptr;
  task::Header* tail_ /* guarded by mu_ */ = nullptr;
  bool closed_ /* guarded by mu_ */ = false;
  std::atomic<size_t> len_{0};
};

}  // namespace executor
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_EXECUTOR_INJECTOR_H_
