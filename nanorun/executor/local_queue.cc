// LocalQueue operations (see local_queue.h for the protocol).
#include "nanorun/executor/local_queue.h"

#include "nanorun/executor/injector.h"

namespace nanorun {
inline namespace v0 {
namespace executor {

void LocalQueue::push_back(task::Header* task, Injector& overflow) {
  // Only the owner writes tail_, so a relaxed load of our own value is exact.
  uint32_t tail = tail_.load(std::memory_order_relaxed);
  for (;;) {
    uint64_t head = head_.load(std::memory_order_acquire);
    uint32_t steal = steal_of(head);
    uint32_t real = real_of(head);
    if (tail - steal < kCapacity) {
      buffer_[tail & kMask].store(task, std::memory_order_relaxed);
      tail_.store(tail + 1, std::memory_order_release);
      return;
    }
    if (steal != real) {
      // A stealer is copying out and will free room soon; do not wait.
      if (!overflow.push(task)) task::DropRef(task);
      return;
    }
    if (push_overflow(task, real, tail, overflow)) return;
    // A concurrent steal or pop moved head; look again.
  }
}

bool LocalQueue::push_overflow(task::Header* task, uint32_t real,
                               uint32_t tail, Injector& overflow) {
  constexpr uint32_t kHalf = kCapacity / 2;
  (void)tail;
  uint64_t expected = pack(real, real);
  if (!head_.compare_exchange_strong(expected, pack(real + kHalf, real + kHalf),
                                     std::memory_order_acq_rel,
                                     std::memory_order_acquire)) {
    return false;
  }
  // The claimed slots are ours; chain them (plus `task`) for one lock.
  task::Header* first = buffer_[real & kMask].load(std::memory_order_relaxed);
  task::Header* prev = first;
  for (uint32_t i = 1; i < kHalf; ++i) {
    task::Header* next =
        buffer_[(real + i) & kMask].load(std::memory_order_relaxed);
    prev->queue_next = next;
    prev = next;
  }
  prev->queue_next = task;
  if (!overflow.push_batch(first, task, kHalf + 1)) {
    // Shutting down: the injector is closed, so drop the Notified refs;
    // shutdown cancels the tasks through the owned list.
    for (task::Header* t = first; t != nullptr;) {
      task::Header* next = (t == task) ? nullptr : t->queue_next;
      task::DropRef(t);
      t = next;
    }
  }
  return true;
}

task::Header* LocalQueue::pop() {
  uint64_t head = head_.load(std::memory_order_acquire);
  for (;;) {
    uint32_t steal = steal_of(head);
    uint32_t real = real_of(head);
    uint32_t tail = tail_.load(std::memory_order_relaxed);
    if (real == tail) return nullptr;
    uint32_t next_real = real + 1;
    // With no steal in progress both positions move together.
    uint32_t next_steal = (steal == real) ? next_real : steal;
    if (head_.compare_exchange_weak(head, pack(next_steal, next_real),
                                    std::memory_order_acq_rel,
                                    std::memory_order_acquire)) {
      return buffer_[real & kMask].load(std::memory_order_relaxed);
    }
  }
}

task::Header* LocalQueue::steal_into(LocalQueue& dst) {
  // dst is the stealer's own queue: its tail is ours to write.
  uint32_t dst_tail = dst.tail_.load(std::memory_order_relaxed);
  uint32_t dst_steal = steal_of(dst.head_.load(std::memory_order_acquire));
  if (dst_tail - dst_steal > kCapacity / 2) return nullptr;

  // Claim half: move `real` forward, leave `steal` behind as a marker.
  uint64_t head = head_.load(std::memory_order_acquire);
  uint32_t first;
  uint32_t count;
  for (;;) {
    uint32_t steal = steal_of(head);
    uint32_t real = real_of(head);
    if (steal != real) return nullptr;  // Someone else is stealing.
    uint32_t tail = tail_.load(std::memory_order_acquire);
    uint32_t available = tail - real;
    count = available - available / 2;
    if (count == 0) return nullptr;
    if (head_.compare_exchange_weak(head, pack(steal, real + count),
                                    std::memory_order_acq_rel,
                                    std::memory_order_acquire)) {
      first = real;
      break;
    }
  }
  for (uint32_t i = 0; i < count; ++i) {
    task::Header* t = buffer_[(first + i) & kMask].load(std::memory_order_relaxed);
    dst.buffer_[(dst_tail + i) & kMask].store(t, std::memory_order_relaxed);
  }
  // Release the claimed slots to the owner: steal catches up with real.
  head = head_.load(std::memory_order_acquire);
  for (;;) {
    uint32_t real = real_of(head);
    if (head_.compare_exchange_weak(head, pack(real, real),
                                    std::memory_order_acq_rel,
                                    std::memory_order_acquire)) {
      break;
    }
  }
  // Run the last stolen task now; publish the rest in our queue.
  --count;
  task::Header* run_now =
      dst.buffer_[(dst_tail + count) & kMask].load(std::memory_order_relaxed);
  if (count > 0) dst.tail_.store(dst_tail + count, std::memory_order_release);
  return run_now;
}

}  // namespace executor
}  // namespace v0
}  // namespace nanorun
