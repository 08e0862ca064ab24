// Runtime, Handle, JoinHandle<T>, spawn, block_on, yield_now, poll_fn: the
// public face of the executor, in terms of futures.
//
// These live in the future layer, not the executor layer, because their
// signatures speak of Future<T>: spawn(F) accepts F returning Future<T>, a
// JoinHandle<T> is usable wherever a Future<T> is, and block_on waits for a
// future. The executor underneath knows only type-erased tasks.
#ifndef NANORUN_FUTURE_RUNTIME_H_
#define NANORUN_FUTURE_RUNTIME_H_

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nanorun/executor/executor.h"
#include "nanorun/future/core.h"
#include "nanorun/future/future.h"
#include "nanorun/sys/cpu_relax.h"
#include "nanorun/task/join_handle.h"
#include "nanorun/waker/poll.h"
#include "nanorun/waker/waker.h"

namespace nanorun {
inline namespace v0 {

namespace detail {

// The task body of spawn(f): calls f once; if f returned a pending future,
// waits for it through the task's Pinned continuation, which lives in the
// task's allocation (no extra allocation) and outlives the body: an aborted
// body may be dropped while the future still holds the continuation. An
// aborted body asks what it waits on to stop (docs/cancellation.md).
template <class U, class F>
class SpawnBody {
 public:
  using Output = Result<U>;

  // Attached to the pending future. Holds a clone of the task's waker (a
  // task reference), so the allocation it lives in stays alive until it ran.
  // kStopping: the body is being dropped and asks the future to stop; Run
  // then leaves the result to the body, which frees it when the request is
  // over (the request walks through the future's state, which must stay).
  struct Pinned final : Continuation {
    enum : int { kIdle, kWaiting, kStopping, kFired, kAbandoned };
    Pinned() : Continuation{&Run} {}
    static Continuation* Run(Continuation* self, StateBase* source, bool,
                             StateBase**) {
      Pinned* p = static_cast<Pinned*>(self);
      Waker waker = Waker::from_raw(p->waker);
      p->source = source;  // The waker's slot is free now.
      if (p->state.exchange(kFired, std::memory_order_acq_rel) == kAbandoned) {
        // The body is gone; nobody will take the result.
        static_cast<SharedState<U>*>(source)->destroy_and_free();
      }
      waker.wake();  // Last touch: may free the task, and `p` with it.
      return nullptr;
    }
    // kWaiting: a clone of the task's waker (a task reference, so the
    // allocation this lives in stays alive until Run). kFired: the result.
    union {
      RawWaker waker;
      StateBase* source;  // Written before kFired (release).
    };
    std::atomic<int> state{kIdle};
  };

  explicit SpawnBody(F f) { new (&f_) F(std::move(f)); }
  SpawnBody(SpawnBody&& other) noexcept : waiting_(other.waiting_) {
    if (waiting_ == nullptr) {
      new (&f_) F(std::move(other.f_));  // `other` still destroys its f_.
    } else {
      awaited_ = other.awaited_;
      other.waiting_ = Done();
    }
  }
  SpawnBody& operator=(SpawnBody&&) = delete;
  ~SpawnBody() {
    if (waiting_ == nullptr) {
      f_.~F();
      return;
    }
    if (waiting_ == Done()) return;
    // Dropped while waiting (aborted, or its runtime shut down).
    int waiting = Pinned::kWaiting;
    if (waiting_->state.compare_exchange_strong(waiting, Pinned::kStopping,
                                                std::memory_order_acq_rel)) {
      RequestStop(awaited_);
    }
    if (waiting_->state.exchange(Pinned::kAbandoned, std::memory_order_acq_rel) ==
        Pinned::kFired) {
      static_cast<SharedState<U>*>(waiting_->source)->destroy_and_free();
    }
  }

  Poll<Output> poll(Context& cx, Pinned& pinned) {
    if (waiting_ == nullptr) {
      Future<U> out = CallToFuture<U>(f_);
      f_.~F();
      waiting_ = Done();
      if (out.is_ready()) return Poll<Output>::ready(out.take_result());
      pinned.waker = Waker(cx.waker()).into_raw();
      pinned.state.store(Pinned::kWaiting, std::memory_order_relaxed);
      waiting_ = &pinned;
      awaited_ = nanorun::detail::FutureAccess::release_state(out);
      NoteWaitOn(awaited_);  // For Handle::dump(), if the task is traced.
      Attach(awaited_, &pinned);
      return Poll<Output>::pending();
    }
    if (waiting_ == Done() ||
        waiting_->state.load(std::memory_order_acquire) != Pinned::kFired) {
      return Poll<Output>::pending();
    }
    StateBase* source = waiting_->source;
    waiting_->state.store(Pinned::kIdle, std::memory_order_relaxed);
    waiting_ = Done();
    return Poll<Output>::ready(static_cast<SharedState<U>*>(source)->take_and_free());
  }

 private:
  // waiting_ is the body's phase, so no separate flag is needed (a task
  // waiting on a future stays in a 160-byte block): nullptr = f_ not called
  // yet (f_ alive); Done() = f_ gone, nothing pending; else the pinned
  // continuation a future holds, and awaited_ that future's state (in f_'s
  // place: f_ is gone by then).
  static Pinned* Done() { return reinterpret_cast<Pinned*>(alignof(Pinned)); }

  union {
    F f_;
    StateBase* awaited_;
  };
  Pinned* waiting_ = nullptr;
};

// The task body of spawn(f) when f returns a plain value (not a future or
// a JoinHandle): Ready on its first poll. It needs no Pinned continuation,
// and the executor keeps such a task out of its registry
// (SpawnOptions::completes_on_first_poll): a smaller block, two locked list
// operations fewer per spawn.
template <class U, class F>
class PlainSpawnBody {
 public:
  using Output = Result<U>;
  explicit PlainSpawnBody(F f) : f_(std::move(f)) {}
  Poll<Output> poll(Context&) { return Poll<Output>::ready(CallToFuture<U>(f_).take_result()); }

 private:
  F f_;
};

template <class F>
constexpr bool kReturnsPlainValue =
    !IsFuture<std::decay_t<std::invoke_result_t<F&>>>::value &&
    !IsJoinHandle<std::decay_t<std::invoke_result_t<F&>>>::value;

template <class T, class F>
class PollFnBody {
 public:
  using Output = Result<T>;
  explicit PollFnBody(F f) : f_(std::move(f)) {}
  Poll<Output> poll(Context& cx) {
    if constexpr (std::is_void<T>::value) {
      Poll<void> p = f_(cx);
      if (p.is_pending()) return Poll<Output>::pending();
      return Poll<Output>::ready(absl::OkStatus());
    } else {
      Poll<T> p = f_(cx);
      if (p.is_pending()) return Poll<Output>::pending();
      return Poll<Output>::ready(Output(std::move(p).value()));
    }
  }

 private:
  F f_;
};

// block_on's continuation: lives on the blocked thread's stack. It waits on a
// std::condition_variable (pthread_cond_wait), not absl::Notification (a raw
// futex): ThreadSanitizer runs a signal's handler at once only inside calls
// it knows block, so a Ctrl-C sent while main() sits in block_on must find it
// in one (nanorun::signal's handler is what ends that block_on).
template <class T>
struct BlockingWaiter final : Continuation {
  BlockingWaiter() : Continuation{&Run} {}
  // kSpinning -> kDone: the result came while the waiter spun; the notifier
  // never touches the waiter again (it may return and go away at once).
  // kSpinning -> kSleeping (under mu): the waiter sleeps on cv; the notifier
  // then sets kDone and signals under mu, so the waiter cannot return before.
  enum : int { kSpinning, kSleeping, kDone };
  static Continuation* Run(Continuation* self, StateBase* source, bool,
                           StateBase**) {
    BlockingWaiter* w = static_cast<BlockingWaiter*>(self);
    w->source = source;  // Published by the kDone store or the lock.
    int spinning = kSpinning;
    if (w->state.compare_exchange_strong(spinning, kDone, std::memory_order_acq_rel)) {
      return nullptr;  // No wake-up through the kernel: it was still spinning.
    }
    std::lock_guard<std::mutex> lock(w->mu);
    w->state.store(kDone, std::memory_order_release);
    w->cv.notify_one();  // Under the lock: the waiter cannot return and go away first.
    return nullptr;
  }
  void wait() {
    // A result that comes within a few microseconds (a hop to a worker and
    // back) is seen without sleeping: a futex wake and the sleeper's return
    // cost ~15 us here. Bounded: then the thread sleeps.
    for (int i = 0; i < kSpinsBeforeSleep; ++i) {
      if (state.load(std::memory_order_acquire) == kDone) return;
      sys::CpuRelax();
    }
    std::unique_lock<std::mutex> lock(mu);
    int spinning = kSpinning;
    if (!state.compare_exchange_strong(spinning, kSleeping, std::memory_order_acq_rel)) return;
    cv.wait(lock, [this] { return state.load(std::memory_order_acquire) == kDone; });
  }
  // ~15-20 us of CpuRelax (see sys/cpu_relax.h).
  static constexpr int kSpinsBeforeSleep = 600;
  std::atomic<int> state{kSpinning};
  std::mutex mu;
  std::condition_variable cv;
  StateBase* source = nullptr;  // Written before kDone, read after it.
};

// Waits on this (non-worker) thread for `f`.
template <class T>
Result<T> BlockOn(Future<T> f) {
  if (executor::Executor::current() != nullptr) {
    return absl::FailedPreconditionError(
        "block_on called on a worker thread of a nanorun runtime: blocking a "
        "worker can deadlock the runtime. Chain with .then() or spawn() "
        "instead, and call block_on only from outside the runtime");
  }
  if (!f.valid()) {
    return absl::FailedPreconditionError(
        "block_on called with an empty (moved-from or consumed) Future");
  }
  if (f.is_ready()) return f.take_result();
  BlockingWaiter<T> waiter;
  Attach(nanorun::detail::FutureAccess::release_state(f), &waiter);
  waiter.wait();
  return static_cast<SharedState<T>*>(waiter.source)->take_and_free();
}

// How nanorun's own layers (net, fs, the runtime) turn a Handle into its
// executor and back; defined after Handle. Not for users.
struct HandleAccess;

}  // namespace detail

template <class T>
class JoinHandle;

// How to spawn a task. A named task is traced (task/trace.h): Handle::dump()
// shows its name, polls, time since its last poll and what it waits on, and
// stall reports name it; that costs ~40 bytes and a clock read per poll.
struct TaskOptions {
  // The task's name (copied); empty: unnamed and, unless the runtime traces
  // every task, untraced.
  std::string name;
};

// Helpers of NANORUN_SPAWN_SITE: `line` as a string literal.
#define NANORUN_SPAWN_SITE_STR2(line) #line
// Helpers of NANORUN_SPAWN_SITE: `line` expanded, then as a string literal.
#define NANORUN_SPAWN_SITE_STR(line) NANORUN_SPAWN_SITE_STR2(line)
// The spawn site as a task name, "file.cc:123".
#define NANORUN_SPAWN_SITE __FILE__ ":" NANORUN_SPAWN_SITE_STR(__LINE__)
// spawn(f) on the current runtime, naming the task after the line that
// spawned it (for Handle::dump() and stall reports).
#define NANORUN_SPAWN(...) ::nanorun::spawn(::nanorun::TaskOptions{NANORUN_SPAWN_SITE}, __VA_ARGS__)
// handle.spawn(f), naming the task after the line that spawned it.
#define NANORUN_SPAWN_ON(handle, ...) \
  (handle).spawn(::nanorun::TaskOptions{NANORUN_SPAWN_SITE}, __VA_ARGS__)

// A cheap, copyable reference to a runtime, for spawning from any thread. A
// Handle outliving its Runtime stays safe: spawn then returns a handle that
// fails with CancelledError.
class Handle {
 public:
  Handle() = default;
  // Copies refer to the same runtime; a moved-from or default handle is
  // invalid (valid() is false), and spawns through it fail.
  Handle(const Handle& other) : e_(other.e_) {
    if (e_ != nullptr) e_->retain();
  }
  Handle(Handle&& other) noexcept : e_(std::exchange(other.e_, nullptr)) {}
  Handle& operator=(Handle other) noexcept {
    std::swap(e_, other.e_);
    return *this;
  }
  ~Handle() {
    if (e_ != nullptr) e_->drop_ref();
  }

  // The runtime whose worker is calling. Off a runtime this is misuse
  // (reported; default: abort); use try_current() to ask.
  static Handle current() {
    std::optional<Handle> h = try_current();
    if (h.has_value()) return *std::move(h);
    ReportMisuse(
        "Handle::current() called on a thread that is not a worker of any "
        "runtime; use Handle::try_current(), or pass Runtime::handle() in");
    return Handle();
  }
  // The runtime whose worker is calling, or nullopt off a runtime.
  static std::optional<Handle> try_current() {
    executor::Executor* e = executor::Executor::current();
    if (e == nullptr) return std::nullopt;
    return Handle(e);
  }

  // False for a default-constructed or moved-from handle.
  bool valid() const { return e_ != nullptr; }

  // Runs f() as a new task on this runtime. F returns T, Future<T>,
  // absl::StatusOr<T>, absl::Status or void. Safe from any thread.
  template <class F>
  auto spawn(F f) const;
  // The same, naming the task for Handle::dump() and stall reports.
  template <class F>
  auto spawn(const TaskOptions& options, F f) const;
  // Runs f() on this runtime's blocking pool (future/blocking.h). Safe from
  // any thread.
  template <class F>
  auto spawn_blocking(F f) const;

  // Timers (sleeps, timeouts, interval ticks) pending on this runtime: for
  // diagnostics and tests (a timeout that completed early leaves none).
  size_t pending_timers() const { return e_ != nullptr ? e_->timers().pending() : 0; }

  // A snapshot of the runtime's metrics (executor/metrics.h): task, worker,
  // blocking-pool, timer and I/O counters and gauges. Safe from any thread,
  // cheap enough to call every second; all zero for an invalid handle.
  RuntimeMetrics metrics() const { return e_ != nullptr ? e_->metrics() : RuntimeMetrics(); }

  // Every live task: id, state, and for traced tasks their name, polls, time
  // since the last poll and what they wait on (executor/dump.h). Safe from
  // any thread; walks the task registry, so for debugging, not per request.
  // Empty for an invalid handle.
  TaskDump dump() const { return e_ != nullptr ? e_->dump() : TaskDump(); }

  // The reactor the runtime's workers park in: "epoll", "io_uring", "iocp"
  // or "fallback" (see RuntimeOptions::reactor); "" for an invalid handle.
  const char* reactor_name() const { return e_ != nullptr ? e_->reactor().name() : ""; }

 private:
  friend struct detail::HandleAccess;
  friend class Runtime;

  explicit Handle(executor::Executor* e) : e_(e) {
    if (e_ != nullptr) e_->retain();
  }

  executor::Executor* e_ = nullptr;
};

namespace detail {
struct HandleAccess {
  // A handle holding a reference on `e` (nullptr: an invalid handle).
  static Handle make(executor::Executor* e) { return Handle(e); }
  static executor::Executor* executor(const Handle& h) { return h.e_; }
  // The JoinHandle of a task just spawned, and one for a spawn that failed.
  template <class T>
  static JoinHandle<T> join(task::RawJoinHandle<Result<T>> raw) {
    return JoinHandle<T>(std::move(raw));
  }
  template <class T>
  static JoinHandle<T> failed(absl::Status error) {
    return JoinHandle<T>::failed(std::move(error));
  }
};
}  // namespace detail

// Aborts one task (JoinHandle::abort_handle): copyable, and safe to keep
// after the task finished (abort then does nothing) or its runtime is gone.
class AbortHandle {
 public:
  // A handle that aborts nothing.
  AbortHandle() = default;
  // Cancels the task, as JoinHandle::abort() does; no effect once it finished.
  void abort() const { raw_.abort(); }
  // True once the task has finished (completed, failed or cancelled).
  bool is_finished() const { return raw_.is_finished(); }

 private:
  template <class T>
  friend class JoinHandle;

  explicit AbortHandle(task::RawAbortHandle raw) : raw_(std::move(raw)) {}

  task::RawAbortHandle raw_;
};

// The spawner's side of a task: usable wherever a Future<T> is (then,
// block_on, when_all), plus abort(). Dropping it detaches the task.
template <class T>
class [[nodiscard]] JoinHandle {
 public:
  // The task's value type, as for Future<T>.
  using value_type = T;
  // What the task ends with: Result<T> (absl::StatusOr<T>; absl::Status for void).
  using Output = detail::Result<T>;

  // True once the task has finished (or the spawn failed): a continuation
  // chained now runs at once, and poll() is ready.
  bool is_ready() const { return error_ != nullptr || raw_.is_finished(); }
  // The same as is_ready().
  bool is_finished() const { return is_ready(); }

  // Cancels the task: it stops at its next poll (at once if idle) and its
  // result becomes absl::CancelledError. No effect once finished.
  void abort() { raw_.abort(); }
  // A copyable handle that can abort this task (and nothing else), usable
  // after this JoinHandle was consumed or dropped. Empty (abort does nothing)
  // for a handle that failed at spawn.
  AbortHandle abort_handle() const {
    return raw_.valid() ? AbortHandle(raw_.abort_handle()) : AbortHandle();
  }

  // Polls for the result (for use inside poll_fn).
  Poll<Output> poll(Context& cx) {
    if (!raw_.valid()) {
      Output out = detail::Result<T>(
          error_ == nullptr ? absl::FailedPreconditionError(
                                  "JoinHandle polled after it returned its result")
                            : *error_);
      return Poll<Output>::ready(std::move(out));
    }
    return raw_.poll(cx);
  }

  // The task's result as a future. No allocation if already finished.
  Future<T> into_future() && {
    if (!raw_.valid()) {
      return make_error_future<T>(
          error_ == nullptr ? absl::FailedPreconditionError("JoinHandle already consumed")
                            : *error_);
    }
    if (raw_.is_finished()) {
      Waker noop;
      Context cx(noop);
      Poll<Output> p = raw_.poll(cx);
      return nanorun::detail::FutureAccess::from_result<T>(std::move(p).value());
    }
    task::NoteWait(task::WaitKind::kTask);  // For Handle::dump().
    return Bridge::Start(std::move(raw_));
  }
  // A JoinHandle converts to its Future (the same as into_future()).
  operator Future<T>() && { return std::move(*this).into_future(); }

  template <class F>
  // As Future's then(), on the task's result.
  auto then(F f) && {
    return std::move(*this).into_future().then(std::move(f));
  }
  template <class F>
  // As Future's then_result(), on the task's result.
  auto then_result(F f) && {
    return std::move(*this).into_future().then_result(std::move(f));
  }
  template <class F>
  // As Future's on_error(), on the task's result.
  Future<T> on_error(F f) && {
    return std::move(*this).into_future().on_error(std::move(f));
  }
  template <class F>
  // As Future's finally(), on the task's result.
  Future<T> finally(F f) && {
    return std::move(*this).into_future().finally(std::move(f));
  }
  // Continuations run on `handle`'s runtime, as Future's via() does.
  Future<T> via(const Handle& handle) && { return std::move(*this).into_future().via(handle); }

  // On a named handle: a compile error naming the fix (as for Future).
  template <class F>
  void then(F) & { detail::ConsumedByChaining<F>(); }
  template <class F>
  // (On a named handle: a compile error, as for then.)
  void then_result(F) & { detail::ConsumedByChaining<F>(); }
  template <class F>
  // (On a named handle: a compile error, as for then.)
  void on_error(F) & { detail::ConsumedByChaining<F>(); }
  template <class F>
  // (On a named handle: a compile error, as for then.)
  void finally(F) & { detail::ConsumedByChaining<F>(); }
  template <class H = Handle>
  // (On a named handle: a compile error, as for then.)
  void via(const H&) & { detail::ConsumedByChaining<H>(); }

 private:
  friend struct detail::HandleAccess;  // Made by spawn.

  explicit JoinHandle(task::RawJoinHandle<Output> raw) : raw_(std::move(raw)) {}
  // A handle that fails at once (spawn off a runtime).
  static JoinHandle failed(absl::Status error) {
    JoinHandle h{task::RawJoinHandle<Output>()};
    h.error_ = std::make_unique<absl::Status>(detail::NonOk(std::move(error)));
    return h;
  }

  // Turns the task's completion into a Promise fulfilment. The bridge is
  // the task's join waker; wakers hold references on it.
  class Bridge : public task::BlockCached {
   public:
    static Future<T> Start(task::RawJoinHandle<Output> raw) {
      Bridge* b = new Bridge(std::move(raw));
      Future<T> f = b->promise_.get_future();
      b->poll_once();
      b->drop_ref();
      return f;
    }

   private:
    explicit Bridge(task::RawJoinHandle<Output> raw) : raw_(std::move(raw)) {}

    // Polls the task until done. Wakes that arrive while a poll runs make
    // that poller go round again, so none is lost.
    void poll_once() {
      if (polls_.fetch_add(1, std::memory_order_acq_rel) != 0) return;
      do {
        if (!finished_) {
          refs_.fetch_add(1, std::memory_order_relaxed);  // Owned by `self`.
          Waker self = Waker::from_raw(RawWaker{this, &kVTable});
          Context cx(self);
          Poll<Output> p = raw_.poll(cx);
          if (p.is_ready()) {
            finished_ = true;
            promise_.set_result(std::move(p).value());
          }
        }
      } while (polls_.fetch_sub(1, std::memory_order_acq_rel) != 1);
    }
    void drop_ref() {
      if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }

    static Bridge* cast(const void* p) {
      return static_cast<Bridge*>(const_cast<void*>(p));
    }
    static RawWaker Clone(const void* p) {
      cast(p)->refs_.fetch_add(1, std::memory_order_relaxed);
      return RawWaker{p, &kVTable};
    }
    static void WakeByRef(const void* p) {
      Bridge* b = cast(p);
      b->refs_.fetch_add(1, std::memory_order_relaxed);  // Keep alive.
      b->poll_once();
      b->drop_ref();
    }
    static void Wake(const void* p) {
      WakeByRef(p);
      cast(p)->drop_ref();
    }
    static void Drop(const void* p) { cast(p)->drop_ref(); }
    static constexpr RawWakerVTable kVTable = {&Clone, &Wake, &WakeByRef, &Drop};

    task::RawJoinHandle<Output> raw_;
    Promise<T> promise_;
    std::atomic<int> refs_{1};
    std::atomic<int> polls_{0};  // Polls requested; > 0 while one runs.
    bool finished_ = false;      // Touched only by the running poller.
  };

  task::RawJoinHandle<Output> raw_;
  // Only for a handle that failed at spawn (off a runtime): the common path
  // carries one null pointer instead of constructing and destroying a Status.
  std::unique_ptr<absl::Status> error_;
};

namespace detail {
template <class F>
using SpawnResult = typename Unwrap<std::invoke_result_t<F&>>::type;

template <class F>
JoinHandle<SpawnResult<F>> SpawnOn(executor::Executor* e, F f, const char* name = nullptr) {
  using U = SpawnResult<F>;
  if (e == nullptr) {
    return HandleAccess::failed<U>(absl::FailedPreconditionError(
        "spawn called outside a runtime (no current worker and no valid "
        "Handle): call nanorun::spawn from a task, or use "
        "Runtime::handle().spawn(...)"));
  }
  if (e->is_draining() && executor::Executor::current() != e) {
    return HandleAccess::failed<U>(absl::FailedPreconditionError(
        "spawn: the runtime is shutting down (Runtime::shutdown was called); spawns from "
        "outside it are refused (its own tasks may still spawn)"));
  }
  executor::SpawnOptions options;
  options.name = name;
  if constexpr (kReturnsPlainValue<F>) {
    options.completes_on_first_poll = true;
    return HandleAccess::join<U>(e->spawn(PlainSpawnBody<U, F>(std::move(f)), options));
  } else {
    return HandleAccess::join<U>(e->spawn(SpawnBody<U, F>(std::move(f)), options));
  }
}
}  // namespace detail

template <class F>
auto Handle::spawn(F f) const {
  return detail::SpawnOn(e_, std::move(f));
}
template <class F>
auto Handle::spawn(const TaskOptions& options, F f) const {
  return detail::SpawnOn(e_, std::move(f), options.name.empty() ? nullptr : options.name.c_str());
}

// Spawns f() on the current runtime. Off a runtime: a handle that fails
// with FailedPrecondition, never a crash.
template <class F>
auto spawn(F f) {
  return detail::SpawnOn(executor::Executor::current(), std::move(f));
}
// The same, naming the task (see TaskOptions).
template <class F>
auto spawn(const TaskOptions& options, F f) {
  return detail::SpawnOn(executor::Executor::current(), std::move(f),
                         options.name.empty() ? nullptr : options.name.c_str());
}

// A future that completes once this worker has run the tasks queued on it
// (it has nothing else local to run), or 61 of them if more are queued or
// keep coming; then its continuation runs on this worker. Off a
// runtime it is ready at once. A stop has nothing to do (it completes soon);
// at shutdown it fails with CancelledError. No task is spawned: the worker
// keeps a list of pending yields (Executor::defer_yield).
namespace detail {
inline void CompleteYield(void* arg, bool cancelled) {
  auto* state = static_cast<SharedState<void>*>(arg);
  state->store(cancelled ? absl::CancelledError(
                               "yield_now: the runtime shut down before the yield completed")
                         : absl::OkStatus());
  if (Continuation* c = Publish(state)) Dispatch(c, state);
}
}  // namespace detail

// Lets the other tasks on this worker run, then completes: the continuation
// runs once the worker's queue is empty or 61 tasks later. Off a runtime: a
// ready future.
inline Future<void> yield_now() {
  if (executor::Executor::current() == nullptr) return make_ready_future();
  auto* state = detail::SharedState<void>::Create();
  state->set_settles_soon();  // A stop has nothing to do: it completes soon.
  Future<void> out = nanorun::detail::FutureAccess::from_state<void>(state);
  // The pending yield holds the producer's side of `state` until it runs.
  (void)executor::Executor::defer_yield(&detail::CompleteYield, state);
  return out;
}

// A custom leaf future: f(cx) is polled as a task on the current runtime
// until it returns a ready Poll<T>. Off a runtime: a failed future.
template <class T, class F>
Future<T> poll_fn(F f) {
  executor::Executor* e = executor::Executor::current();
  if (e == nullptr) {
    return make_error_future<T>(absl::FailedPreconditionError(
        "poll_fn called outside a runtime: call it from a task, or spawn "
        "a task that calls it"));
  }
  return detail::HandleAccess::join<T>(e->spawn(detail::PollFnBody<T, F>(std::move(f))))
      .into_future();
}

// RuntimeOptions::reactor's values: kDefault, kAuto, kEpoll, kUring.
using ReactorBackend = reactor::Backend;

// How to build a Runtime. (At namespace scope: see SpawnOptions.)
struct RuntimeOptions {
  // Worker threads; 0 means std::thread::hardware_concurrency() (at least 1).
  size_t workers = 0;
  // Null: timers follow the system's monotonic clock. A ManualClock: time
  // moves only when the test calls clock->advance(d) (see time/clock.h).
  std::shared_ptr<time::ManualClock> clock;
  // The blocking pool (spawn_blocking): at most this many threads, started
  // when needed (tokio's default bound is 512); beyond it, jobs queue.
  size_t max_blocking_threads = 512;
  // A blocking thread with nothing to do for this long exits.
  absl::Duration blocking_keep_alive = absl::Seconds(10);
  // Worker thread names and code run at points of the workers' and tasks'
  // lives (executor/hooks.h); all unset by default.
  RuntimeHooks hooks;
  // Trace every task for Handle::dump() (its polls, last poll time and what
  // it waits on), not only those spawned with a name: 40 bytes more per
  // task and a clock read per poll. Off by default.
  bool trace_tasks = false;
  // Reports polls that hold a worker too long (executor/hooks.h). Off by
  // default (threshold zero).
  StallDetector stall_detector;
  // Which reactor the workers park in (reactor/reactor.h's Backend). On
  // Linux, kDefault is epoll unless NANORUN_REACTOR (epoll, uring or auto)
  // is set; kAuto takes io_uring where it can run and epoll where it cannot
  // (a seccomp policy, an old kernel), saying so once through `log`; kEpoll
  // and kUring insist: creating the runtime fails if they cannot run here.
  // Windows has only IOCP (asking for either fails there).
  ReactorBackend reactor = ReactorBackend::kDefault;
  // Where the runtime writes the rare line it has to say (the reactor
  // fallback above). Null: stderr, prefixed "nanorun: ".
  std::function<void(absl::string_view)> log;
};

// What Runtime::shutdown(grace) did.
struct ShutdownReport {
  size_t finished = 0;   // Tasks and blocking jobs that ended within the grace.
  size_t cancelled = 0;  // Tasks cancelled, and blocking jobs dropped unstarted.
  // Tasks that ended within the grace.
  size_t tasks_finished = 0;
  // Tasks cancelled.
  size_t tasks_cancelled = 0;
  // Blocking jobs that ended within the grace.
  size_t blocking_finished = 0;
  // Blocking jobs dropped before they started.
  size_t blocking_cancelled = 0;
  // Blocking jobs still running at the deadline: they cannot be stopped, so
  // they finish on their own threads, detached (their results are dropped).
  size_t blocking_detached = 0;
};

// The worker threads, their timers and reactor: where tasks run. Spawn with
// spawn() on a worker or handle().spawn() from anywhere; wait from outside
// with block_on(). Destroying it cancels what is left (see ~Runtime and
// shutdown(grace)). Move-only.
class Runtime {
 public:
  // std::thread::hardware_concurrency() workers (at least 1).
  Runtime();
  // With the given options (workers, blocking pool); aborts with a message if
  // the OS refuses a thread or an fd (create() reports it instead).
  explicit Runtime(const RuntimeOptions& options);
  // `n` workers (0: hardware_concurrency()), otherwise the defaults.
  static Runtime with_workers(size_t n);
  // The same, reporting failure (the OS refused a thread or an fd) as a
  // status instead of aborting.
  static absl::StatusOr<Runtime> create(size_t workers);
  static absl::StatusOr<Runtime> create(const RuntimeOptions& options);

  // Move-only; a moved-from Runtime owns nothing (its destructor does nothing).
  Runtime(Runtime&& other) noexcept : e_(std::exchange(other.e_, nullptr)) {}
  Runtime& operator=(Runtime&& other) noexcept;
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;
  // Joins the workers; tasks that have not completed are cancelled (their
  // JoinHandles fail with CancelledError). Must not run on a worker.
  // Blocking jobs not started are dropped; running ones are left to finish.
  ~Runtime();

  // A graceful shutdown. From now on, spawns (and spawn_blocking) from
  // outside the runtime fail with FailedPrecondition; its own tasks may still
  // spawn. Tasks and blocking jobs get `grace` to finish; then what is left is
  // cancelled as by ~Runtime (a running blocking job cannot be stopped: it is
  // left to finish detached, and counted in blocking_detached). Returns what
  // happened. The Runtime is shut down afterwards (its destructor does nothing
  // more). Called from one of its workers: reported misuse, and a zero report.
  // Stop the sources of new work first (stop accepting, close channels): a
  // task that waits forever is cancelled only at the deadline.
  ShutdownReport shutdown(absl::Duration grace);

  // A handle to this runtime, for spawning from any thread.
  Handle handle() const { return Handle(e_); }
  // Worker threads (0 for a moved-from Runtime).
  size_t num_workers() const { return e_ != nullptr ? e_->num_workers() : 0; }

  // Waits for a future on the calling thread (which must not be a worker of
  // any runtime: that returns FailedPrecondition).
  template <class T>
  detail::Result<T> block_on(Future<T> f) {
    return detail::BlockOn(std::move(f));
  }
  template <class T>
  detail::Result<T> block_on(JoinHandle<T> h) {
    return detail::BlockOn(std::move(h).into_future());
  }
  // Runs f() on the runtime and waits for it (and for the future it
  // returns, if any).
  template <class F, class = std::enable_if_t<std::is_invocable<F&>::value>>
  auto block_on(F f) {
    return detail::BlockOn(handle().spawn(std::move(f)).into_future());
  }

 private:
  explicit Runtime(executor::Executor* e) : e_(e) {}
  executor::Executor* e_ = nullptr;
};

// block_on on a runtime made for this call (hardware_concurrency workers).
template <class T>
detail::Result<T> block_on(Future<T> f) {
  Runtime rt;
  return rt.block_on(std::move(f));
}
// A task's result, waited for on this (non-worker) thread; the task runs on its
// own runtime, so no runtime is made here.
template <class T>
detail::Result<T> block_on(JoinHandle<T> h) {
  return detail::BlockOn(std::move(h).into_future());
}
template <class F, class = std::enable_if_t<std::is_invocable<F&>::value>>
auto block_on(F f) {
  Runtime rt;
  return rt.block_on(std::move(f));
}

template <class T>
// Later continuations run on `handle`'s runtime (declared in future.h).
Future<T> Future<T>::via(const Handle& handle) && {
  Future<T> out = std::move(*this);
  out.set_via(detail::HandleAccess::executor(handle));
  return out;
}

}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_FUTURE_RUNTIME_H_
