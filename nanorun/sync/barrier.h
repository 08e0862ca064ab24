// nanorun::sync::Barrier: n tasks wait until all n have arrived, then all go
// on together (tokio's Barrier). wait() returns a Future<bool> that settles
// once n waits are pending: true for exactly one of each n (the leader, the
// last to arrive: it can do the once-per-round work), false for the others.
// The barrier then starts over for the next n.
//
// Cancel rule: an arrival is final, as in std::barrier and tokio: a wait()
// that is stopped (dropped, timed out, its task aborted) before its round
// completes stops waiting (it settles with CancelledError), but it still
// counts toward its round's n, so the others are not held back by a
// participant that gave up. Once its round completed, its result is ready and
// dropping it changes nothing.
//
// Barrier is a cheap copyable handle; copies share one barrier, and waiters
// keep it alive. Barrier(0) behaves as Barrier(1): every wait is a leader.
#ifndef NANORUN_SYNC_BARRIER_H_
#define NANORUN_SYNC_BARRIER_H_

#include <cstddef>
#include <memory>

#include "nanorun/future/future.h"
#include "nanorun/sync/wait_list.h"
#include "nanorun/sys/spin_lock.h"

namespace nanorun {
inline namespace v0 {
namespace sync {

namespace detail {
class BarrierCore;
}

// n tasks wait until all n have arrived (see the file's comment). A cheap
// copyable handle: copies share one barrier.
class Barrier {
 public:
  // A barrier for rounds of `n` arrivals (0 behaves as 1).
  explicit Barrier(size_t n);
  // Arrives, and settles once the round is complete: true for the leader (the
  // last to arrive), false for the others. Stopped: CancelledError, but the
  // arrival still counts.
  Future<bool> wait() const;
  // Arrivals in the current round so far (at most n - 1).
  size_t waiting() const;

 private:
  std::shared_ptr<detail::BarrierCore> core_;
};

namespace detail {

class BarrierCore : public std::enable_shared_from_this<BarrierCore> {
 public:
  explicit BarrierCore(size_t n) : n_(n == 0 ? 1 : n) {}
  Future<bool> wait();
  size_t waiting() const;

 private:
  using BarrierWaiter = Waiter<bool, BarrierCore>;
  static nanorun::detail::StopStep OnStop(nanorun::detail::StateBase* state);

  mutable sys::SpinLock mu_;
  const size_t n_;
  size_t arrived_ = 0;  // Guarded by mu_: arrivals of this round (stopped ones too).
  WaitList waiters_;    // Guarded by mu_.
};

}  // namespace detail
}  // namespace sync
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_SYNC_BARRIER_H_
