// The set of live tasks of one runtime, so that shutdown can cancel tasks
// that are parked on something that will never happen. Intrusive doubly
// linked lists (Header::owned_prev/next), sharded by task address so that
// spawns and completions on different workers rarely share a lock.
#ifndef NANORUN_EXECUTOR_OWNED_TASKS_H_
#define NANORUN_EXECUTOR_OWNED_TASKS_H_

#include <cstddef>
#include <cstdint>

#include <mutex>

#include "nanorun/task/header.h"

namespace nanorun {
namespace executor {

class OwnedTasks {
 public:
  // Adds `task` (its owned reference moves into the set). False if the set
  // is closed: the runtime is shutting down and the caller must cancel it.
  bool bind(task::Header* task) {
    Shard& shard = shard_for(task);
    std::lock_guard<std::mutex> lock(shard.mu);
    if (shard.closed) return false;
    task->owned_prev = nullptr;
    task->owned_next = shard.head;
    if (shard.head != nullptr) shard.head->owned_prev = task;
    shard.head = task;
    return true;
  }

  // Removes `task` if present. True if it was (its reference is the
  // caller's to drop).
  bool remove(task::Header* task) {
    Shard& shard = shard_for(task);
    std::lock_guard<std::mutex> lock(shard.mu);
    if (task->owned_prev == nullptr && shard.head != task) return false;
    if (task->owned_prev != nullptr) {
      task->owned_prev->owned_next = task->owned_next;
    } else {
      shard.head = task->owned_next;
    }
    if (task->owned_next != nullptr) task->owned_next->owned_prev = task->owned_prev;
    task->owned_prev = task->owned_next = nullptr;
    return true;
  }

  // Closes every shard, then cancels every live task. Each is unlinked
  // before its shutdown runs (so its own remove() finds nothing) and its
  // owned reference is dropped afterwards.
  void close_and_shutdown_all() {
    for (Shard& shard : shards_) {
      std::lock_guard<std::mutex> lock(shard.mu);
      shard.closed = true;
    }
    for (Shard& shard : shards_) {
      for (;;) {
        task::Header* task;
        {
          std::lock_guard<std::mutex> lock(shard.mu);
          task = shard.head;
          if (task == nullptr) break;
          shard.head = task->owned_next;
          if (shard.head != nullptr) shard.head->owned_prev = nullptr;
          task->owned_prev = task->owned_next = nullptr;
        }
        task->vtable->shutdown(task);
        task::DropRef(task);
      }
    }
  }

 private:
  static constexpr size_t kShards = 64;
  struct Shard {
    std::mutex mu;  // std::mutex: taken twice per task; see injector.h.
    task::Header* head = nullptr;
    bool closed = false;
  };

  Shard& shard_for(task::Header* task) {
    // Allocations are 16-byte aligned; mix the higher bits.
    uintptr_t bits = reinterpret_cast<uintptr_t>(task) >> 6;
    return shards_[(bits ^ (bits >> 7)) % kShards];
  }

  Shard shards_[kShards];
};

}  // namespace executor
}  // namespace nanorun

#endif  // NANORUN_EXECUTOR_OWNED_TASKS_H_
