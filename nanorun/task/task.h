// Task<Body>: a spawned unit of work in exactly one heap allocation.
//
//   +-----------------------+  offset 0
//   | Header (state, vtable,|  <- queues, wakers and join handles hold this
//   |  scheduler, links,    |
//   |  join waker)          |
//   +-----------------------+
//   | stage: Body | Output  |  the body until it is Ready, then its output
//   +-----------------------+
//
// A Body is any type with
//     using Output = ...;                     // constructible from absl::Status
//     Poll<Output> poll(Context& cx);
// or, if it declares a `Pinned` type,
//     Poll<Output> poll(Context& cx, Pinned& pinned);
// A Pinned object lives outside the body/output union, for the whole life of
// the allocation: a body can hand its address to someone (say, as a future's
// continuation) that may still use it after the body itself was dropped.
// An aborted or shut-down task gets Output(absl::CancelledError(...)); an
// exception escaping poll becomes Output(absl::UnknownError(what)).
#ifndef NANORUN_TASK_TASK_H_
#define NANORUN_TASK_TASK_H_

#include <new>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "nanorun/task/block_cache.h"
#include "nanorun/task/header.h"
#include "nanorun/task/user_code.h"
#include "nanorun/waker/poll.h"
#include "nanorun/waker/waker.h"

namespace nanorun {
inline namespace v0 {
namespace task {

template <class Body, class = void>
struct PinnedOf {
  struct type {};
  static constexpr bool kHas = false;
};
template <class Body>
struct PinnedOf<Body, std::void_t<typename Body::Pinned>> {
  using type = typename Body::Pinned;
  static constexpr bool kHas = true;
};

// References a new task starts with: its Notified (about to be queued) and
// its JoinHandle.
constexpr uint64_t kInitialRefs = 2;

template <class Body>
class Task final : public Header, private BlockCached {
 public:
  using Output = typename Body::Output;

  // Returns the new task's header, carrying kInitialRefs references.
  static Header* Create(Body body, Scheduler* scheduler) {
    return new Task(std::move(body), scheduler);
  }

  // Tasks come from the per-thread block cache (block_cache.h).
  using BlockCached::operator new;
  using BlockCached::operator delete;

 private:
  enum class Stage : unsigned char { kBody, kOutput, kConsumed };

  Task(Body body, Scheduler* scheduler)
      : Header(&kVTable, scheduler, kInitialRefs), stage_(Stage::kBody) {
    new (&body_) Body(std::move(body));
  }
  ~Task() {
    drop_stage();
    // Most tasks never had a join waker: skip the indirect call then.
    if (join_waker.vtable != &detail::kNoopWakerVTable) {
      join_waker.vtable->drop(join_waker.data);
    }
    // Only a task in the scheduler's registry may tell it: the scheduler stays
    // alive until each of those is freed, but not for the others (spawned after
    // shutdown, or never idle), which may outlive it through a JoinHandle.
    if (!state.is_unregistered()) scheduler->task_freed(this);
  }

  static Task* cast(Header* h) { return static_cast<Task*>(h); }

  nanorun::Poll<Output> poll_body(Context& cx) {
    if constexpr (PinnedOf<Body>::kHas) {
      return body_.poll(cx, pinned_);
    } else {
      return body_.poll(cx);
    }
  }

  void drop_stage() {
    if (stage_ == Stage::kBody) body_.~Body();
    if (stage_ == Stage::kOutput) output_.~Output();
    stage_ = Stage::kConsumed;
  }

  void store_output(Output output) {
    drop_stage();
    new (&output_) Output(std::move(output));
    stage_ = Stage::kOutput;
  }

  // The caller owns the task (RUNNING), holds one reference, and has stored
  // the output.
  void complete() {
    uint64_t before = state.transition_to_complete();
    if ((before & State::kJoinInterest) == 0) {
      drop_stage();  // Nobody will read it.
    } else if (before & State::kJoinWaker) {
      join_waker.vtable->wake_by_ref(join_waker.data);
    }
    if (state.ref_dec()) delete this;
  }

  void cancel(const char* why) {
    store_output(Output(absl::CancelledError(why)));
    complete();
  }

  static PollOutcome Poll(Header* h) {
    Task* t = cast(h);
    switch (t->state.transition_to_running()) {
      case State::RunResult::kSuccess:
        break;
      case State::RunResult::kCancelled:
        t->cancel("task aborted by JoinHandle::abort()");
        return PollOutcome::kAborted;
      case State::RunResult::kFailed:
        return PollOutcome::kNothing;
      case State::RunResult::kDealloc:
        delete t;
        return PollOutcome::kNothing;
    }
    // The waker borrows the poller's reference: it is never dropped here;
    // clones made by the body take their own references.
    Waker waker = Waker::from_raw(RawWaker{h, &kTaskWakerVTable});
    Context cx(waker);
    bool ready = false;
    CallUserCode(
        [&] {
          nanorun::Poll<Output> result = t->poll_body(cx);
          if (result.is_ready()) {
            t->store_output(std::move(result).value());
            ready = true;
          }
        },
        [&](absl::Status error) {
          t->store_output(Output(std::move(error)));
          ready = true;
        });
    (void)std::move(waker).into_raw();
    if (ready) {
      t->complete();
      return PollOutcome::kCompleted;
    }
    switch (t->state.transition_to_idle()) {
      case State::IdleResult::kOk:
        return PollOutcome::kPending;
      case State::IdleResult::kOkDealloc:
        // Every handle and waker is gone: nothing can wake it again. The
        // scheduler learns it ended unfinished from task_freed.
        delete t;
        return PollOutcome::kNothing;
      case State::IdleResult::kOkNotified:
        t->scheduler->schedule(h, /*is_yield=*/true);
        return PollOutcome::kPending;
      case State::IdleResult::kCancelled:
        t->cancel("task aborted by JoinHandle::abort()");
        return PollOutcome::kAborted;
    }
    return PollOutcome::kPending;
  }

  static bool Shutdown(Header* h) {
    Task* t = cast(h);
    if (!t->state.transition_to_shutdown()) return false;
    // Claimed: we own the task as if we were polling it. complete() drops
    // the reference a poller would hold, so take one for ourselves first.
    t->state.ref_inc();
    t->cancel("runtime shut down before the task completed");
    return true;
  }

  static void Dealloc(Header* h) { delete cast(h); }

  static void ReadOutput(Header* h, void* out) {
    Task* t = cast(h);
    new (out) Output(std::move(t->output_));
    t->drop_stage();
  }

  static void DropOutput(Header* h) { cast(h)->drop_stage(); }

  static const TaskVTable kVTable;

  Stage stage_;
  typename PinnedOf<Body>::type pinned_;
  union {
    Body body_;
    Output output_;
  };
};

template <class Body>
const TaskVTable Task<Body>::kVTable = {&Task::Poll, &Task::Shutdown,
                                        &Task::Dealloc, &Task::ReadOutput,
                                        &Task::DropOutput};

}  // namespace task
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_TASK_TASK_H_
