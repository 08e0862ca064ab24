// RawJoinHandle<Output>: the spawner's side of a task. It can poll for the
// output (registering a waker), abort the task, or be dropped (detaching the
// task, which keeps running). One reference to the task. RawAbortHandle: a
// further reference that can only abort (for task groups).
#ifndef NANORUN_TASK_JOIN_HANDLE_H_
#define NANORUN_TASK_JOIN_HANDLE_H_

#include <new>
#include <utility>

#include "nanorun/task/header.h"
#include "nanorun/waker/poll.h"
#include "nanorun/waker/waker.h"

namespace nanorun {
inline namespace v0 {
namespace task {

inline void AbortTask(Header* task) {
  if (task != nullptr && task->state.transition_to_notified_and_cancel()) {
    task->scheduler->schedule(task, /*is_yield=*/false);
  }
}

// A task reference that can abort the task and nothing else: no join
// interest (the output goes to the JoinHandle), so any number may exist, and
// one outliving the task's completion is harmless (abort does nothing then).
class RawAbortHandle {
 public:
  RawAbortHandle() = default;
  explicit RawAbortHandle(Header* task) : task_(task) {
    if (task_ != nullptr) task_->state.ref_inc();
  }
  RawAbortHandle(const RawAbortHandle& other) : RawAbortHandle(other.task_) {}
  RawAbortHandle(RawAbortHandle&& other) noexcept : task_(std::exchange(other.task_, nullptr)) {}
  RawAbortHandle& operator=(RawAbortHandle other) noexcept {
    std::swap(task_, other.task_);
    return *this;
  }
  ~RawAbortHandle() {
    if (task_ != nullptr) DropRef(task_);
  }

  void abort() const { AbortTask(task_); }
  bool is_finished() const {
    return task_ == nullptr || (task_->state.load() & State::kComplete);
  }

 private:
  Header* task_ = nullptr;
};

template <class Output>
class RawJoinHandle {
 public:
  RawJoinHandle() = default;
  // Adopts the JoinHandle reference of a new task.
  explicit RawJoinHandle(Header* task) : task_(task) {}
  RawJoinHandle(RawJoinHandle&& other) noexcept
      : task_(std::exchange(other.task_, nullptr)) {}
  RawJoinHandle& operator=(RawJoinHandle&& other) noexcept {
    if (this != &other) {
      reset();
      task_ = std::exchange(other.task_, nullptr);
    }
    return *this;
  }
  ~RawJoinHandle() { reset(); }

  bool valid() const { return task_ != nullptr; }
  bool is_finished() const {
    return task_ != nullptr && (task_->state.load() & State::kComplete);
  }

  // Ready with the output once the task completed; otherwise registers
  // cx.waker() to be woken at completion. Requires valid(); after Ready the
  // handle is empty.
  Poll<Output> poll(Context& cx) {
    uint64_t word = task_->state.load();
    if ((word & State::kComplete) == 0) {
      if (register_waker(word, cx.waker())) return Poll<Output>::pending();
    }
    // Constructed in place by the task: a placeholder Output would cost a
    // Status with a message (an allocation) on every join.
    alignas(Output) unsigned char storage[sizeof(Output)];
    task_->vtable->read_output(task_, storage);
    Output* out = std::launder(reinterpret_cast<Output*>(storage));
    reset();
    Poll<Output> ready = Poll<Output>::ready(std::move(*out));
    out->~Output();
    return ready;
  }

  // Requests cancellation: the task's body is dropped by the next worker to
  // own it (at once if idle, after its current poll if running) and its
  // output becomes absl::CancelledError. No effect once complete.
  void abort() { AbortTask(task_); }

  // A reference that can only abort (RawAbortHandle). Requires valid().
  RawAbortHandle abort_handle() const { return RawAbortHandle(task_); }

 private:
  // Returns false if the task completed meanwhile (read the output).
  bool register_waker(uint64_t word, const Waker& waker) {
    if (word & State::kJoinWaker) {
      // The slot is the task's; replace it only if it would wake elsewhere.
      const RawWaker& stored = task_->join_waker;
      if (stored.data == waker.as_raw().data &&
          stored.vtable == waker.as_raw().vtable) {
        return true;
      }
      if (!task_->state.unset_join_waker()) return false;
    }
    // The slot is ours now (JOIN_WAKER clear).
    RawWaker old = task_->join_waker;
    task_->join_waker = Waker(waker).into_raw();
    old.vtable->drop(old.data);
    return task_->state.set_join_waker();
  }

  void reset() {
    if (task_ == nullptr) return;
    if (task_->state.drop_join_handle_fast()) {
      task_ = nullptr;
      return;
    }
    bool had_waker = false;
    if (!task_->state.unset_join_interest(&had_waker)) {
      task_->vtable->drop_output(task_);
    } else if (had_waker) {
      // The slot is ours again; release the waker now rather than at
      // dealloc, which breaks waker -> task reference cycles early.
      RawWaker old = task_->join_waker;
      task_->join_waker = RawWaker{nullptr, &detail::kNoopWakerVTable};
      old.vtable->drop(old.data);
    }
    DropRef(task_);
    task_ = nullptr;
  }

  Header* task_ = nullptr;
};

}  // namespace task
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_TASK_JOIN_HANDLE_H_
