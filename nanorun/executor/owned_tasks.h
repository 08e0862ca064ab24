// The registry of one runtime's allocated tasks, so that shutdown can cancel
// tasks parked on something that will never happen, and so that the executor
// knows when its last task is gone. Not a reference: a task links itself in
// at spawn and out when its memory is freed. Intrusive doubly linked lists
// (Header::owned_prev/next), sharded by task address so that spawns and
// frees on different workers rarely share a lock.
#ifndef NANORUN_EXECUTOR_OWNED_TASKS_H_
#define NANORUN_EXECUTOR_OWNED_TASKS_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "nanorun/sys/spin_lock.h"
#include "nanorun/task/header.h"
#include "nanorun/task/trace.h"

namespace nanorun {
inline namespace v0 {
namespace executor {

class OwnedTasks {
 public:
  // Links `task` in, with its trace if it is traced (the registry keeps the
  // trace from now on). False if the registry is closed: the runtime is
  // shutting down, the caller must cancel the task, and `trace` is still the
  // caller's.
  bool bind(task::Header* task, task::TaskTrace* trace = nullptr) {
    Shard& shard = shard_for(task);
    std::lock_guard<sys::SpinLock> lock(shard.mu);
    if (shard.closed) return false;
    if (trace != nullptr) shard.traces.emplace(task, trace);
    task->owned_prev = nullptr;
    task->owned_next = shard.head;
    if (shard.head != nullptr) shard.head->owned_prev = task;
    shard.head = task;
    ++shard.count;
    return true;
  }

  // Unlinks a task whose memory is being freed; hands back its trace (to be
  // freed by the caller) in *trace if it is traced. Returns true if the task
  // was counted by count_for_release() (the caller then settles that count).
  // (Tasks never linked in, marked unregistered, do not call it: see ~Task.)
  bool unlink(task::Header* task, task::TaskTrace** trace) {
    Shard& shard = shard_for(task);
    std::lock_guard<sys::SpinLock> lock(shard.mu);
    if (task->state.load_relaxed() & task::State::kTraced) {
      auto it = shard.traces.find(task);
      if (it != shard.traces.end()) {
        *trace = it->second;
        shard.traces.erase(it);
      }
    }
    if (task->owned_prev == nullptr && shard.head != task) return false;
    if (task->owned_prev != nullptr) {
      task->owned_prev->owned_next = task->owned_next;
    } else {
      shard.head = task->owned_next;
    }
    if (task->owned_next != nullptr) task->owned_next->owned_prev = task->owned_prev;
    task->owned_prev = task->owned_next = nullptr;
    --shard.count;
    return shard.counted;
  }

  // Closes every shard, then runs `shutdown` on every task still allocated,
  // and on_cancelled(task) for each that this cancelled. Each is visited
  // holding a reference (taken under the shard lock, so it cannot be freed
  // meanwhile), which is dropped afterwards.
  template <class OnCancelled>
  void close_and_shutdown_all(OnCancelled on_cancelled) {
    std::vector<task::Header*> live;
    for (Shard& shard : shards_) {
      std::lock_guard<sys::SpinLock> lock(shard.mu);
      shard.closed = true;
      for (task::Header* t = shard.head; t != nullptr; t = t->owned_next) {
        if (t->state.try_ref_inc()) live.push_back(t);
      }
    }
    for (task::Header* t : live) {
      if (t->vtable->shutdown(t)) on_cancelled(t);
      task::DropRef(t);
    }
  }

  // A traced task's trace (alive while the caller holds a reference on the
  // task, or is polling it), or nullptr.
  task::TaskTrace* trace_of(const task::Header* task) {
    Shard& shard = shard_for(task);
    std::lock_guard<sys::SpinLock> lock(shard.mu);
    auto it = shard.traces.find(task);
    return it == shard.traces.end() ? nullptr : it->second;
  }

  // Appends every task still allocated and not complete to `out`, with its
  // trace (or nullptr), each with a reference taken under its shard's lock
  // (so none is freed meanwhile); the caller drops them. Holds one shard's
  // lock at a time, only to take the references: for Handle::dump(), which
  // reads the tasks afterwards.
  void collect_live(std::vector<std::pair<task::Header*, task::TaskTrace*>>* out) {
    for (Shard& shard : shards_) {
      std::lock_guard<sys::SpinLock> lock(shard.mu);
      for (task::Header* t = shard.head; t != nullptr; t = t->owned_next) {
        if ((t->state.load() & task::State::kComplete) != 0) continue;
        if (!t->state.try_ref_inc()) continue;
        auto it = shard.traces.find(t);
        out->emplace_back(t, it == shard.traces.end() ? nullptr : it->second);
      }
    }
  }

  // Tasks linked in that have not completed (for a graceful drain).
  size_t count_incomplete() {
    size_t total = 0;
    for (Shard& shard : shards_) {
      std::lock_guard<sys::SpinLock> lock(shard.mu);
      for (task::Header* t = shard.head; t != nullptr; t = t->owned_next) {
        if ((t->state.load() & task::State::kComplete) == 0) ++total;
      }
    }
    return total;
  }
  // For freeing the executor: marks every shard as counted and returns how
  // many tasks are still allocated. Tasks freed from now on report `true`
  // from unlink().
  size_t count_for_release() {
    size_t total = 0;
    for (Shard& shard : shards_) {
      std::lock_guard<sys::SpinLock> lock(shard.mu);
      shard.counted = true;
      total += shard.count;
    }
    return total;
  }

 private:
  static constexpr size_t kShards = 64;
  // One cache line each: shards are locked from different workers, and two
  // shards sharing a line would make unrelated spawns contend.
  struct alignas(64) Shard {
    sys::SpinLock mu;  // Taken at spawn and at free; see injector.h.
    task::Header* head = nullptr;
    size_t count = 0;
    bool closed = false;
    bool counted = false;
    // The traced tasks' traces (State::kTraced), owned here.
    absl::flat_hash_map<const task::Header*, task::TaskTrace*> traces;
  };

  Shard& shard_for(const task::Header* task) {
    // Allocations are 16-byte aligned; mix the higher bits.
    uintptr_t bits = reinterpret_cast<uintptr_t>(task) >> 6;
    return shards_[(bits ^ (bits >> 7)) % kShards];
  }

  Shard shards_[kShards];
};

}  // namespace executor
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_EXECUTOR_OWNED_TASKS_H_
