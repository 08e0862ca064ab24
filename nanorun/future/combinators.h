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
// happens (the other inputs still run to completion, unobserved). An empty
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
  struct Shared {
    explicit Shared(size_t n) : values(n), remaining(n) {}
    std::vector<std::optional<detail::ValueOrUnit<T>>> values;
    std::atomic<size_t> remaining;
    std::atomic<bool> failed{false};
    Promise<Out> promise;
  };
  auto shared = std::make_shared<Shared>(futures.size());
  Future<Out> result = shared->promise.get_future();
  for (size_t i = 0; i < futures.size(); ++i) {
    Future<void> ignored = detail::NonEmpty(std::move(futures[i]), "when_all", i).then_result(
        [shared, i](detail::Result<T> r) {
          if (!r.ok()) {
            if (!shared->failed.exchange(true, std::memory_order_acq_rel)) {
              shared->promise.set_error(detail::StatusOf(r));
            }
          } else {
            shared->values[i] = detail::TakeValue<T>(r);
          }
          if (shared->remaining.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
          if (shared->failed.load(std::memory_order_acquire)) return;
          if constexpr (std::is_void<T>::value) {
            shared->promise.set_value();
          } else {
            std::vector<T> out;
            out.reserve(shared->values.size());
            for (auto& v : shared->values) out.push_back(std::move(*v));
            shared->promise.set_value(std::move(out));
          }
        });
  }
  return result;
}

// All of the futures, as a tuple (void members become std::monostate);
// fails with the first error.
template <class... Ts>
Future<std::tuple<detail::ValueOrUnit<Ts>...>> when_all(Future<Ts>... futures) {
  using Tuple = std::tuple<detail::ValueOrUnit<Ts>...>;
  struct Shared {
    std::tuple<std::optional<detail::ValueOrUnit<Ts>>...> values;
    std::atomic<size_t> remaining{sizeof...(Ts)};
    std::atomic<bool> failed{false};
    Promise<Tuple> promise;
  };
  auto shared = std::make_shared<Shared>();
  Future<Tuple> result = shared->promise.get_future();
  auto finish = [shared] {
    if (shared->remaining.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    if (shared->failed.load(std::memory_order_acquire)) return;
    shared->promise.set_value(std::apply(
        [](auto&... v) { return Tuple(std::move(*v)...); }, shared->values));
  };
  auto attach = [&](auto index, auto future) {
    using T = typename decltype(future)::value_type;
    constexpr size_t kIndex = decltype(index)::value;
    Future<void> ignored = detail::NonEmpty(std::move(future), "when_all", kIndex).then_result(
        [shared, finish](detail::Result<T> r) {
          if (!r.ok()) {
            if (!shared->failed.exchange(true, std::memory_order_acq_rel)) {
              shared->promise.set_error(detail::StatusOf(r));
            }
          } else {
            std::get<kIndex>(shared->values) = detail::TakeValue<T>(r);
          }
          finish();
        });
  };
  if constexpr (sizeof...(Ts) == 0) {
    shared->promise.set_value(Tuple());
  } else {
    detail::ForEachIndexed(attach, std::index_sequence_for<Ts...>{},
                           std::move(futures)...);
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
  struct Shared {
    std::atomic<bool> settled{false};
    Promise<Out> promise;
  };
  auto shared = std::make_shared<Shared>();
  Future<Out> result = shared->promise.get_future();
  for (size_t i = 0; i < futures.size(); ++i) {
    Future<void> ignored = detail::NonEmpty(std::move(futures[i]), "when_any", i).then_result(
        [shared, i](detail::Result<T> r) {
          if (shared->settled.exchange(true, std::memory_order_acq_rel)) return;
          if (!r.ok()) {
            shared->promise.set_error(detail::StatusOf(r));
          } else if constexpr (std::is_void<T>::value) {
            shared->promise.set_value(i);
          } else {
            shared->promise.set_value(Out(i, std::move(*r)));
          }
        });
  }
  return result;
}

// when_any over tasks, exactly as over futures.
template <class T>
auto when_any(std::vector<JoinHandle<T>> handles) {
  return when_any(detail::AsFutures(std::move(handles)));
}

// Calls f() (returning Future<bool>, or bool) again and again until it yields
// true, or fails (the loop then fails with that error). Each step starts
// after the previous one settled; steps that are ready at once run in a
// loop, not by recursion. On a worker, after kRepeatBudget steps in a row that
// were ready at once (a connection whose reads always find data), the loop
// yields: it goes on behind the work already queued, so one busy loop cannot
// hold a worker, and the timers, I/O and tasks waiting for it (tokio gives a
// task 128 operations the same way).
//
// The loop is one allocation: it is itself the continuation attached to
// each pending step, so it is owned by whichever step is in flight. Like any
// continuation attached on a worker, it resumes on that runtime.
namespace detail {
// Steps of one repeat loop that may run back to back before it yields.
// Incidental (tokio's figure): small enough that timers stay within a tick or
// so behind a busy loop, large enough that the yield costs nothing measurable.
constexpr int kRepeatBudget = 128;
}  // namespace detail

template <class F>
Future<void> repeat(F f) {
  class Loop final : public detail::Continuation, public task::BlockCached {
   public:
    explicit Loop(F fn) : Continuation{&Resume}, f_(std::move(fn)) {}
    Future<void> result() { return done_.get_future(); }

    // Runs steps until one is pending (then this object waits, attached to
    // it) or the loop ends (then this object is freed).
    void run() {
      for (int steps = 1;; ++steps) {
        Future<bool> next = detail::CallToFuture<bool>(f_);
        if (next.is_ready() && steps >= detail::kRepeatBudget &&
            executor::Executor::current() != nullptr) {
          // Out of budget: finish this step, then go on after a yield_now (a
          // step that is pending, settling with this step's result).
          next = yield_now().then_result(
              [r = next.take_result()](absl::Status) mutable { return std::move(r); });
        }
        if (!next.is_ready()) {
          bind_to(executor::Executor::current());
          detail::Attach(next.release_state(), this);
          return;
        }
        if (settle(next.take_result())) {
          delete this;
          return;
        }
      }
    }

   private:
    static Continuation* Resume(Continuation* self, detail::StateBase* source,
                                bool cancelled, detail::StateBase**) {
      Loop* loop = static_cast<Loop*>(self);
      if (!cancelled && !detail::RunsHere(loop->executor_)) {
        detail::PostTo(loop->executor_, self, source);  // Resumes there.
        return nullptr;
      }
      absl::StatusOr<bool> r =
          static_cast<detail::SharedState<bool>*>(source)->take_and_free();
      loop->bind_to(nullptr);
      if (cancelled) {
        r = absl::CancelledError(
            "repeat: the runtime this loop was bound to shut down");
      }
      if (loop->settle(std::move(r))) {
        delete loop;
      } else {
        loop->run();
      }
      return nullptr;
    }

    // Binds the next resumption to `e` (holding a reference), or unbinds.
    void bind_to(executor::Executor* e) {
      if (e != nullptr) e->retain();
      if (executor_ != nullptr) executor_->drop_ref();
      executor_ = e;
    }

    // Returns true when the loop is over.
    bool settle(absl::StatusOr<bool> r) {
      if (!r.ok()) {
        done_.set_error(r.status());
        return true;
      }
      if (*r) done_.set_value();
      return *r;
    }

    F f_;
    Promise<void> done_;
    executor::Executor* executor_ = nullptr;  // Bound runtime, with a reference.
  };
  auto* loop = new Loop(std::move(f));
  Future<void> result = loop->result();
  loop->run();
  return result;
}

}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_FUTURE_COMBINATORS_H_
