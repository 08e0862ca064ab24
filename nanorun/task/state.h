// The task state word: lifecycle bits and the reference count in one atomic,
// so that every transition (wake, poll, complete, join) is a single CAS.
//
//              spawn
//                |
//                v          transition_to_running         poll: Pending
//   +------> [NOTIFIED] --------------------------> [RUNNING] ---------+
//   |                                                |   |  ^          |
//   | wake (idle): set NOTIFIED, +1 ref, submit      |   |  | wake while RUNNING:
//   |                                                |   |  | set NOTIFIED; on idle
//   +-------------------- [idle] <-------------------+   |  | the poller resubmits
//                                                        |  +--------- (yield)
//                                   poll: Ready / cancel v
//                                               [COMPLETE] -> output waits for
//                                                             the JoinHandle
//
// Bits (and who may set or clear each):
//   NOTIFIED      set by a wake (or spawn) when the task must be polled; a
//                 Notified reference then sits in exactly one queue. Cleared
//                 only by the worker that wins NOTIFIED -> RUNNING.
//   RUNNING       set only by the worker that won the transition to running
//                 (or by shutdown, which claims an idle task the same way);
//                 cleared by that worker when the poll returns.
//   COMPLETE      set once, by the running worker, after the output is
//                 written. Never cleared. Release: the output is visible to
//                 whoever observes COMPLETE with acquire.
//   CANCELLED     set by JoinHandle::abort or runtime shutdown; the next
//                 worker to own the task drops the body instead of polling.
//   JOIN_INTEREST set at spawn; cleared when the JoinHandle is dropped. If
//                 clear at completion, the completer drops the output itself.
//   JOIN_WAKER    set by the JoinHandle after it wrote the waker slot, which
//                 then belongs to the task side; the handle may clear it only
//                 before COMPLETE. While clear, only the handle touches the slot.
//   UNREGISTERED  set once, before the task is first queued, by a scheduler
//                 that keeps this task out of its registry; never cleared.
//   refs          REF_ONE units: one per Notified in a queue (or held by the
//                 worker polling it), per Waker, and per JoinHandle. The task
//                 is freed by whoever drops the last reference.
//
// Memory ordering: every transition that hands the task to another thread is
// an acq_rel RMW: the poller's writes to the body are released by
// transition_to_idle and acquired by the next transition_to_running; the
// output is released by transition_to_complete and acquired by the join
// handle's loads. ref_inc is relaxed (a new reference can only be made from
// an existing one); the final ref_dec is acq_rel so the freeing thread sees
// every other owner's last writes.
#ifndef NANORUN_TASK_STATE_H_
#define NANORUN_TASK_STATE_H_

#include <atomic>
#include <cstdint>

