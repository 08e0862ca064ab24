// Combinators over futures: when_all (first error wins), when_any (first to
// settle wins) and repeat (the loop idiom without coroutines).
//
// Each input's continuation follows the usual policy (future.h): attached on
// a worker it runs on that runtime, attached elsewhere it runs where the
// input completes. Results are combined with atomics; no locks.
#ifndef NANORUN_FUTURE_COMBINATORS_H_
#define NANORUN_FUTURE_COMBINATORS_H_

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "nanorun/future/future.h"
#include "nanorun/future/runtime.h"  // yield_now, for repeat's budget

namespace nanorun {
inline namespace v0 {

namespace detail {
// void has no value to store; combinators use std::monostate in its place.
template <class T>
using ValueOrUnit = std::conditional_t<std::is_void<T>::value, std::monostate, T>;

// Calls attach(integral_constant<I>, future_I) for each future.
template <class Attach, size_t... I, class... Fs>
void ForEachIndexed(Attach& attach, std::index_sequence<I...>, Fs&&... fs) {
  (attach(std::integral_constant<size_t, I>{}, std::forward<Fs>(fs)), ...);
}

// Asks a combinator's inputs to stop once its result is decided (when_all's
// first error, when_any's first input to settle): their results no longer
// matter. The watchers (the combinator's continuation on each input) are
// added before any stop, so the list is complete and never resized when read.
class InputStopper {
 public:
  explicit InputStopper(size_t n) { watchers_.reserve(n); }
  void add(Future<void> watcher) { watchers_.push_back(std::move(watcher)); }
  // Once, by the input that decided the result.
  void decided() {
    if (phase_.fetch_or(kDecided, std::memory_order_acq_rel) & kAttached) stop_all();
  }
  // Once, after the last add().
  void attached() {
    if (phase_.fetch_or(kAttached, std::memory_order_acq_rel) & kDecided) stop_all();
  }
  // The combinator's own future was asked to stop (after every add()).
  // Returns whether any input will settle soon: the first one to settle
  // decides the combinator's result (when_any's winner, when_all's error).
  bool stop_now() { return stop_all(); }

 private:
  static constexpr int kDecided = 1, kAttached = 2;
  // Each input that can stop settles soon with CancelledError, which its
  // watcher drops; the others run to their end, unobserved.
  bool stop_all() {
    bool any = false;
    for (Future<void>& w : watchers_) any = w.request_stop() || any;
    return any;
  }
  std::vector<Future<void>> watchers_;
  std::atomic<int> phase_{0};
};

// What when_all and when_any share: the inputs' stopper and the combinator's
// own future, whose stop hook stops the inputs. Owned by shared_ptr (the
// inputs' continuations hold it); the future's state is the consumer's.
//
// Lifetime of the hook: a stop request that found no result yet runs OnStop,
// which reads this object, while the input that settles the future may be
// finishing (and dropping the last reference) on another thread. settle()
// sees that (kStopRequested in the flags it replaced) and parks a reference in
// self_keep_; whichever of the two ends last lets it go.
template <class Out>
class CombinatorBase : public std::enable_shared_from_this<CombinatorBase<Out>> {
 public:
  explicit CombinatorBase(size_t inputs) : stopper(inputs) {}
  CombinatorBase(const CombinatorBase&) = delete;
  CombinatorBase& operator=(const CombinatorBase&) = delete;
  virtual ~CombinatorBase() {
    // Every combinator settles before its last input lets go (InputLink); this
    // only keeps a bug from leaving a consumer waiting forever.
    if (out_ != nullptr) settle_unchecked(Result<Out>(absl::InternalError(
                             "nanorun combinator destroyed before it settled")));
  }

  // Once, before any input is attached.
  Future<Out> future() {
    void* memory = task::AllocateBlock(sizeof(Output));
    out_ = new (memory) Output();
    out_->alloc_size = sizeof(Output);
    out_->owner = this;
    out_->set_stop_hook(&out_->hook);
    return nanorun::detail::FutureAccess::from_state<Out>(out_);
  }
  // Settles the future, unless it was settled already; true if this call did.
  // The caller holds a reference to this object.
  bool try_settle(Result<Out> r) {
    if (settled_.exchange(true, std::memory_order_acq_rel)) return false;
    settle(std::move(r));
    return true;
  }
  bool is_settled() const { return settled_.load(std::memory_order_acquire); }

  InputStopper stopper;

 protected:
  // The combinator's future was asked to stop: asks its inputs to stop, and
  // returns whether it will settle soon. The default stops every input in
  // `stopper`; a combinator that starts its inputs over time (for_each_concurrent)
  // has its own. Runs no user code.
  virtual bool stop_inputs() { return stopper.stop_now(); }

 private:
  void settle(Result<Out> r) {
    uint32_t old = 0;
    Output* out = out_;
    Continuation* c = publish(std::move(r), &old);
    if (old & StateBase::kStopRequested) {
      self_keep_ = this->shared_from_this();
      if (hook_.exchange(kSettled, std::memory_order_acq_rel) == kHookDone) self_keep_.reset();
    }
    if (c != nullptr) Dispatch(c, out);
  }

  struct Output : SharedState<Out> {
    CombinatorBase* owner = nullptr;
    StopHookFn hook = &OnStop;
  };
  static constexpr int kHookDone = 1, kSettled = 2;

  Continuation* publish(Result<Out> r, uint32_t* old) {
    Output* out = std::exchange(out_, nullptr);
    out->store(std::move(r));
    return Publish<Out>(out, old);
  }
  void settle_unchecked(Result<Out> r) {
    Output* out = out_;
    if (Continuation* c = publish(std::move(r), nullptr)) Dispatch(c, out);
  }

  static StopStep OnStop(StateBase* self) {
    CombinatorBase* owner = static_cast<Output*>(static_cast<SharedState<Out>*>(self))->owner;
    bool stoppable = owner->stop_inputs();
    if (owner->hook_.exchange(kHookDone, std::memory_order_acq_rel) == kSettled) {
      std::shared_ptr<CombinatorBase> last = std::move(owner->self_keep_);  // May free owner.
    }
    return StopStep{nullptr, nullptr, stoppable};
  }

  Output* out_ = nullptr;  // Until settled.
  std::atomic<bool> settled_{false};
  std::atomic<int> hook_{0};
  std::shared_ptr<CombinatorBase> self_keep_;
};

// An input's hold on its combinator, in the continuation attached to the
// input. A continuation can be destroyed without running (the runtime it was
// bound to shut down); the link then settles the combinator with
// CancelledError while it still holds its reference, so a combinator never
// goes away unsettled (its stop hook relies on that; see CombinatorBase).
template <class Owner>
class InputLink {
 public:
  explicit InputLink(std::shared_ptr<Owner> owner) : owner_(std::move(owner)) {}
  InputLink(InputLink&&) noexcept = default;
  InputLink& operator=(InputLink&&) = delete;
  ~InputLink() {
    if (owner_ != nullptr && !ran_) {
      owner_->try_settle(absl::CancelledError(
          "an input's continuation was dropped before it ran (the runtime it was bound to "
          "shut down)"));
    }
  }
  // The continuation runs: it settles the combinator itself.
  Owner& ran() {
    ran_ = true;
    return *owner_;
  }

 private:
  std::shared_ptr<Owner> owner_;
  bool ran_ = false;
};

template <class T>
ValueOrUnit<T> TakeValue(Result<T>& r) {
  if constexpr (std::is_void<T>::value) {
    return std::monostate{};
  } else {
    return std::move(*r);
  }
}

// An empty input never settles, so it would hang the combinator; it takes
// part as an error instead.
template <class T>
Future<T> NonEmpty(Future<T> f, const char* combinator, size_t index) {
  if (f.valid()) return f;
  return make_error_future<T>(absl::FailedPreconditionError(
      std::string(combinator) + ": input " + std::to_string(index) +
      " is an empty Future (default-constructed or moved-from)"));
}
}  // namespace detail

// All of `futures`, in order; fails with the first error as soon as it
// happens, and asks the other inputs to stop (those that cannot stop run to
// completion, unobserved). An empty
// vector gives an empty result at once. Future<void> inputs give
// Future<void>.
template <class T>
auto when_all(std::vector<Future<T>> futures) {
  using Out = std::conditional_t<std::is_void<T>::value, void, std::vector<T>>;
  if (futures.empty()) {
    if constexpr (std::is_void<T>::value) {
      return make_ready_future();
    } else {
      return make_ready_future(std::vector<T>());
    }
  }
  struct Shared : detail::CombinatorBase<Out> {
    explicit Shared(size_t n) : detail::CombinatorBase<Out>(n), values(n), remaining(n) {}
    std::vector<std::optional<detail::ValueOrUnit<T>>> values;
    std::atomic<size_t> remaining;
  };
  auto shared = std::make_shared<Shared>(futures.size());
  Future<Out> result = shared->future();
  for (size_t i = 0; i < futures.size(); ++i) {
    shared->stopper.add(detail::NonEmpty(std::move(futures[i]), "when_all", i).then_result(
        [link = detail::InputLink<Shared>(shared), i](detail::Result<T> r) mutable {
          Shared& s = link.ran();
          if (!r.ok()) {
            if (s.try_settle(detail::Result<Out>(detail::StatusOf(r)))) s.stopper.decided();
          } else {
            s.values[i] = detail::TakeValue<T>(r);
          }
          if (s.remaining.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
          if constexpr (std::is_void<T>::value) {
            s.try_settle(absl::OkStatus());
          } else if (!s.is_settled()) {  // Not failed: every value is there.
            std::vector<T> out;
            out.reserve(s.values.size());
            for (auto& v : s.values) out.push_back(std::move(*v));
            s.try_settle(std::move(out));
          }
        }));
  }
  shared->stopper.attached();
  return result;
}

// All of the futures, as a tuple (void members become std::monostate);
// fails with the first error.
template <class... Ts>
Future<std::tuple<detail::ValueOrUnit<Ts>...>> when_all(Future<Ts>... futures) {
  using Tuple = std::tuple<detail::ValueOrUnit<Ts>...>;
  struct Shared : detail::CombinatorBase<Tuple> {
    Shared() : detail::CombinatorBase<Tuple>(sizeof...(Ts)) {}
    std::tuple<std::optional<detail::ValueOrUnit<Ts>>...> values;
    std::atomic<size_t> remaining{sizeof...(Ts)};
  };
  auto shared = std::make_shared<Shared>();
  Future<Tuple> result = shared->future();
  auto attach = [&](auto index, auto future) {
    using T = typename decltype(future)::value_type;
    constexpr size_t kIndex = decltype(index)::value;
    shared->stopper.add(detail::NonEmpty(std::move(future), "when_all", kIndex).then_result(
        [link = detail::InputLink<Shared>(shared)](detail::Result<T> r) mutable {
          Shared& s = link.ran();
          if (!r.ok()) {
            if (s.try_settle(detail::Result<Tuple>(detail::StatusOf(r)))) s.stopper.decided();
          } else {
            std::get<kIndex>(s.values) = detail::TakeValue<T>(r);
          }
          if (s.remaining.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
          if (s.is_settled()) return;  // Failed.
          s.try_settle(std::apply([](auto&... v) { return Tuple(std::move(*v)...); }, s.values));
        }));
  };
  if constexpr (sizeof...(Ts) == 0) {
    shared->try_settle(Tuple());
  } else {
    detail::ForEachIndexed(attach, std::index_sequence_for<Ts...>{},
                           std::move(futures)...);
    shared->stopper.attached();
  }
  return result;
}

namespace detail {
template <class X>
Future<X> AsFuture(Future<X> f) {
  return f;
}
template <class X>
Future<X> AsFuture(JoinHandle<X> h) {
  return std::move(h).into_future();
}
template <class X>
std::vector<Future<X>> AsFutures(std::vector<JoinHandle<X>> handles) {
  std::vector<Future<X>> out;
  out.reserve(handles.size());
  for (JoinHandle<X>& h : handles) out.push_back(std::move(h).into_future());
  return out;
}
}  // namespace detail

// when_all over tasks, exactly as over futures.
template <class T>
auto when_all(std::vector<JoinHandle<T>> handles) {
  return when_all(detail::AsFutures(std::move(handles)));
}

// when_all over a mix of futures and join handles (a JoinHandle<T> is usable
// wherever a Future<T> is).
template <class... Fs,
          class = std::enable_if_t<(detail::IsJoinHandle<std::decay_t<Fs>>::value || ...)>>
auto when_all(Fs&&... fs) {
  return when_all(detail::AsFuture(std::forward<Fs>(fs))...);
}

// The first of `futures` to settle, with its index; an error settles too.
// The other inputs are then asked to stop (those that cannot stop run to
// completion, unobserved).
// An empty vector fails with InvalidArgument. Future<void> inputs give
// Future<size_t>.
template <class T>
auto when_any(std::vector<Future<T>> futures) {
  using Out = std::conditional_t<std::is_void<T>::value, size_t,
                                 std::pair<size_t, detail::ValueOrUnit<T>>>;
  if (futures.empty()) {
    return make_error_future<Out>(absl::InvalidArgumentError(
        "when_any of an empty vector can never complete"));
  }
  using Shared = detail::CombinatorBase<Out>;
  auto shared = std::make_shared<Shared>(futures.size());
  Future<Out> result = shared->future();
  for (size_t i = 0; i < futures.size(); ++i) {
    shared->stopper.add(detail::NonEmpty(std::move(futures[i]), "when_any", i).then_result(
        [link = detail::InputLink<Shared>(shared), i](detail::Result<T> r) mutable {
          Shared& s = link.ran();
          if (s.is_settled()) return;
          bool first;
          if (!r.ok()) {
            first = s.try_settle(detail::Result<Out>(detail::StatusOf(r)));
          } else if constexpr (std::is_void<T>::value) {
            first = s.try_settle(i);
          } else {
            first = s.try_settle(Out(i, std::move(*r)));
          }
          if (first) s.stopper.decided();
        }));
  }
  shared->stopper.attached();
  return result;
}

// when_any over tasks, exactly as over futures.
template <class T>
auto when_any(std::vector<JoinHandle<T>> handles) {
  return when_any(detail::AsFutures(std::move(handles)));
}

namespace detail {
// Steps of one repeat loop that may run back to back before it yields.
// Incidental (tokio's figure): small enough that timers stay within a tick or
// so behind a busy loop, large enough that the yield costs nothing measurable.
constexpr int kRepeatBudget = 128;
}  // namespace detail

// Calls f() (returning Future<bool>, or bool) again and again until it yields
// true, or fails (the loop then fails with that error). Each step starts
// after the previous one settled; steps that are ready at once run in a
// loop, not by recursion. On a worker, after kRepeatBudget steps in a row that
// were ready at once (a connection whose reads always find data), the loop
// yields: it goes on behind the work already queued, so one busy loop cannot
// hold a worker, and the timers, I/O and tasks waiting for it (tokio gives a
// task 128 operations the same way).
//
// The loop is one allocation: its own future's state, and the continuation
// attached to each pending step (through a StopGate, so a stop request on the
// loop goes on to the step in flight, and no further step starts). The
// output's consumer frees it once the loop settled. Like any continuation
// attached on a worker, it resumes on that runtime.
template <class F>
Future<void> repeat(F f) {
  // The loop's output state, its current step's gate and the user's function
  // in one allocation, freed by the output's consumer once the loop settled.
  class Loop final : public detail::SharedState<void>, public detail::StopGate {
   public:
    static Future<void> Start(F fn) {
      void* memory = task::AllocateBlock(sizeof(Loop));
      auto* loop = new (memory) Loop(std::move(fn));
      loop->alloc_size = sizeof(Loop);
      loop->set_stop_gate(loop);  // A stop goes on to the current step.
      Future<void> out = nanorun::detail::FutureAccess::from_state<void>(loop);
      loop->run();
      return out;
    }

   private:
    explicit Loop(F fn) : StopGate(&Resume) { new (&f_) F(std::move(fn)); }
    ~Loop() {}  // Never runs: the output state frees the allocation.

    static Loop* cast(Continuation* c) {
      return static_cast<Loop*>(static_cast<detail::StopGate*>(c));
    }

    // Runs steps until one is pending (then the loop waits, attached to it)
    // or the loop ends (then it settles its output).
    void run() {
      for (int steps = 1;; ++steps) {
        if (stop_requested()) {
          return end(absl::CancelledError("repeat: stopped (no further step was started)"));
        }
        Future<bool> next = detail::CallToFuture<bool>(f_);
        if (next.is_ready() && steps >= detail::kRepeatBudget &&
            executor::Executor::current() != nullptr) {
          // Out of budget: finish this step, then go on after a yield_now (a
          // step that is pending, settling with this step's result).
          executor::Executor::count_budget_yield();
          next = yield_now().then_result(
              [r = next.take_result()](absl::Status) mutable { return std::move(r); });
        }
        if (!next.is_ready()) {
          detail::SharedState<bool>* step = nanorun::detail::FutureAccess::release_state(next);
          bind_to(executor::Executor::current());
          if (!await(step)) {
            // Asked to stop while f ran: the step it started is asked too,
            // and a loop never waits on a step that cannot stop.
            if (!detail::RequestStop(step)) {
              detail::Abandon(step);
              bind_to(nullptr);
              return end(absl::CancelledError(
                  "repeat: stopped; its current step cannot be stopped and was dropped"));
            }
            await_stopped(step);
          }
          detail::Attach(step, this);
          return;
        }
        if (settle(next.take_result())) return;
      }
    }

    static Continuation* Resume(Continuation* self, detail::StateBase* source,
                                bool cancelled, detail::StateBase**) {
      Loop* loop = cast(self);
      if (!cancelled && !detail::RunsHere(loop->executor_)) {
        detail::PostTo(loop->executor_, self, source);  // Resumes there.
        return nullptr;
      }
      if (!loop->enter_run(cancelled)) return nullptr;  // A stop request resumes it.
      absl::StatusOr<bool> r =
          static_cast<detail::SharedState<bool>*>(source)->take_and_free();
      // The binding stays for the next step: run() binds to the same worker's
      // runtime again (no reference dropped and taken per step), and end()
      // drops it.
      if (cancelled) {
        r = absl::CancelledError(
            "repeat: the runtime this loop was bound to shut down");
      }
      if (!loop->settle(std::move(r))) loop->run();
      return nullptr;
    }

    // Binds the next resumption to `e` (holding a reference), or unbinds.
    void bind_to(executor::Executor* e) {
      if (e == executor_) return;
      if (e != nullptr) e->retain();
      if (executor_ != nullptr) executor_->drop_ref();
      executor_ = e;
    }

    // Returns true when the loop is over (and settled).
    bool settle(absl::StatusOr<bool> r) {
      if (!r.ok()) {
        end(r.status());
        return true;
      }
      if (*r) end(absl::OkStatus());
      return *r;
    }

    // Destroys the loop's own parts, then settles the output (whose consumer
    // may free the allocation at once).
    void end(absl::Status status) {
      f_.~F();
      bind_to(nullptr);
      store(std::move(status));
      if (detail::Continuation* c = detail::Publish<void>(this)) detail::Dispatch(c, this);
    }

    union {
      F f_;  // Destroyed by end().
    };
    executor::Executor* executor_ = nullptr;  // Bound runtime, with a reference.
  };
  return Loop::Start(std::move(f));
}

}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_FUTURE_COMBINATORS_H_
