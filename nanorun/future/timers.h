// nanorun::time: sleep, sleep_until, timeout, interval and now(), the
// Future-returning face of the timer wheel (nanorun/time). They live in the
// future layer because they return futures; the wheel and its driver sit
// below the executor, which fires them.
//
// All of them need a runtime (they are called on one of its workers; an
// Interval remembers its runtime). Called elsewhere they return a failed
// future (FailedPrecondition) that says so; they never crash.
//
// Deadlines round up to the next 1 ms tick, and a timer fires only once the
// clock has passed its tick: never early; late by about a tick plus
// scheduling delay. Deadlines more than 2^36 ms (~2.2 years) away are
// clamped to that. When the runtime shuts down, pending sleeps and timeouts
// fail with CancelledError.
#ifndef NANORUN_FUTURE_TIMERS_H_
#define NANORUN_FUTURE_TIMERS_H_

#include <atomic>
#include <chrono>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "nanorun/future/core.h"
#include "nanorun/future/future.h"
#include "nanorun/time/clock.h"
#include "nanorun/time/driver.h"

namespace nanorun {
inline namespace v0 {
namespace time {
namespace detail {

using nanorun::detail::Continuation;
using nanorun::detail::Result;
using nanorun::detail::SharedState;
using nanorun::detail::StateBase;
using nanorun::detail::StopGate;
using nanorun::detail::StopStep;

inline absl::Status OffRuntime(const char* what) {
  return absl::FailedPreconditionError(absl::StrCat(
      "nanorun::time::", what,
      " called outside a runtime: call it from a task (inside "
      "Runtime::block_on([] { ... }) or spawn), where timers have a "
      "runtime to fire them"));
}

inline absl::Status ShutDown(const char* what) {
  return absl::CancelledError(absl::StrCat(
      "nanorun::time::", what, ": the runtime shut down before the timer fired"));
}

// A sleep's future state and its timer in one allocation.
//
// Who keeps the driver alive: the node holds its own reference to the runtime
// from Start until the driver is done with it, not the future's via (which
// .via(other) replaces: the sleep's runtime could then be freed while the
// future, still able to stop the timer, lives on). Exactly one of two parties
// drops that reference, decided by one CAS on `phase_`:
//   - Fire (the driver fires it, or cancels it at shutdown) when it gets there
//     first: a later stop request then never touches the driver;
//   - the stop hook (the future was dropped, or its consumer asked it to stop),
//     when it gets there first: it unlinks the timer and settles the sleep
//     with CancelledError; Fire, if it was already running, leaves the
//     reference to the hook, which drops it once its driver call returned.
class SleepNode final : public SharedState<void>, public TimerEntry {
 public:
  static Future<void> Start(executor::Executor* e, Nanos deadline) {
    void* memory = task::AllocateBlock(sizeof(SleepNode));
    auto* node = new (memory) SleepNode(e);
    node->alloc_size = sizeof(SleepNode);
    node->set_stop_hook(&node->stop_hook_);
    switch (e->timers().insert(node, deadline)) {
      case TimerDriver::Insert::kPending:
        task::NoteWait(task::WaitKind::kTimer);  // For Handle::dump().
        break;
      case TimerDriver::Insert::kDue:
        node->free_without_result();
        e->drop_ref();
        return make_ready_future();
      case TimerDriver::Insert::kShutDown:
        node->free_without_result();
        e->drop_ref();
        return make_error_future<void>(ShutDown("sleep"));
    }
    Future<void> f = nanorun::detail::FutureAccess::from_state<void>(node);
    // Continuations run on this runtime (until a .via elsewhere).
    nanorun::detail::FutureAccess::set_via(f, e);
    return f;
  }

 private:
  enum : int { kArmed, kStopping, kFired };

  explicit SleepNode(executor::Executor* e) : TimerEntry(&Fire), executor_(e) {
    e->retain();  // Dropped by Fire or by OnStop (see the class comment).
  }

  static void Fire(TimerEntry* entry, bool cancelled) {
    auto* node = static_cast<SleepNode*>(entry);
    int armed = kArmed;
    // Read before Publish, which may hand the node to a consumer that frees it.
    executor::Executor* drop =
        node->phase_.compare_exchange_strong(armed, kFired, std::memory_order_acq_rel)
            ? node->executor_
            : nullptr;  // The stop hook holds it and drops it.
    node->settle(cancelled ? ShutDown("sleep") : absl::OkStatus());
    // Inside the driver, whose runtime the firing thread keeps alive: never the
    // last reference here.
    if (drop != nullptr) drop->drop_ref();
  }

  // Unlinks the timer now (O(1)), so a sleep nobody waits for holds no memory
  // until its deadline, and settles the sleep as stopped.
  static StopStep OnStop(StateBase* state) {
    auto* node = static_cast<SleepNode*>(static_cast<SharedState<void>*>(state));
    int armed = kArmed;
    if (node->phase_.compare_exchange_strong(armed, kStopping, std::memory_order_acq_rel)) {
      executor::Executor* e = node->executor_;
      // Not unlinked: it is firing right now, and Fire settles it.
      if (e->timers().cancel(node)) {
        node->settle(absl::CancelledError("nanorun::time::sleep: stopped before its deadline"));
      }
      e->drop_ref();
    }
    return StopStep{nullptr, nullptr, /*stoppable=*/true};
  }

  void settle(absl::Status status) {
    store(std::move(status));
    if (Continuation* c = nanorun::detail::Publish<void>(this)) {
      nanorun::detail::Dispatch(c, this);
    }
  }

  executor::Executor* executor_;  // Holds a reference while phase_ says so.
  std::atomic<int> phase_{kArmed};
  nanorun::detail::StopHookFn stop_hook_ = &OnStop;
};

// timeout(): the race between the inner future and the deadline. The
// output state is separate, because its consumer may free it while the
// losing side still runs; this node is freed by whichever of the two
// sides (inner done, timer done) finishes last.
//
// When the deadline comes first, the inner future is asked to stop. If it can
// (a sleep, a socket operation, a chain of them), the race waits for it, which
// is prompt: it settles CancelledError (reported as DeadlineExceeded) if it
// stopped before doing its work, or with its result if it was completing (a
// read that got its bytes returns them: none is lost). If it cannot (it waits
// on a Promise), the output fails with DeadlineExceeded at once and the inner
// result is dropped when it comes.
template <class T>
class TimeoutRace final : public StopGate, public TimerEntry, public task::BlockCached {
 public:
  static Future<T> Start(executor::Executor* e, Nanos deadline, Nanos limit, Future<T> inner) {
    void* memory = task::AllocateBlock(sizeof(Output));
    auto* out = new (memory) Output();
    out->alloc_size = sizeof(Output);
    auto* race = new TimeoutRace(e, out, limit);
    out->race = race;
    out->set_stop_hook(&out->stop_hook);
    // All set up before the timer is in the wheel: from then on it may fire on
    // another worker and ask the inner future to stop at once.
    SharedState<T>* in = nanorun::detail::FutureAccess::release_state(inner);
    race->await_fresh(in);
    // Staged, not in the wheel yet, while on a worker: the inner future
    // usually settles within this turn (the RPC deadline pattern), and then
    // the timer never touches the wheel or its lock.
    switch (e->timers().insert_staged(race, deadline)) {
      case TimerDriver::Insert::kPending:
        break;
      case TimerDriver::Insert::kDue:
        race->free_now();
        out->free_without_result();
        nanorun::detail::Abandon(in);
        return make_error_future<T>(race_lost(limit));
      case TimerDriver::Insert::kShutDown:
        race->free_now();
        out->free_without_result();
        nanorun::detail::Abandon(in);
        return make_error_future<T>(ShutDown("timeout"));
    }
    Future<T> result = nanorun::detail::FutureAccess::from_state<T>(out);
    // May run InnerDone at once, if inner completed since the caller looked.
    nanorun::detail::Attach(in, race);
    return result;
  }

 private:
  // The timeout's own future. Its stop hook (the timeout was dropped, or its
  // task aborted) passes the request to the inner future.
  struct Output : SharedState<T> {
    TimeoutRace* race = nullptr;
    nanorun::detail::StopHookFn stop_hook = &OutputStop;
  };

  TimeoutRace(executor::Executor* e, Output* out, Nanos limit)
      : StopGate(&InnerDone), TimerEntry(&DeadlinePassed), executor_(e), output_(out),
        limit_(limit) {
    fires_last = true;  // A tie on the same wake goes to the inner future.
    e->retain();        // For cancel() from wherever inner completes.
  }

  static TimeoutRace* cast(Continuation* c) {
    return static_cast<TimeoutRace*>(static_cast<StopGate*>(c));
  }

  static absl::Status race_lost(Nanos limit) {
    return absl::DeadlineExceededError(absl::StrCat(
        "nanorun::time::timeout: the future did not complete within ",
        absl::FormatDuration(absl::Nanoseconds(limit))));
  }

  // Runs where the inner future completed: it is nanorun's code, not the
  // user's, and the output's own continuation enforces the runtime rules.
  static Continuation* InnerDone(Continuation* self, StateBase* source, bool cancelled,
                                 StateBase** next_source) {
    auto* race = cast(self);
    if (!race->enter_run(cancelled)) return nullptr;  // A stop request runs it.
    auto* in = static_cast<SharedState<T>*>(source);
    if (race->executor_->timers().cancel(race)) {
      // The common case: the timer is unlinked (O(1)) and will never fire,
      // so nothing else races with us.
      Continuation* next = race->publish(in->take_and_free(), next_source);
      race->release();
      return next;
    }
    // The timer is firing right now (or fired): settle who won.
    Continuation* next = nullptr;
    if (!race->settled_.exchange(true, std::memory_order_acq_rel)) {
      Result<T> r = in->take_and_free();
      // Stopped by our deadline: report it as the deadline it is.
      if (!r.ok() && absl::IsCancelled(nanorun::detail::StatusOf(r)) &&
          race->stopped_.load(std::memory_order_acquire)) {
        r = Result<T>(race_lost(race->limit_));
      }
      next = race->publish(std::move(r), next_source);
    } else {
      in->destroy_and_free();  // The deadline won; this result is dropped.
    }
    race->side_done();
    return next;
  }

  static void DeadlinePassed(TimerEntry* entry, bool cancelled) {
    auto* race = static_cast<TimeoutRace*>(entry);
    if (!cancelled) {
      race->stopped_.store(true, std::memory_order_release);
      // Stoppable: the inner future settles soon (maybe already did, inside
      // this call) and InnerDone reports it.
      if (nanorun::detail::StopAwaited(race)) return race->side_done();
    }
    if (race->settled_.exchange(true, std::memory_order_acq_rel)) {
      race->side_done();
      return;
    }
    StateBase* source = nullptr;
    Continuation* c = race->publish(
        Result<T>(nanorun::detail::NonOk(cancelled ? ShutDown("timeout") : race_lost(race->limit_))),
        &source);
    race->side_done();
    if (c != nullptr) nanorun::detail::Dispatch(c, source);
  }

  // The output's consumer asks it to stop: ask the inner future (the timer
  // goes when it settles). Done here rather than by returning it as upstream,
  // so this call is the last that touches the race (see release()).
  static StopStep OutputStop(StateBase* self) {
    TimeoutRace* race = static_cast<Output*>(static_cast<SharedState<T>*>(self))->race;
    bool stoppable = nanorun::detail::StopAwaited(race);
    if (race->hook_.exchange(kHookDone, std::memory_order_acq_rel) == kRaceDone) race->free_now();
    return StopStep{nullptr, nullptr, stoppable};
  }

  Continuation* publish(Result<T> r, StateBase** next_source) {
    Output* out = output_;
    out->store(std::move(r));
    *next_source = out;
    uint32_t old = 0;
    Continuation* next = nanorun::detail::Publish<T>(out, &old);
    // A stop request saw no result yet: OutputStop runs (or will), reading
    // this race; the later of it and release() frees the race.
    hook_may_run_ = old & StateBase::kStopRequested;
    return next;
  }

  // Each side (inner done, timer fired) calls this once when the timer
  // could not be cancelled; the second one releases the node.
  void side_done() {
    if (sides_.fetch_sub(1, std::memory_order_acq_rel) == 1) release();
  }
  void release() {
    if (hook_may_run_ && hook_.exchange(kRaceDone, std::memory_order_acq_rel) != kHookDone) {
      return;  // OutputStop frees it.
    }
    free_now();
  }
  void free_now() {
    executor::Executor* e = executor_;
    delete this;
    e->drop_ref();
  }

  static constexpr int kHookDone = 1, kRaceDone = 2;

  executor::Executor* executor_;  // Holds a reference.
  Output* output_;
  Nanos limit_;
  std::atomic<bool> settled_{false};
  std::atomic<bool> stopped_{false};  // The deadline passed and asked inner to stop.
  std::atomic<int> sides_{2};
  bool hook_may_run_ = false;  // Written by publish(), read after the sides agree.
  std::atomic<int> hook_{0};
};

template <class Rep, class Period>
absl::Duration FromChrono(std::chrono::duration<Rep, Period> d) {
  using Source = std::chrono::duration<Rep, Period>;
  // Beyond what nanoseconds hold: as good as forever for a timer.
  if (d >= std::chrono::duration_cast<Source>(std::chrono::nanoseconds::max())) {
    return absl::InfiniteDuration();
  }
  if (d <= std::chrono::duration_cast<Source>(std::chrono::nanoseconds::min())) {
    return -absl::InfiniteDuration();
  }
  return absl::Nanoseconds(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
}

}  // namespace detail

// The current time on this runtime's clock (a ManualClock's in tests);
// absl::Now() off a runtime.
inline absl::Time now() {
  executor::Executor* e = executor::Executor::current();
  return e != nullptr ? e->timers().clock().wall_now() : absl::Now();
}

// Completes `d` from now (at once for d <= 0).
inline Future<void> sleep(absl::Duration d) {
  executor::Executor* e = executor::Executor::current();
  if (e == nullptr) return make_error_future<void>(detail::OffRuntime("sleep"));
  if (d <= absl::ZeroDuration()) return make_ready_future();
  return detail::SleepNode::Start(e, AddSaturating(e->timers().clock().now(), d));
}

// Completes at `t` on this runtime's wall-clock scale (time::now()); the
// wait is measured on the monotonic clock, so later wall-clock steps do not
// move it.
inline Future<void> sleep_until(absl::Time t) {
  executor::Executor* e = executor::Executor::current();
  if (e == nullptr) return make_error_future<void>(detail::OffRuntime("sleep_until"));
  const Clock& clock = e->timers().clock();
  absl::Duration wait = t - clock.wall_now();
  if (wait <= absl::ZeroDuration()) return make_ready_future();
  return detail::SleepNode::Start(e, AddSaturating(clock.now(), wait));
}

// `inner`'s result, or DeadlineExceeded if `d` passes first (the inner
// future's later result is then dropped). If both become ready on the same
// wake, the inner result wins. When inner completes first its timer is
// unlinked at once (O(1)). An already-ready inner is returned as it is.
template <class T>
Future<T> timeout(absl::Duration d, Future<T> inner) {
  executor::Executor* e = executor::Executor::current();
  if (e == nullptr) return make_error_future<T>(detail::OffRuntime("timeout"));
  if (!inner.valid()) {
    return make_error_future<T>(absl::FailedPreconditionError(
        "nanorun::time::timeout: the future to limit is empty (default-constructed "
        "or moved-from)"));
  }
  if (inner.is_ready()) return inner;
  if (d <= absl::ZeroDuration()) {
    return make_error_future<T>(absl::DeadlineExceededError(
        "nanorun::time::timeout: the time limit was not positive, and the "
        "future was not ready"));
  }
  Nanos limit = absl::ToInt64Nanoseconds(d);  // Saturates.
  return detail::TimeoutRace<T>::Start(e, AddSaturating(e->timers().clock().now(), limit),
                                       limit, std::move(inner));
}

// The same for a task: a JoinHandle<T> is usable wherever a Future<T> is.
template <class T>
Future<T> timeout(absl::Duration d, JoinHandle<T> inner) {
  return timeout(d, std::move(inner).into_future());
}

// Ticks every `period`: the first tick() completes at once, the k-th at
// start + k * period. Missed ticks are skipped, not delivered in a burst:
// a caller that falls more than a period behind gets one tick at once, and
// the ticks after it stay on the original grid (tokio's
// MissedTickBehavior::Skip). Move-only; tick() may be called from any
// thread once created on a runtime.
class Interval {
 public:
  Interval() = default;
  // Move-only; a moved-from Interval's tick() fails with FailedPrecondition.
  Interval(Interval&& other) noexcept { *this = std::move(other); }
  Interval& operator=(Interval&& other) noexcept {
    if (this != &other) {
      reset();
      e_ = std::exchange(other.e_, nullptr);
      period_ = other.period_;
      next_ = other.next_;
      error_ = std::move(other.error_);
    }
    return *this;
  }
  ~Interval() { reset(); }

  // The next tick (one outstanding tick at a time is the intended use).
  Future<void> tick() {
    if (e_ == nullptr) {
      return make_error_future<void>(
          error_.ok() ? absl::FailedPreconditionError(
                            "Interval::tick on an empty (default-constructed or "
                            "moved-from) Interval; make one with time::interval()")
                      : error_);
    }
    Nanos now = e_->timers().clock().now();
    Nanos due = next_;
    if (due <= now) {
      Nanos missed = (now - due) / period_;
      next_ = due + (missed + 1) * period_;
      return make_ready_future();
    }
    next_ = due + period_;
    return detail::SleepNode::Start(e_, due);
  }

  // The period it was made with.
  absl::Duration period() const { return absl::Nanoseconds(period_); }

 private:
  friend Interval interval(absl::Duration period);
  void reset() {
    if (e_ != nullptr) std::exchange(e_, nullptr)->drop_ref();
  }

  executor::Executor* e_ = nullptr;  // Holds a reference.
  Nanos period_ = 0;
  Nanos next_ = 0;
  absl::Status error_;  // Why e_ is null, when interval() failed.
};

// Ticks every `period` on the current runtime, the first tick at once;
// see Interval for what a late tick does. Off a runtime, or with a period
// that is not positive and finite, every tick() fails with the reason.
inline Interval interval(absl::Duration period) {
  Interval out;
  executor::Executor* e = executor::Executor::current();
  if (e == nullptr) {
    out.error_ = detail::OffRuntime("interval");
  } else if (period <= absl::ZeroDuration() || period == absl::InfiniteDuration()) {
    out.error_ = absl::InvalidArgumentError(absl::StrCat(
        "nanorun::time::interval: the period must be positive and finite, got ",
        absl::FormatDuration(period)));
  } else {
    e->retain();
    out.e_ = e;
    out.period_ = absl::ToInt64Nanoseconds(period);
    out.next_ = e->timers().clock().now();
  }
  return out;
}

// std::chrono overloads.
template <class Rep, class Period>
Future<void> sleep(std::chrono::duration<Rep, Period> d) {
  return sleep(detail::FromChrono(d));
}
template <class T, class Rep, class Period>
// timeout(), with a std::chrono duration.
Future<T> timeout(std::chrono::duration<Rep, Period> d, Future<T> inner) {
  return timeout(detail::FromChrono(d), std::move(inner));
}
template <class T, class Rep, class Period>
// timeout() on a task, with a std::chrono duration.
Future<T> timeout(std::chrono::duration<Rep, Period> d, JoinHandle<T> inner) {
  return timeout(detail::FromChrono(d), std::move(inner).into_future());
}
template <class Rep, class Period>
// interval(), with a std::chrono period.
Interval interval(std::chrono::duration<Rep, Period> period) {
  return interval(detail::FromChrono(period));
}
// sleep_until(), with a std::chrono time point.
inline Future<void> sleep_until(std::chrono::system_clock::time_point t) {
  return sleep_until(absl::FromChrono(t));
}

}  // namespace time
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_FUTURE_TIMERS_H_