namespace nanorun {
inline namespace v0 {
namespace task {

class State {
 public:
  static constexpr uint64_t kNotified = 1u << 0;
  static constexpr uint64_t kRunning = 1u << 1;
  static constexpr uint64_t kComplete = 1u << 2;
  static constexpr uint64_t kCancelled = 1u << 3;
  static constexpr uint64_t kJoinInterest = 1u << 4;
  static constexpr uint64_t kJoinWaker = 1u << 5;
  static constexpr uint64_t kUnregistered = 1u << 6;
  // Has a TaskTrace (trace.h), kept by the scheduler beside its registry
  // entry: a bit here instead of a pointer in every task's header.
  static constexpr uint64_t kTraced = 1u << 7;
  static constexpr uint64_t kRefOne = 1u << 8;

  // Born notified (it is about to be queued), with `refs` references.
  explicit State(uint64_t refs)
      : word_(kNotified | kJoinInterest | refs * kRefOne) {}

  uint64_t load() const { return word_.load(std::memory_order_acquire); }
  // For reading bits set before the task was published (kUnregistered,
  // kTraced): no ordering needed.
  uint64_t load_relaxed() const { return word_.load(std::memory_order_relaxed); }

  // Before the task is published to any other thread.
  void set_unregistered() { word_.fetch_or(kUnregistered, std::memory_order_relaxed); }
  void set_traced() { word_.fetch_or(kTraced, std::memory_order_relaxed); }
  bool is_unregistered() const {
    return word_.load(std::memory_order_relaxed) & kUnregistered;
  }
  static uint64_t refs(uint64_t word) { return word / kRefOne; }

  enum class RunResult { kSuccess, kCancelled, kFailed, kDealloc };
  // The caller holds a Notified reference. kSuccess/kCancelled: the caller
  // now owns the task (RUNNING). kFailed/kDealloc: the task was already
  // running or complete (e.g. completed by shutdown); the Notified reference
  // was dropped, and with kDealloc it was the last one.
  RunResult transition_to_running() {
    uint64_t cur = word_.load(std::memory_order_relaxed);
    for (;;) {
      uint64_t next;
      RunResult result;
      if ((cur & (kRunning | kComplete)) == 0) {
        next = (cur & ~kNotified) | kRunning;
        result = (cur & kCancelled) ? RunResult::kCancelled : RunResult::kSuccess;
      } else {
        next = cur - kRefOne;
        result = refs(next) == 0 ? RunResult::kDealloc : RunResult::kFailed;
      }
      if (word_.compare_exchange_weak(cur, next, std::memory_order_acq_rel,
                                      std::memory_order_relaxed)) {
        return result;
      }
    }
  }

  enum class IdleResult { kOk, kOkDealloc, kOkNotified, kCancelled };
  // After a Pending poll. The poller's reference (the Notified it consumed)
  // is dropped: kOkDealloc if it was the last. kOkNotified: a wake arrived
  // during the poll; the poller's reference becomes the new Notified one and
  // the caller must submit the task again. kCancelled: the task stays
  // RUNNING and the caller must cancel it.
  IdleResult transition_to_idle() {
    uint64_t cur = word_.load(std::memory_order_relaxed);
    for (;;) {
      if (cur & kCancelled) return IdleResult::kCancelled;
      uint64_t next = cur & ~kRunning;
      IdleResult result;
      if (cur & kNotified) {
        result = IdleResult::kOkNotified;
      } else {
        next -= kRefOne;
        result = refs(next) == 0 ? IdleResult::kOkDealloc : IdleResult::kOk;
      }
      if (word_.compare_exchange_weak(cur, next, std::memory_order_acq_rel,
                                      std::memory_order_relaxed)) {
        return result;
      }
    }
  }

  // RUNNING -> COMPLETE. Returns the word as it was before.
  uint64_t transition_to_complete() {
    return word_.fetch_xor(kRunning | kComplete, std::memory_order_acq_rel);
  }

  enum class NotifyResult { kDoNothing, kSubmit, kDealloc };
  // A wake that consumes the waker's reference. kSubmit: that reference
  // became the Notified reference and the caller must queue the task.
  NotifyResult transition_to_notified_by_val() {
    uint64_t cur = word_.load(std::memory_order_relaxed);
    for (;;) {
      uint64_t next;
      NotifyResult result;
      if (cur & kRunning) {
        // The poller holds a reference, so this cannot be the last one.
        next = (cur | kNotified) - kRefOne;
        result = NotifyResult::kDoNothing;
      } else if (cur & (kComplete | kNotified)) {
        next = cur - kRefOne;
        result = refs(next) == 0 ? NotifyResult::kDealloc
                                 : NotifyResult::kDoNothing;
      } else {
        next = cur | kNotified;
        result = NotifyResult::kSubmit;
      }
      if (word_.compare_exchange_weak(cur, next, std::memory_order_acq_rel,
                                      std::memory_order_relaxed)) {
        return result;
      }
    }
  }

  // A wake that keeps the waker. kSubmit: a new Notified reference was added.
  NotifyResult transition_to_notified_by_ref() {
    uint64_t cur = word_.load(std::memory_order_relaxed);
    for (;;) {
      if (cur & kComplete) return NotifyResult::kDoNothing;
      if (cur & kNotified) {
        // Already notified: no new poll is needed, but the coming one must see
        // what this waker wrote before waking. A plain load would leave the
        // waker out of the word's modification order, so the poll's acquire
        // (transition_to_running) would not synchronize with it: write the
        // same value back with release (tokio-rs/tokio#7622 is this bug).
        if (word_.compare_exchange_weak(cur, cur, std::memory_order_acq_rel,
                                        std::memory_order_relaxed)) {
          return NotifyResult::kDoNothing;
        }
        continue;
      }
      uint64_t next = cur | kNotified;
      NotifyResult result = NotifyResult::kDoNothing;
      if ((cur & kRunning) == 0) {
        next += kRefOne;
        result = NotifyResult::kSubmit;
      }
      if (word_.compare_exchange_weak(cur, next, std::memory_order_acq_rel,
                                      std::memory_order_relaxed)) {
        return result;
      }
    }
  }

  // JoinHandle::abort. Returns true if the caller must submit the task (a
  // Notified reference was added) so that a worker cancels it.
  bool transition_to_notified_and_cancel() {
    uint64_t cur = word_.load(std::memory_order_relaxed);
    for (;;) {
      if (cur & (kCancelled | kComplete)) return false;
      uint64_t next = cur | kCancelled;
      bool submit = false;
      if ((cur & (kRunning | kNotified)) == 0) {
        next = (next | kNotified) + kRefOne;
        submit = true;
      }
      if (word_.compare_exchange_weak(cur, next, std::memory_order_acq_rel,
                                      std::memory_order_relaxed)) {
        return submit;
      }
    }
  }

  // Runtime shutdown. Returns true if the task was idle and the caller now
  // owns it (RUNNING) and must cancel it; otherwise it is only marked.
  bool transition_to_shutdown() {
    uint64_t cur = word_.load(std::memory_order_relaxed);
    for (;;) {
      bool claim = (cur & (kRunning | kComplete)) == 0;
      uint64_t next = cur | kCancelled | (claim ? kRunning : 0);
      if (word_.compare_exchange_weak(cur, next, std::memory_order_acq_rel,
                                      std::memory_order_relaxed)) {
        return claim;
      }
    }
  }

  // JoinHandle dropped. Returns false if the task is already COMPLETE (the
  // caller must drop the output). Otherwise clears JOIN_INTEREST and
  // JOIN_WAKER; if `had_waker` is set, the slot is the caller's to clear.
  bool unset_join_interest(bool* had_waker) {
    uint64_t cur = word_.load(std::memory_order_acquire);
    for (;;) {
      if (cur & kComplete) return false;
      uint64_t next = cur & ~(kJoinInterest | kJoinWaker);
      if (word_.compare_exchange_weak(cur, next, std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
        *had_waker = (cur & kJoinWaker) != 0;
        return true;
      }
    }
  }

  // Publishes the join waker slot. False if the task completed first (the
  // slot stays the handle's; read the output instead).
  bool set_join_waker() { return update_unless_complete(kJoinWaker, 0); }
  // Takes the slot back to replace the waker. False if complete.
  bool unset_join_waker() { return update_unless_complete(0, kJoinWaker); }

  void ref_inc() { word_.fetch_add(kRefOne, std::memory_order_relaxed); }
  // A reference for someone who found the task without holding one (the
  // scheduler's registry, under its lock): fails if the task is being freed.
  bool try_ref_inc() {
    uint64_t cur = word_.load(std::memory_order_relaxed);
    while (refs(cur) != 0) {
      if (word_.compare_exchange_weak(cur, cur + kRefOne,
                                      std::memory_order_relaxed)) {
        return true;
      }
    }
    return false;
  }

  // The JoinHandle is dropped before anything happened to the task (the
  // usual fire-and-forget spawn): one CAS instead of the two RMWs of
  // unset_join_interest + ref_dec. False if the state is not the initial one.
  bool drop_join_handle_fast() {
    uint64_t initial = word_.load(std::memory_order_relaxed) & kUnregistered;
    initial |= kNotified | kJoinInterest | 2 * kRefOne;
    uint64_t dropped = (initial & ~kJoinInterest) - kRefOne;
    return word_.compare_exchange_strong(initial, dropped,
                                         std::memory_order_release,
                                         std::memory_order_relaxed);
  }
  // Drops `count` references; true if they were the last ones.
  bool ref_dec(uint64_t count = 1) {
    uint64_t prev = word_.fetch_sub(count * kRefOne, std::memory_order_acq_rel);
    return refs(prev) == count;
  }

 private:
  bool update_unless_complete(uint64_t set, uint64_t clear) {
    uint64_t cur = word_.load(std::memory_order_acquire);
    for (;;) {
      if (cur & kComplete) return false;
      uint64_t next = (cur | set) & ~clear;
      if (word_.compare_exchange_weak(cur, next, std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
        return true;
      }
    }
  }

  std::atomic<uint64_t> word_;
};

}  // namespace task
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_TASK_STATE_H_
