// Future<T> and Promise<T>: values that arrive later, chained with .then().
//
// A Future<T> settles once, with a T or a failing absl::Status (Result<T> is
// absl::StatusOr<T>; absl::Status for void). Both types are move-only.
//
// Continuation policy (docs/futures.md has the full rules and examples):
//  1. A future that is already complete runs a continuation at once, on the
//     thread calling .then(), and allocates nothing.
//  2. Otherwise the continuation is stored and runs when the result arrives:
//     - attached on a worker of runtime R (or after .via(R)): it runs on a
//       worker of R: inline if the result arrives on such a worker, else it
//       is scheduled onto R. It never runs on a foreign thread.
//     - attached on a thread outside any runtime: it runs on whichever
//       thread completes the future.
//  3. Chains run in a loop, never by recursion: a million .then steps on an
//     unfulfilled promise complete on a default 8 MiB stack.
// User callbacks that throw (with exceptions enabled) fail the future they
// produce with absl::UnknownError carrying the exception's message.
#ifndef NANORUN_FUTURE_FUTURE_H_
#define NANORUN_FUTURE_FUTURE_H_

#include <functional>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nanorun/executor/executor.h"
#include "nanorun/future/core.h"
#include "nanorun/sys/misuse.h"
#include "nanorun/task/user_code.h"

