// Which workers are asleep, which are searching for work, and who to wake.
//
// The no-lost-wakeup handshake (after tokio's idle.rs):
//   Producer (spawn or wake):  push the task (seq_cst increment of the queue
//     length), then a seq_cst fence, then read `state_`: if no worker is
//     searching and some are asleep, wake one (it starts out searching).
//   Consumer (a worker about to sleep): under `mu_`, record itself as asleep
//     with a seq_cst RMW of `state_`; if it was the last searching worker,
//     re-check every queue afterwards and wake a worker if any has work.
// Both sides write one location and then read the other's with seq_cst, so
// (Dekker) at least one of them sees the other: either the producer sees
// searching == 0 and wakes someone, or the last searcher's re-check sees the
// task. While some worker is searching, it is responsible for finding the
// task, and a searcher that finds work and was the last one wakes another,
// so work that arrives in a burst is spread.
#ifndef NANORUN_EXECUTOR_IDLE_H_
#define NANORUN_EXECUTOR_IDLE_H_

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <mutex>

namespace nanorun {
inline namespace v0 {
namespace executor {

class Idle {
 public:
  explicit Idle(size_t num_workers)
      : num_workers_(static_cast<uint32_t>(num_workers)),
        state_(pack(static_cast<uint32_t>(num_workers), 0)) {
    sleepers_.reserve(num_workers);
  }

  // A worker to wake for new work, or -1. Callers fence first (see above).
  int worker_to_notify() {
    if (!should_wake()) return -1;
    std::lock_guard<std::mutex> lock(mu_);
    if (!should_wake() || sleepers_.empty()) return -1;
    // The woken worker counts as unparked and searching from now on.
    state_.fetch_add(pack(1, 1), std::memory_order_seq_cst);
    int worker = static_cast<int>(sleepers_.back());
    sleepers_.pop_back();
    return worker;
  }

  // The worker goes to sleep. Returns true if it was the last searcher (it
  // must then re-check the queues).
  bool transition_worker_to_parked(size_t worker, bool is_searching) {
    std::lock_guard<std::mutex> lock(mu_);
    uint32_t dec = pack(1, is_searching ? 1 : 0);
    uint32_t prev = state_.fetch_sub(dec, std::memory_order_seq_cst);
    sleepers_.push_back(worker);
    return is_searching && searching_of(prev) == 1;
  }

  // Limits searchers to half the workers so that stealing does not turn
  // into every idle worker hammering every queue.
  bool transition_worker_to_searching() {
    uint32_t state = state_.load(std::memory_order_seq_cst);
    if (2 * searching_of(state) >= num_workers_) return false;
    state_.fetch_add(pack(0, 1), std::memory_order_seq_cst);
    return true;
  }

  // Returns true if this was the last searcher (the caller then wakes
  // another worker to keep looking).
  bool transition_worker_from_searching() {
    uint32_t prev = state_.fetch_sub(pack(0, 1), std::memory_order_seq_cst);
    return searching_of(prev) == 1;
  }

  // After a park returns: if the worker is still listed as asleep (it was not
  // chosen by worker_to_notify: a spurious or reactor wake), take it off the
  // list as unparked and not searching. False if it was notified (it is then
  // already counted as unparked and searching).
  bool unpark_worker_by_id(size_t worker) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = std::find(sleepers_.begin(), sleepers_.end(), worker);
    if (it == sleepers_.end()) return false;
    sleepers_.erase(it);
    state_.fetch_add(pack(1, 0), std::memory_order_seq_cst);
    return true;
  }

 private:
  // state_: unparked workers in the high 16 bits, searching in the low 16.
  static uint32_t pack(uint32_t unparked, uint32_t searching) {
    return (unparked << 16) | searching;
  }
  static uint32_t searching_of(uint32_t state) { return state & 0xffff; }
  static uint32_t unparked_of(uint32_t state) { return state >> 16; }

  bool should_wake() const {
    uint32_t state = state_.load(std::memory_order_seq_cst);
    return searching_of(state) == 0 && unparked_of(state) < num_workers_;
  }

  const uint32_t num_workers_;
  std::atomic<uint32_t> state_;
  std::mutex mu_;  // Guards sleepers_; std::mutex as in injector.h.
  std::vector<size_t> sleepers_;
};

}  // namespace executor
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_EXECUTOR_IDLE_H_
