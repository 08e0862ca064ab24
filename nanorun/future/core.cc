// Running continuations: the trampoline that keeps long chains off the
// stack, and the hand-over to a runtime a continuation is bound to.
#include <deque>
#include <utility>
#include <vector>

#include "nanorun/future/core.h"
#include "nanorun/waker/poll.h"

namespace nanorun {
inline namespace v0 {
namespace detail {
namespace {

// Nested dispatches (user code inside a continuation fulfilling another
// promise, whose continuation fulfils another, ...) beyond this depth are
// queued and run by the outermost dispatch on this thread. Incidental.
constexpr int kMaxNestedDispatch = 16;

struct Deferred {
  Continuation* continuation;
  StateBase* source;
};

thread_local int tl_dispatch_depth = 0;
// Allocated only while dispatches nest past the limit, freed once drained:
// a thread_local with a destructor crashed at thread exit under mingw's
// winpthreads (the deque was destroyed from freed TLS storage).
thread_local std::deque<Deferred>* tl_deferred = nullptr;

// Runs `c` as cancelled (its runtime shut down before it could run). Out of
// line: inlined into the task's destructor, gcc 12 -O2 reports a bogus
// -Warray-bounds on the call through c->fn.
__attribute__((noinline)) void Cancel(Continuation* c, StateBase* source) {
  StateBase* next_source = nullptr;
  Continuation* next = c->fn(c, source, /*cancelled=*/true, &next_source);
  if (next != nullptr) Dispatch(next, next_source);
}

// A continuation that must run on another runtime travels there as a task.
// If that runtime has shut down, the task is cancelled without running, and
// the destructor cancels the continuation (no user code runs; its future
// fails with CancelledError).
class PostedContinuation {
 public:
  using Output = absl::Status;

  PostedContinuation(Continuation* c, StateBase* source) : c_(c), source_(source) {}
  PostedContinuation(PostedContinuation&& other) noexcept
      : c_(std::exchange(other.c_, nullptr)), source_(other.source_) {}
  PostedContinuation& operator=(PostedContinuation&&) = delete;
  ~PostedContinuation() {
    if (c_ != nullptr) Cancel(c_, source_);
  }

  Poll<Output> poll(Context&) {
    Dispatch(std::exchange(c_, nullptr), source_);
    return Poll<Output>::ready(absl::OkStatus());
  }

 private:
  Continuation* c_;
  StateBase* source_;
};

// Runs a chain until it ends (or a continuation posted itself elsewhere).
void RunChain(Continuation* c, StateBase* source) {
  while (c != nullptr) {
    StateBase* next_source = nullptr;
    c = c->fn(c, source, /*cancelled=*/false, &next_source);
    source = next_source;
  }
}

}  // namespace

namespace {
StopStep CallStopHook(StateBase* state, uint32_t flags) {
  if (flags & StateBase::kSettlesSoon) return StopStep{nullptr, nullptr, true};
  char* at = reinterpret_cast<char*>(state) + state->stop_offset(flags);
  if (flags & StateBase::kStopHook) return (*reinterpret_cast<StopHookFn*>(at))(state);
  // A gate: pass the request on to what it awaits. Idle (its continuation
  // runs now, or the loop is between steps), the consumer applies the stop at
  // its next step and settles soon by itself.
  StopGate* gate = reinterpret_cast<StopGate*>(at);
  StateBase* awaited = gate->begin_stop();
  if (awaited == nullptr) return StopStep{nullptr, nullptr, true};
  return StopStep{awaited, gate, false};
}
}  // namespace

void StopGate::finish() {
  uint32_t w = word.load(std::memory_order_acquire);
  for (;;) {
    bool deferred = (w & kPhase) == kDeferred;
    uint32_t next = deferred ? (kIdle | kStopped) : (kAwaiting | kStopped);
    if (word.compare_exchange_weak(w, next, std::memory_order_acq_rel)) {
      if (!deferred) return;
      // The awaited state settled while the request walked through it: run the
      // continuation now, as its producer would have.
      bool cancelled = w & kDeferredCancelled;
      StateBase* next_source = nullptr;
      Continuation* more = fn(this, awaited, cancelled, &next_source);
      if (more != nullptr) Dispatch(more, next_source);
      return;
    }
  }
}

bool RequestStop(StateBase* state) {
  // Gates closed on the way up, finished on the way back (the one nearest the
  // source first, so each deferred continuation it runs finds the next gate
  // still closed and defers to it in turn: no recursion either way).
  StopGate* inline_gates[8];
  size_t count = 0;
  std::vector<StopGate*> more_gates;
  bool stoppable = false;
  for (;;) {
    uint32_t old = state->flags.fetch_or(StateBase::kStopRequested, std::memory_order_acq_rel);
    if (old & StateBase::kResult) {
      stoppable = true;  // Settled already.
      break;
    }
    if ((old & StateBase::kStopRequested) || !(old & StateBase::kStoppable)) break;
    StopStep step = CallStopHook(state, old);
    if (step.gate != nullptr) {
      if (count < 8) {
        inline_gates[count++] = step.gate;
      } else {
        more_gates.push_back(step.gate);
      }
    }
    if (step.upstream == nullptr) {
      stoppable = step.stoppable;
      break;
    }
    state = step.upstream;
  }
  for (auto it = more_gates.rbegin(); it != more_gates.rend(); ++it) (*it)->finish();
  while (count > 0) inline_gates[--count]->finish();
  return stoppable;
}

bool StopAwaited(StopGate* gate) {
  StateBase* awaited = gate->begin_stop();
  if (awaited == nullptr) return true;
  bool stoppable = RequestStop(awaited);
  gate->finish();
  return stoppable;
}

void PostTo(executor::Executor* target, Continuation* c, StateBase* source) {
  executor::SpawnOptions options;
  options.completes_on_first_poll = true;  // Ready on its first poll.
  // The continuation holds a reference on `target`, but once queued it may run
  // on a worker and drop it before spawn returns (the push is followed by a
  // wake of a parked worker): hold one of our own across the call.
  target->retain();
  // Detached: the continuation's own future reports the outcome.
  target->spawn(PostedContinuation(c, source), options);
  target->drop_ref();
}

void Dispatch(Continuation* c, StateBase* source) {
  if (tl_dispatch_depth >= kMaxNestedDispatch) {
    if (tl_deferred == nullptr) tl_deferred = new std::deque<Deferred>();
    tl_deferred->push_back(Deferred{c, source});
    return;
  }
  ++tl_dispatch_depth;
  RunChain(c, source);
  if (tl_dispatch_depth == 1 && tl_deferred != nullptr) {
    while (!tl_deferred->empty()) {
      Deferred next = tl_deferred->front();
      tl_deferred->pop_front();
      RunChain(next.continuation, next.source);
    }
    delete std::exchange(tl_deferred, nullptr);
  }
  --tl_dispatch_depth;
}

}  // namespace detail
}  // namespace v0
}  // namespace nanorun