namespace nanorun {
inline namespace v0 {

template <class T>
class Future;
template <class T>
class Promise;
template <class T>
class JoinHandle;
class Handle;

template <class T>
Future<T> make_error_future(absl::Status status);
Future<void> make_ready_future();
template <class T>
Future<std::decay_t<T>> make_ready_future(T&& value);

namespace detail {

// How the code that makes futures inside nanorun (promises, combinators,
// timers, sockets, channels, the runtime) reaches Future's private members.
// Not for users: these skip the checks the public members make.
struct FutureAccess {
  template <class T>
  static Future<T> from_result(Result<T> r);
  // A future reading `state`, whose producer is the caller.
  template <class T>
  static Future<T> from_state(SharedState<T>* state);
  // The pending state of `f` (not ready, not empty), handed over to the caller.
  template <class T>
  static SharedState<T>* release_state(Future<T>& f);
  // Continuations on `f` run on `e` (until a .via elsewhere).
  template <class T>
  static void set_via(Future<T>& f, executor::Executor* e);
};

// What a callback's return type R makes the next future hold.
template <class R>
struct Unwrap {
  using type = R;
};
template <class X>
struct Unwrap<Future<X>> {
  using type = X;
};
template <class X>
struct Unwrap<JoinHandle<X>> {
  using type = X;
};
template <class X>
struct Unwrap<absl::StatusOr<X>> {
  using type = X;
};
template <>
struct Unwrap<absl::Status> {
  using type = void;
};

template <class R>
struct IsFuture : std::false_type {};
template <class X>
struct IsFuture<Future<X>> : std::true_type {};
template <class R>
struct IsJoinHandle : std::false_type {};
template <class X>
struct IsJoinHandle<JoinHandle<X>> : std::true_type {};
template <class R>
struct IsStatusOr : std::false_type {};
template <class X>
struct IsStatusOr<absl::StatusOr<X>> : std::true_type {};

inline absl::Status StatusOf(const absl::Status& s) { return s; }
template <class X>
absl::Status StatusOf(const absl::StatusOr<X>& r) {
  return r.status();
}

// A failing status for an error future. An OK status here is a bug in the
// caller; it becomes an error rather than a StatusOr holding nothing.
inline absl::Status NonOk(absl::Status s) {
  if (s.ok()) {
    return absl::InternalError(
        "nanorun: an error future was made from an OK status");
  }
  return s;
}

// Called by the `&`-qualified chaining calls of Future and JoinHandle: they exist
// only to turn `f.then(...)` on a named future into this message.
template <class Dependent>
constexpr void ConsumedByChaining() {
  static_assert(sizeof(Dependent) == 0,
                "then/then_result/on_error/finally/via consume the future or join "
                "handle: call them on an rvalue, e.g. std::move(f).then(...)");
}

// Converts whatever a user callback returned into Future<U>.
template <class U, class R>
Future<U> ToFuture(R&& r) {
  using D = std::decay_t<R>;
  if constexpr (IsFuture<D>::value) {
    if (!r.valid()) {
      // Spelled with U so the call stays dependent (as below).
      return make_error_future<U>(absl::FailedPreconditionError(
          "a callback returned an empty Future (default-constructed or moved-from); "
          "return a future from a promise, make_ready_future or a nanorun call"));
    }
    return std::forward<R>(r);
  } else if constexpr (IsJoinHandle<D>::value) {
    return std::forward<R>(r).into_future();
  } else if constexpr (std::is_same<D, absl::Status>::value) {
    // Spelled with U (== void) so the call stays dependent: Future<void> is
    // not complete yet at this point of the header.
    return detail::FutureAccess::from_result<U>(std::forward<R>(r));
  } else if constexpr (IsStatusOr<D>::value) {
    if (!r.ok()) return make_error_future<U>(r.status());
    return make_ready_future(std::move(*r));
  } else {
    return make_ready_future(std::forward<R>(r));
  }
}

// Calls f(args...) and converts what it returns into Future<U>; an
// exception becomes an error future.
template <class U, class F, class... Args>
Future<U> CallToFuture(F& f, Args&&... args) {
  using R = std::invoke_result_t<F&, Args...>;
#if NANORUN_HAS_EXCEPTIONS
  try {
#endif
    if constexpr (std::is_void<R>::value) {
      std::invoke(f, std::forward<Args>(args)...);
      return detail::FutureAccess::from_result<U>(absl::OkStatus());  // U == void.
    } else {
      return ToFuture<U>(std::invoke(f, std::forward<Args>(args)...));
    }
#if NANORUN_HAS_EXCEPTIONS
  } catch (...) {
    return make_error_future<U>(task::StatusFromCurrentException());
  }
#endif
}

template <class T, class U, class G>
class ChainNode;

// The consumer that detach() attaches: drops the result when it comes.
template <class T>
struct DropResult {
  static Continuation* Run(Continuation*, StateBase* source, bool, StateBase**) {
    static_cast<SharedState<T>*>(source)->destroy_and_free();
    return nullptr;
  }
  static inline Continuation instance{&Run};
};

}  // namespace detail

template <class T>
// A value (or a failing absl::Status) that arrives later: chain work on it
// with then(), then_result(), on_error(), finally() and via(); wait for it
// with block_on() off the runtime. Move-only; [[nodiscard]], because dropping
// a pending future stops the work behind it (docs/cancellation.md).
class [[nodiscard]] Future {
 public:
  // The value a successful future holds (void: none).
  using value_type = T;
  // What it settles with: absl::StatusOr<T> (absl::Status for void).
  using result_type = detail::Result<T>;

  // An empty future; chaining on it yields a FailedPrecondition error.
  // state_ starts null so gcc -O2 does not see a read of it before a write
  // (a false maybe-uninitialized: it is read only when kind_ is kShared).
  Future() noexcept : kind_(kEmpty), state_(nullptr) {}
  // Move-only; a moved-from future is empty (valid() is false).
  Future(Future&& other) noexcept : state_(nullptr) { move_from(std::move(other)); }
  Future& operator=(Future&& other) noexcept {
    if (this != &other) {
      reset();
      move_from(std::move(other));
    }
    return *this;
  }
  Future(const Future&) = delete;
  Future& operator=(const Future&) = delete;
  // Moved-from futures are destroyed on every chaining step: keep their
  // destruction to one inlined test.
  ~Future() {
    if (kind_ != kEmpty || via_ != nullptr) reset();
  }

  // False for a default-constructed, moved-from or consumed future.
  bool valid() const { return kind_ != kEmpty; }
  // True once the result is there (a valid future only).
  bool is_ready() const {
    return kind_ == kReady || (kind_ == kShared && state_->has_result());
  }

  // The chaining calls (then, then_result, on_error, finally, via) consume the
  // future: they are called on an rvalue (`std::move(f).then(...)`, or straight on
  // the future a call returned), and JoinHandle<T> has the same calls with the same
  // rule. Calling one on a named future is a compile error that says so, rather
  // than a second call that compiles and fails at run time.

  // F: T -> U | Future<U> | absl::StatusOr<U> | absl::Status | void
  // (Future<void>: F()). Skipped on error, which propagates.
  template <class F>
  auto then(F f) && {
    using R = typename std::conditional_t<std::is_void<T>::value,
                                          std::invoke_result<F&>,
                                          std::invoke_result<F&, T>>::type;
    using U = typename detail::Unwrap<R>::type;
    return chain<U>([f = std::move(f)](result_type&& in) mutable -> Future<U> {
      if (!in.ok()) return make_error_future<U>(detail::StatusOf(in));
      if constexpr (std::is_void<T>::value) {
        return detail::CallToFuture<U>(f);
      } else {
        return detail::CallToFuture<U>(f, std::move(*in));
      }
    });
  }

  // F: absl::StatusOr<T> (void: absl::Status) -> ...; always runs.
  template <class F>
  auto then_result(F f) && {
    using R = std::invoke_result_t<F&, result_type>;
    using U = typename detail::Unwrap<R>::type;
    return chain<U>([f = std::move(f)](result_type&& in) mutable -> Future<U> {
      return detail::CallToFuture<U>(f, std::move(in));
    });
  }

  // F: absl::Status -> T | Future<T> | absl::StatusOr<T>; runs only on
  // error, to recover. A value passes through untouched.
  template <class F>
  Future<T> on_error(F f) && {
    return chain<T>([f = std::move(f)](result_type&& in) mutable -> Future<T> {
      if (in.ok()) return FromResult(std::move(in));
      return detail::CallToFuture<T>(f, detail::StatusOf(in));
    });
  }

  // F: () -> void; runs either way; the result passes through (unless F
  // throws, which fails the future with that exception's message).
  template <class F>
  Future<T> finally(F f) && {
    return chain<T>([f = std::move(f)](result_type&& in) mutable -> Future<T> {
      Future<void> done = detail::CallToFuture<void>(f);
      if (done.is_ready()) {
        absl::Status s = done.take_ready_result();
        // f returns void: only an exception (with exceptions on) fails here.
        if (!s.ok()) return make_error_future<T>(std::move(s));
      }
      return FromResult(std::move(in));
    });
  }

  // Later continuations (attached to the returned future and its
  // successors) run on `handle`'s runtime. Defined in runtime.h.
  Future<T> via(const Handle& handle) &&;

  // Stopping (docs/cancellation.md). Dropping a pending future asks the work
  // behind it to stop at its next step: a sleep leaves the timer wheel, a
  // socket operation that has not read or written yet is disarmed, a `.then`
  // callback whose input was stopped never runs (then_result, on_error and
  // finally run with the CancelledError, so cleanup still happens).
  //
  // detach(): the work goes on to its end with nobody waiting; its result is
  // dropped when it comes (for "fire and forget": `std::move(f).detach()`).
  void detach() && {
    if (kind_ == kShared) {
      kind_ = kEmpty;
      detail::Attach(state_, &detail::DropResult<T>::instance);
    }
    reset();
  }
  // Asks the work to stop while still waiting for it: it settles soon, with
  // CancelledError if it stopped before doing its work, or with its result if
  // it was already completing (a read that got its bytes returns them). True
  // if it will settle by itself (or had); false if it cannot be stopped (it
  // waits on a Promise, which only its owner can settle) or a stop was asked
  // for already. On a future that is not pending: true, and nothing happens.
  bool request_stop() {
    if (kind_ != kShared) return true;
    return detail::RequestStop(state_);
  }

  // On a named future: a compile error naming the fix (see above).
  template <class F>
  void then(F) & { detail::ConsumedByChaining<F>(); }
  template <class F>
  // (On a named future: a compile error, as for then.)
  void then_result(F) & { detail::ConsumedByChaining<F>(); }
  template <class F>
  // (On a named future: a compile error, as for then.)
  void on_error(F) & { detail::ConsumedByChaining<F>(); }
  template <class F>
  // (On a named future: a compile error, as for then.)
  void finally(F) & { detail::ConsumedByChaining<F>(); }
  template <class H = Handle>
  // (On a named future: a compile error, as for then.)
  void via(const H&) & { detail::ConsumedByChaining<H>(); }

  // The result of a ready future, without waiting; consumes the future. For
  // code that has checked is_ready() (a poll loop, a test). On a future that
  // is not ready, or empty, it is misuse: reported through ReportMisuse
  // (default: print and abort); if the handler returns, the future is left as
  // it was and the result is a FailedPrecondition error. To wait, chain with
  // .then(...) or, off the runtime's threads, block_on(...).
  result_type take_result() {
    if (kind_ == kReady) return take_ready_result();
    if (kind_ != kShared || !state_->has_result()) {
      ReportMisuse(kind_ == kEmpty
                       ? "take_result() on an empty Future (default-constructed or moved-from)"
                       : "take_result() on a Future that is not ready: check is_ready() first, "
                         "or chain with .then(...)");
      return result_type(detail::NonOk(absl::FailedPreconditionError(
          "take_result() on a Future that is empty or not ready")));
    }
    kind_ = kEmpty;
    return state_->take_and_free();
  }

 private:
  template <class U>
  friend class Future;
  template <class U>
  friend class Promise;
  friend struct detail::FutureAccess;
  template <class T2, class U, class G>
  friend class detail::ChainNode;

  // take_result() without the checks: is_ready() is known to be true.
  result_type take_ready_result() {
    if (kind_ == kReady) {
      kind_ = kEmpty;
      result_type r = std::move(ready_);
      ready_.~result_type();
      return r;
    }
    kind_ = kEmpty;
    return state_->take_and_free();
  }
  // A future already holding `r`.
  static Future FromResult(result_type r) {
    Future f;
    new (&f.ready_) result_type(std::move(r));
    f.kind_ = kReady;
    return f;
  }
  // A future reading `state`, whose producer is the caller.
  static Future FromState(detail::SharedState<T>* state) { return Future(state); }
  // The pending state (kind kShared), handed over to the caller.
  detail::SharedState<T>* release_state() {
    kind_ = kEmpty;
    return state_;
  }
  void set_via(executor::Executor* e) {
    if (e != nullptr) e->retain();
    if (via_ != nullptr) via_->drop_ref();
    via_ = e;
  }

  // Chains g (Result<T> -> Future<U>, never throws) after this.
  template <class U, class G>
  Future<U> chain(G g);
  template <class U, class G>
  Future<U> chain_slow(G g);
  template <class U, class G>
  Future<U> chain_pending(G g, executor::Executor* target);

  explicit Future(detail::SharedState<T>* state) : kind_(kShared), state_(state) {}

  enum Kind : unsigned char { kEmpty, kReady, kShared };

  void move_from(Future&& other) {
    kind_ = other.kind_;
    if (kind_ == kReady) {
      new (&ready_) result_type(std::move(other.ready_));
      other.ready_.~result_type();
    } else if (kind_ == kShared) {
      state_ = other.state_;
    }
    via_ = std::exchange(other.via_, nullptr);
    other.kind_ = kEmpty;
  }

  void reset() {
    if (kind_ == kReady) {
      ready_.~result_type();
    } else if (kind_ == kShared) {
      detail::Abandon(state_);
    }
    kind_ = kEmpty;
    if (via_ != nullptr) std::exchange(via_, nullptr)->drop_ref();
  }

  Kind kind_;
  union {
    result_type ready_;                // kind_ == kReady
    detail::SharedState<T>* state_;    // kind_ == kShared
  };
  executor::Executor* via_ = nullptr;  // Holds a reference when set.
};

namespace detail {
template <class T>
Future<T> FutureAccess::from_result(Result<T> r) {
  return Future<T>::FromResult(std::move(r));
}
template <class T>
Future<T> FutureAccess::from_state(SharedState<T>* state) {
  return Future<T>::FromState(state);
}
template <class T>
SharedState<T>* FutureAccess::release_state(Future<T>& f) {
  return f.release_state();
}
template <class T>
void FutureAccess::set_via(Future<T>& f, executor::Executor* e) {
  f.set_via(e);
}
}  // namespace detail

template <class T>
// The producer's side of a Future<T>: get_future() once, then fulfil it once
// with set_value, set_error or set_result, from any thread. Move-only.
// Dropped unfulfilled, its future fails with absl::CancelledError ('broken
// promise').
class Promise {
 public:
  Promise() : producer_(detail::SharedState<T>::Create()), unclaimed_(producer_) {}
  // Move-only; a moved-from promise fulfils nothing.
  Promise(Promise&& other) noexcept
      : producer_(std::exchange(other.producer_, nullptr)),
        unclaimed_(std::exchange(other.unclaimed_, nullptr)) {}
  Promise& operator=(Promise&& other) noexcept {
    if (this != &other) {
      this->~Promise();
      new (this) Promise(std::move(other));
    }
    return *this;
  }
  Promise(const Promise&) = delete;
  Promise& operator=(const Promise&) = delete;
  // An unfulfilled promise fails its future: "broken promise".
  ~Promise() {
    if (producer_ != nullptr) {
      fulfil(absl::CancelledError(
          "broken promise: the Promise was destroyed without a value or "
          "error"));
    }
    if (unclaimed_ != nullptr) detail::Abandon(unclaimed_);
  }

  // The future of this promise; once. A second call returns a future that
  // fails with FailedPrecondition.
  Future<T> get_future() {
    if (unclaimed_ == nullptr) {
      return make_error_future<T>(absl::FailedPreconditionError(
          "Promise::get_future() called twice (or on a moved-from promise): "
          "a promise has exactly one future"));
    }
    return Future<T>(std::exchange(unclaimed_, nullptr));
  }

  // Fulfils the future. Fulfilling twice is misuse: reported through
  // ReportMisuse (default: print and abort); the second value is dropped.
  template <class U = T, class = std::enable_if_t<!std::is_void<U>::value>>
  void set_value(U value) {
    fulfil(detail::Result<T>(std::move(value)));
  }
  template <class U = T, class = std::enable_if_t<std::is_void<U>::value>>
  void set_value() {
    fulfil(absl::OkStatus());
  }
  // Fails the future with `status` (an OK status becomes an error).
  void set_error(absl::Status status) {
    fulfil(detail::Result<T>(detail::NonOk(std::move(status))));
  }
  // Either, from a result.
  void set_result(detail::Result<T> result) { fulfil(std::move(result)); }

  // True once a value or an error was set (or the promise was moved from).
  bool is_fulfilled() const { return producer_ == nullptr; }

 private:
  void fulfil(detail::Result<T> result) {
    if (producer_ == nullptr) {
      ReportMisuse(
          "Promise fulfilled twice (set_value/set_error after the promise "
          "already had a result, or on a moved-from promise); the second "
          "result is dropped");
      return;
    }
    detail::SharedState<T>* state = std::exchange(producer_, nullptr);
    state->store(std::move(result));
    if (detail::Continuation* c = detail::Publish(state)) {
      detail::Dispatch(c, state);
    }
  }

  detail::SharedState<T>* producer_;   // Until fulfilled.
  detail::SharedState<T>* unclaimed_;  // Until get_future().
};

// A future that is already complete: with no value, with `value`, or failed
// with `status`. Continuations on it run at once (rule 1).
inline Future<void> make_ready_future() {
  return detail::FutureAccess::from_result<void>(absl::OkStatus());
}
template <class T>
Future<std::decay_t<T>> make_ready_future(T&& value) {
  using D = std::decay_t<T>;
  return detail::FutureAccess::from_result<D>(detail::Result<D>(std::forward<T>(value)));
}
template <class T>
// A future that has already failed with `status` (an OK status becomes an
// error).
Future<T> make_error_future(absl::Status status) {
  return detail::FutureAccess::from_result<T>(detail::Result<T>(detail::NonOk(std::move(status))));
}

namespace detail {

// A continuation node: the stored callback and the state of the future it
// produces, in one allocation. Until the callback has run, the output's
// result slot is empty, so the callback and the runtime it is bound to live
// there when they fit (a 56-byte node, a 64-byte chunk, for Future<int> and
// a captureless lambda); otherwise in storage after the node. The node is also
// its input's consumer through a StopGate: a stop request on its output goes
// on to what it awaits (its input, or later the future its callback returned,
// which it forwards through the same gate).
// A callback aligned beyond what the block cache gives (alignas(32) or more in
// its captures) is kept in its own aligned allocation instead.
template <class G>
struct Boxed {
  explicit Boxed(G g) : box(new G(std::move(g))) {}
  template <class In>
  auto operator()(In&& in) {
    return (*box)(std::forward<In>(in));
  }
  std::unique_ptr<G> box;
};
template <class G>
using StoredCall = std::conditional_t<(alignof(G) > task::kBlockAlign), Boxed<G>, G>;

template <class G>
struct PendingCall {
  executor::Executor* executor;  // Bound runtime (holds a reference), or null.
  StoredCall<G> g;
};
template <size_t kSize, size_t kAlign>
struct OverflowStorage {
  alignas(kAlign) unsigned char bytes[kSize];
};
struct NoOverflowStorage {};

template <class T, class U, class G>
using ChainNodeStorage =
    std::conditional_t<(sizeof(PendingCall<G>) <= sizeof(Result<U>) &&
                        alignof(PendingCall<G>) <= alignof(Result<U>)),
                       NoOverflowStorage,
                       OverflowStorage<sizeof(PendingCall<G>), alignof(PendingCall<G>)>>;

template <class T, class U, class G>
class ChainNode final : public SharedState<U>,
                        public StopGate,
                        private ChainNodeStorage<T, U, G> {
 public:
  static ChainNode* Create(G g, executor::Executor* e) {
    void* memory = task::AllocateBlock(sizeof(ChainNode));
    auto* node = new (memory) ChainNode(std::move(g), e);
    node->alloc_size = sizeof(ChainNode);
    node->set_stop_gate(node);  // A stop goes on to what the node awaits.
    return node;
  }
  SharedState<U>* output() { return this; }

 private:
  using Pending = PendingCall<G>;
  static constexpr bool kInline =
      std::is_same<ChainNodeStorage<T, U, G>, NoOverflowStorage>::value;

  ChainNode(G g, executor::Executor* e) : StopGate(&Run) {
    if (e != nullptr) e->retain();
    new (pending_storage()) Pending{e, StoredCall<G>(std::move(g))};
  }
  ~ChainNode() {}  // Never runs: the output state frees the allocation.

  static ChainNode* cast(Continuation* c) { return static_cast<ChainNode*>(static_cast<StopGate*>(c)); }

  void* pending_storage() {
    if constexpr (kInline) {
      return static_cast<void*>(&this->result);
    } else {
      return static_cast<void*>(this->bytes);
    }
  }
  Pending& pending() { return *std::launder(static_cast<Pending*>(pending_storage())); }

  // The input settled: run the callback.
  static Continuation* Run(Continuation* self, StateBase* source,
                           bool cancelled, StateBase** next_source) {
    ChainNode* node = cast(self);
    auto* in = static_cast<SharedState<T>*>(source);
    Pending& p = node->pending();
    if (!cancelled && !RunsHere(p.executor)) {
      PostTo(p.executor, self, source);  // Runs again there.
      return nullptr;
    }
    if (!node->enter_run(cancelled)) return nullptr;  // A stop request runs it.
    executor::Executor* bound = p.executor;
    if (cancelled) {
      in->destroy_and_free();
      p.~Pending();
      Future<U> out = make_error_future<U>(absl::CancelledError(
          "the runtime this continuation was bound to shut down before it "
          "could run"));
      return node->deliver(bound, out, next_source);
    }
    Future<U> out = p.g(in->take_and_free());
    p.~Pending();  // Frees the result slot (kInline) before it is filled.
    return node->deliver(bound, out, next_source);
  }

  // The callback has run and is destroyed: drop the executor reference; from
  // here on the allocation is the output state, which receives `out` (now, or
  // when the future the callback returned settles: the node then waits on it
  // as its forwarder, through the same gate).
  Continuation* deliver(executor::Executor* bound, Future<U>& out,
                        StateBase** next_source) {
    if (bound != nullptr) bound->drop_ref();
    // `out` is never empty: ToFuture turns an empty one into an error.
    if (out.is_ready()) return publish(out.take_ready_result(), next_source);
    SharedState<U>* inner = detail::FutureAccess::release_state(out);
    this->fn = &Forward;
    if (!await(inner)) {
      // A stop came while the callback ran: it applies to what it returned,
      // and a node never goes on waiting on something that cannot stop.
      if (RequestStop(inner)) {
        await_stopped(inner);
      } else {
        Abandon(inner);
        return publish(Result<U>(absl::CancelledError(
                           "stopped: the future a callback returned cannot be "
                           "stopped, so it was dropped")),
                       next_source);
      }
    }
    Attach(inner, this);
    return nullptr;
  }

  // The future the callback returned settled.
  static Continuation* Forward(Continuation* self, StateBase* source, bool cancelled,
                               StateBase** next_source) {
    ChainNode* node = cast(self);
    if (!node->enter_run(cancelled)) return nullptr;
    return node->publish(static_cast<SharedState<U>*>(source)->take_and_free(), next_source);
  }

  Continuation* publish(Result<U> r, StateBase** next_source) {
    this->store(std::move(r));
    *next_source = output();
    return Publish(output());
  }
};

}  // namespace detail

template <class T>
template <class U, class G>
Future<U> Future<T>::chain(G g) {
  if (kind_ == kReady && via_ == nullptr) {
    // Rule 1 (the common case): ready and unbound; run now, allocate nothing.
    kind_ = kEmpty;
    struct DestroyReady {  // Runs after g, even though g's result is returned.
      result_type* r;
      ~DestroyReady() { r->~result_type(); }
    } destroy{&ready_};
    return g(std::move(ready_));
  }
  return chain_slow<U>(std::move(g));
}

template <class T>
template <class U, class G>
Future<U> Future<T>::chain_slow(G g) {
  if (kind_ == kEmpty) {
    return make_error_future<U>(absl::FailedPreconditionError(
        "then()/then_result()/on_error()/finally() called on an empty Future "
        "(default-constructed, moved-from, or already chained)"));
  }
  executor::Executor* here = executor::Executor::current();
  executor::Executor* target = via_ != nullptr ? via_ : here;
  if ((via_ == nullptr || via_ == here) && is_ready()) {
    // Rule 1: already complete (through a state, or bound here): run now.
    executor::Executor* keep_via = std::exchange(via_, nullptr);
    Future<U> out = g(take_ready_result());
    if (out.via_ != nullptr) out.via_->drop_ref();  // Ours applies.
    out.via_ = keep_via;  // Moves our reference.
    return out;
  }
  return chain_pending<U>(std::move(g), target);
}

// Attaches g as a node; the result is built in place (one return: NRVO).
template <class T>
template <class U, class G>
Future<U> Future<T>::chain_pending(G g, executor::Executor* target) {
  auto* node = detail::ChainNode<T, U, G>::Create(std::move(g), target);
  Future<U> out(node->output());
  out.via_ = std::exchange(via_, nullptr);  // Moves our reference.
  detail::SharedState<T>* source;
  if (kind_ == kReady) {
    // Ready, but bound to another runtime: hand it over through a state.
    source = detail::SharedState<T>::Create();
    source->store(take_ready_result());
    source->flags.store(detail::StateBase::kResult, std::memory_order_relaxed);
  } else {
    source = release_state();
  }
  node->await_fresh(source);  // Published to other threads by Attach's release.
  detail::Attach(source, node);
  return out;
}

}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_FUTURE_FUTURE_H_
