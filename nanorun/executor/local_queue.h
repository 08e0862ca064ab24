// A worker's bounded run queue: lock-free, single producer (the owning
// worker), many consumers (the owner pops, idle peers steal half).
//
// Layout, after tokio's design: `tail` is written only by the owner; `head`
// packs two 32-bit positions, `real` (next task to hand out) and `steal`
// (start of a range a stealer has claimed but not finished copying). While
// steal != real a steal is in progress; the owner may still pop (advancing
// real) but must not overwrite slots from `steal` on, so capacity is
// measured from `steal`. Positions wrap as uint32_t; only differences matter.
//
// Memory ordering: the owner writes a slot, then publishes it with a release
// store of `tail`; consumers acquire `tail` before reading slots. A claim is
// an acq_rel CAS on `head`, so a slot is read by exactly one consumer and
// the owner sees (acquire on `head`) which slots became free.
#ifndef NANORUN_EXECUTOR_LOCAL_QUEUE_H_
#define NANORUN_EXECUTOR_LOCAL_QUEUE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "nanorun/task/header.h"

namespace nanorun {
inline namespace v0 {
namespace executor {

class Injector;

class LocalQueue {
 public:
  // A power of two. Incidental: may change.
  static constexpr uint32_t kCapacity = 256;

  LocalQueue() {
    for (auto& slot : buffer_) slot.store(nullptr, std::memory_order_relaxed);
  }

  // Owner only. When full, moves half of the queue plus `task` to the
  // injector in one batch, so a burst of spawns spreads to other workers.
  void push_back(task::Header* task, Injector& overflow);

  // Owner only. Oldest first.
  task::Header* pop();

  // Called by a stealer on a peer's queue: moves about half of this queue
  // into `dst` (the stealer's own, which must be empty enough) and returns
  // one of the stolen tasks to run now, or nullptr.
  task::Header* steal_into(LocalQueue& dst);

  // Approximate from other threads; exact for the owner.
  bool empty() const { return len() == 0; }
  uint32_t len() const {
    uint64_t head = head_.load(std::memory_order_acquire);
    uint32_t tail = tail_.load(std::memory_order_acquire);
    return tail - real_of(head);
  }

 private:
  static constexpr uint32_t kMask = kCapacity - 1;
  static uint32_t steal_of(uint64_t head) { return static_cast<uint32_t>(head >> 32); }
  static uint32_t real_of(uint64_t head) { return static_cast<uint32_t>(head); }
  static uint64_t pack(uint32_t steal, uint32_t real) {
    return (static_cast<uint64_t>(steal) << 32) | real;
  }

  // Claims kCapacity/2 tasks starting at `real` for the injector. False if a
  // stealer moved head first.
  bool push_overflow(task::Header* task, uint32_t real, uint32_t tail,
                     Injector& overflow);

  // head_ is CASed by stealers, tail_ written by the owner on every push:
  // separate cache lines so pushes do not bounce the stealers' line.
  alignas(64) std::atomic<uint64_t> head_{0};
  alignas(64) std::atomic<uint32_t> tail_{0};
  alignas(64) std::atomic<task::Header*> buffer_[kCapacity];
};

}  // namespace executor
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_EXECUTOR_LOCAL_QUEUE_H_
