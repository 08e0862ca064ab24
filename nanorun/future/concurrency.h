// Running many futures together without giving up on the first failure
// (when_all_settled) or without starting them all at once
// (for_each_concurrent). when_all / when_any are in combinators.h.
#ifndef NANORUN_FUTURE_CONCURRENCY_H_
#define NANORUN_FUTURE_CONCURRENCY_H_

#include <atomic>
#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "nanorun/cancel/stop_token.h"
#include "nanorun/future/combinators.h"
#include "nanorun/future/future.h"
#include "nanorun/future/with_stop.h"

namespace nanorun {
inline namespace v0 {

// Every input's result, in input order, once all have settled: errors do not
// end it early (when_all's do). The element is absl::StatusOr<T>
// (absl::Status for Future<void>). An empty input is an element that fails
// with FailedPrecondition.
//
// Stopped (dropped, timed out, ...), it asks every input to stop and fails
// with CancelledError as soon as one settles.
template <class T>
Future<std::vector<detail::Result<T>>> when_all_settled(std::vector<Future<T>> futures) {
  using Out = std::vector<detail::Result<T>>;
  if (futures.empty()) return make_ready_future(Out());
  struct Shared : detail::CombinatorBase<Out> {
    explicit Shared(size_t n) : detail::CombinatorBase<Out>(n), results(n), remaining(n) {}
    bool stop_inputs() override {
      stopped.store(true, std::memory_order_release);
      return this->stopper.stop_now();
    }
    Out results;  // Each slot written by its own input; read by the last one.
    std::atomic<size_t> remaining;
    std::atomic<bool> stopped{false};
  };
  auto shared = std::make_shared<Shared>(futures.size());
  Future<Out> result = shared->future();
  for (size_t i = 0; i < futures.size(); ++i) {
    shared->stopper.add(
        detail::NonEmpty(std::move(futures[i]), "when_all_settled", i)
            .then_result([link = detail::InputLink<Shared>(shared), i](detail::Result<T> r) mutable {
              Shared& s = link.ran();
              s.results[i] = std::move(r);
              if (s.stopped.load(std::memory_order_acquire)) {
                s.try_settle(absl::CancelledError(
                    "when_all_settled: stopped (its future was dropped, a timeout passed, or its "
                    "task was aborted)"));
              }
              if (s.remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) {
                s.try_settle(std::move(s.results));
              }
            }));
  }
  shared->stopper.attached();
  return result;
}

namespace detail {

// for_each_concurrent's state: the items not yet started, the number in
// flight, and the first error. One thread at a time starts items (`pumping`);
// a completion that comes meanwhile leaves the starting to it (`again`), so
// items whose futures are ready at once are started in a loop, not by
// recursion. In-flight items run under with_stop(stop_), so the first error
// (or a stop of the whole) stops them.
template <class T, class F>
class ForEachPump : public CombinatorBase<void> {
 public:
  ForEachPump(std::vector<T> items, size_t limit, F f)
      : CombinatorBase<void>(0), items_(std::move(items)), limit_(limit), f_(std::move(f)) {}

  void pump() ABSL_LOCKS_EXCLUDED(mu_) {
    mu_.Lock();
    if (pumping_) {
      again_ = true;
      mu_.Unlock();
      return;
    }
    pumping_ = true;
    for (;;) {
      while (!stopping_ && in_flight_ < limit_ && next_ < items_.size()) {
        T item = std::move(items_[next_++]);
        ++in_flight_;
        mu_.Unlock();
        Future<void> f = with_stop(stop_.get_token(), CallToFuture<void>(f_, std::move(item)));
        if (f.is_ready()) {
          absl::Status s = f.take_result();
          mu_.Lock();
          if (finish_locked(s)) {
            mu_.Unlock();
            stop_.request_stop();
            mu_.Lock();
          }
          continue;
        }
        std::move(f)
            .then_result([link = InputLink<ForEachPump>(self())](absl::Status s) mutable {
              link.ran().done_one(std::move(s));
            })
            .detach();
        mu_.Lock();
      }
      if (!again_) break;
      again_ = false;
    }
    pumping_ = false;
    bool finished = in_flight_ == 0 && (stopping_ || next_ == items_.size());
    absl::Status result = first_error_;
    mu_.Unlock();
    if (finished) try_settle(std::move(result));
  }

  void done_one(absl::Status s) {
    bool first_error;
    {
      absl::MutexLock lock(&mu_);
      first_error = finish_locked(s);
    }
    if (first_error) stop_.request_stop();
    pump();
  }

 private:
  std::shared_ptr<ForEachPump> self() {
    return std::static_pointer_cast<ForEachPump>(this->shared_from_this());
  }
  // Under mu_: one item is done. True if it brought the first error (the
  // caller stops the rest, outside the lock).
  bool finish_locked(const absl::Status& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    --in_flight_;
    if (s.ok() || stopping_) return false;
    stopping_ = true;
    first_error_ = s;
    return true;
  }
  bool stop_inputs() override {
    {
      absl::MutexLock lock(&mu_);
      if (!stopping_) {
        stopping_ = true;
        first_error_ = absl::CancelledError(
            "for_each_concurrent: stopped (its future was dropped, a timeout passed, or its "
            "task was aborted); items not started were not run");
      }
    }
    stop_.request_stop();  // Runs only with_stop's callbacks: no user code.
    return true;
  }

  absl::Mutex mu_;
  std::vector<T> items_;  // [next_, end) not started yet. Guarded by mu_.
  const size_t limit_;
  F f_;  // Called by the pumping thread only.
  size_t next_ ABSL_GUARDED_BY(mu_) = 0;
  size_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool pumping_ ABSL_GUARDED_BY(mu_) = false;
  bool again_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status first_error_ ABSL_GUARDED_BY(mu_);
  StopSource stop_;
};

}  // namespace detail

// Calls f(item) for each item (F: T -> Future<void>, or void / absl::Status),
// with at most `limit` of the futures it returns pending at once; items start
// in order. Succeeds once all succeeded. The first error is the result: the
// items in flight are asked to stop and no further item starts. Stopped
// (dropped, timed out, ...), it does the same and fails with CancelledError.
// f is called on the thread where the previous item finished (or the caller's,
// for the first `limit`), never concurrently with itself. limit == 0 fails with
// InvalidArgument.
template <class T, class F>
Future<void> for_each_concurrent(std::vector<T> items, size_t limit, F f) {
  if (limit == 0) {
    return make_error_future<void>(absl::InvalidArgumentError(
        "for_each_concurrent: limit is 0; allow at least 1 item in flight"));
  }
  if (items.empty()) return make_ready_future();
  auto pump = std::make_shared<detail::ForEachPump<T, F>>(std::move(items), limit, std::move(f));
  Future<void> result = pump->future();
  pump->pump();
  return result;
}

}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_FUTURE_CONCURRENCY_H_
