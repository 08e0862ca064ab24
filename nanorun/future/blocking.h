// spawn_blocking: runs a function that blocks (a database driver, a file
// read, getaddrinfo) on the runtime's blocking pool (nanorun/blocking), never
// on an async worker, and gives its result as a Future.
//
//   Future<std::string> config = nanorun::spawn_blocking([path] { return ReadFile(path); });
//
// F returns R, absl::StatusOr<R>, absl::Status or void (not a Future: async
// work goes to spawn()). Its continuations follow the usual rules
// (docs/futures.md): attached on a worker of the runtime, they run there.
//
// Cancel rules: a job still queued when its future is stopped (dropped, timed
// out, its task aborted) is taken out and never runs (CancelledError). A job
// that is running cannot be stopped: the stop request answers "cannot stop"
// (a timeout around it fails with DeadlineExceeded at its deadline and drops
// the late result), and the job runs to its end. At runtime shutdown, jobs
// that have not started are dropped (CancelledError); running ones finish on
// their own threads (see Runtime::shutdown).
#ifndef NANORUN_FUTURE_BLOCKING_H_
#define NANORUN_FUTURE_BLOCKING_H_

#include <memory>
#include <new>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "nanorun/blocking/blocking_pool.h"
#include "nanorun/executor/executor.h"
#include "nanorun/future/core.h"
#include "nanorun/future/future.h"
#include "nanorun/future/runtime.h"
#include "nanorun/task/block_cache.h"

namespace nanorun {
inline namespace v0 {
namespace detail {

template <class R>
struct IsAsyncResult : std::false_type {};
template <class X>
struct IsAsyncResult<Future<X>> : std::true_type {};
template <class X>
struct IsAsyncResult<JoinHandle<X>> : std::true_type {};

// One allocation per job: the future's state, the pool's links, and f.
// Whoever wins the job's claim (a pool thread to run or drop it, or the stop
// hook to take it back) alone destroys f, lets go of the pool and settles.
template <class U, class F>
struct BlockingJobState final : SharedState<U>, blocking::Job {
  std::shared_ptr<blocking::BlockingPool> pool;
  StopHookFn hook = &OnStop;
  union {
    F f;
  };

  BlockingJobState(F fn, std::shared_ptr<blocking::BlockingPool> p) : pool(std::move(p)) {
    new (&f) F(std::move(fn));
    this->run = &Run;
    this->drop = &Drop;
  }
  ~BlockingJobState() {}

  static BlockingJobState* Create(F fn, std::shared_ptr<blocking::BlockingPool> p) {
    void* memory = task::AllocateBlock(sizeof(BlockingJobState));
    auto* s = new (memory) BlockingJobState(std::move(fn), std::move(p));
    s->alloc_size = sizeof(BlockingJobState);
    s->set_stop_hook(&s->hook);
    return s;
  }
  // Never submitted: frees it (the caller keeps its future from being used).
  void discard() {
    f.~F();
    pool.reset();
    size_t size = this->alloc_size;
    this->~BlockingJobState();
    task::FreeBlock(static_cast<void*>(this), size);
  }

  void settle(Result<U> r) {
    this->store(std::move(r));
    if (Continuation* c = Publish<U>(this)) Dispatch(c, this);  // Last touch.
  }

  static void Run(blocking::Job* job) {
    auto* s = static_cast<BlockingJobState*>(job);
    std::shared_ptr<blocking::BlockingPool> keep = std::move(s->pool);
    Result<U> r = CallToFuture<U>(s->f).take_result();
    s->f.~F();
    s->settle(std::move(r));
  }
  static void Drop(blocking::Job* job) {
    auto* s = static_cast<BlockingJobState*>(job);
    std::shared_ptr<blocking::BlockingPool> keep = std::move(s->pool);
    s->f.~F();
    s->settle(absl::CancelledError(
        "spawn_blocking: the runtime shut down before the job started; it never ran"));
  }
  static StopStep OnStop(StateBase* state) {
    auto* s = static_cast<BlockingJobState*>(static_cast<SharedState<U>*>(state));
    if (!s->try_claim()) return StopStep{nullptr, nullptr, /*stoppable=*/false};  // Running.
    std::shared_ptr<blocking::BlockingPool> pool = std::move(s->pool);
    pool->remove(s);
    s->f.~F();
    s->settle(absl::CancelledError(
        "spawn_blocking: stopped before the job started (its future was dropped, a timeout "
        "passed, or its task was aborted); it never ran"));
    return StopStep{nullptr, nullptr, /*stoppable=*/true};
  }
};

template <class F>
auto SpawnBlockingOn(executor::Executor* e, F f) {
  using R = std::invoke_result_t<F&>;
  static_assert(!IsAsyncResult<std::decay_t<R>>::value,
                "spawn_blocking(f): f returns a Future or JoinHandle; async work belongs on "
                "the runtime's workers: use spawn(f)");
  using U = SpawnResult<F>;
  if (e == nullptr) {
    return make_error_future<U>(absl::FailedPreconditionError(
        "spawn_blocking called outside a runtime (no current worker and no valid Handle): "
        "call it from a task, or use Runtime::handle().spawn_blocking(...)"));
  }
  if (e->is_draining() && executor::Executor::current() != e) {
    return make_error_future<U>(absl::FailedPreconditionError(
        "spawn_blocking: the runtime is shutting down (Runtime::shutdown was called); jobs "
        "from outside it are refused"));
  }
  auto* s = BlockingJobState<U, F>::Create(std::move(f), e->blocking_pool_ref());
  if (!e->blocking_pool().submit(s)) {
    s->discard();
    return make_error_future<U>(absl::CancelledError(
        "spawn_blocking: the runtime has shut down; the job was not run"));
  }
  task::NoteWait(task::WaitKind::kBlocking);  // For Handle::dump().
  return nanorun::detail::FutureAccess::from_state<U>(s);
}

}  // namespace detail

// f() on the current runtime's blocking pool. Off a runtime: a future that
// fails with FailedPrecondition.
template <class F>
auto spawn_blocking(F f) {
  return detail::SpawnBlockingOn(executor::Executor::current(), std::move(f));
}

template <class F>
auto Handle::spawn_blocking(F f) const {
  return detail::SpawnBlockingOn(e_, std::move(f));
}

}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_FUTURE_BLOCKING_H_
