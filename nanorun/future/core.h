// The shared state between a Promise<T> (producer) and a Future<T>
// (consumer), and the continuation that runs when the result arrives.
//
//                 producer: publish()                 consumer: attach(c)
//   [empty] ---------------------------> [RESULT] ---------------------------+
//      |                                     |   consumer takes the result    |
//      | consumer: attach(c)                 |   itself (is_ready / then on a |
//      v                                     |   ready state): frees state    |
//  [CALLBACK] -- producer: publish() -->  dispatch(c, state): c takes the <--+
//      |                                  result and frees the state
//      | consumer dropped the future: [CONSUMER_GONE]; publish() then
//      +-- destroys the result and frees the state itself.
//
// A consumer may also ask the producer to stop (RequestStop, StopGate below;
// docs/cancellation.md): the producer then settles early, with CancelledError.
//
// Each side sets its bit with one acq_rel fetch_or; whoever sets the second
// bit finishes the job. The producer writes the result before setting RESULT
// (release) and the consumer reads it after seeing RESULT (acquire); the
// same holds for the continuation pointer and CALLBACK. No locks, and no
// reference count: exactly two parties, each acts once.
//
// A state is always the first base of its allocation (from the block cache,
// task/block_cache.h), and everything else in that allocation is destroyed
// before the state is freed, so freeing is FreeBlock(state, alloc_size)
// whatever the allocation was.
#ifndef NANORUN_FUTURE_CORE_H_
#define NANORUN_FUTURE_CORE_H_

#include <atomic>
#include <cstdint>
#include <new>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nanorun/executor/executor.h"
#include "nanorun/task/block_cache.h"
#include "nanorun/task/trace.h"

namespace nanorun {
inline namespace v0 {
namespace detail {

// The result a Future<T> settles with: absl::StatusOr<T>, or absl::Status
// for void.
template <class T>
struct ResultOf {
  using type = absl::StatusOr<T>;
};
template <>
struct ResultOf<void> {
  using type = absl::Status;
};
template <class T>
using Result = typename ResultOf<T>::type;

struct StateBase;

// What a consumer attaches: one function pointer. A continuation bound to a
// runtime (a .then node attached on a worker) checks that itself when it
// runs, and hands itself over with PostTo() when it is on the wrong thread;
// the others run wherever they are called.
struct Continuation {
  // Called exactly once, with `source` holding its result; takes ownership
  // of `source` (takes the result and frees it). `cancelled`: the executor
  // this continuation was bound to shut down, so no user code may run; the
  // continuation fails its output with absl::CancelledError instead. May
  // return a further continuation (with *next_source) that became runnable,
  // which the caller runs in the same loop: this is what keeps a chain of a
  // million `.then`s off the stack.
  using Fn = Continuation* (*)(Continuation* self, StateBase* source,
                               bool cancelled, StateBase** next_source);
  Fn fn;
};

// Runs `c` (with `source`) on a worker of `target`, as a task. If `target`
// has shut down, c->fn is called with cancelled = true instead.
void PostTo(executor::Executor* target, Continuation* c, StateBase* source);

// True if a continuation bound to `target` may run on this thread now.
inline bool RunsHere(executor::Executor* target) {
  return target == nullptr || executor::Executor::current() == target;
}

// What a producer's stop hook tells RequestStop (below).
struct StopGate;
struct StopStep {
  // A state this producer itself waits on, to ask next (a `.then` node's
  // input), or null.
  StateBase* upstream = nullptr;
  // The producer's own gate on `upstream`, finished once the walk is over.
  StopGate* gate = nullptr;
  // With no upstream: the producer will settle soon by itself (a sleep that
  // unlinked its timer, a socket operation that was disarmed, ...). False: it
  // cannot be stopped (a Promise: only its owner settles it).
  bool stoppable = false;
};

using StopHookFn = StopStep (*)(StateBase* self);

struct StateBase {
  static constexpr uint32_t kResult = 1;
  static constexpr uint32_t kCallback = 2;
  static constexpr uint32_t kConsumerGone = 4;
  // A stop was requested (set once, by RequestStop).
  static constexpr uint32_t kStopRequested = 8;
  // How a stop request reaches the producer; set before the future is handed
  // out. No pointer in every state for it (a promise's state stays 32 bytes):
  // the producer's allocation holds what is needed, `stop_offset()` bytes
  // from the state.
  //  kStopGate: a StopGate (a `.then` node, a repeat loop): the request goes on
  //    to what that gate awaits;
  //  kStopHook: a StopHookFn, called with the state;
  //  kSettlesSoon: nothing to do, the producer settles soon by itself.
  static constexpr uint32_t kStopGate = 16;
  static constexpr uint32_t kStopHook = 32;
  static constexpr uint32_t kSettlesSoon = 64;
  static constexpr uint32_t kStoppable = kStopGate | kStopHook | kSettlesSoon;
  static constexpr int kOffsetShift = 8;  // Bits 8..31: the offset.
  static constexpr size_t kMaxStopOffset = (size_t{1} << (32 - kOffsetShift)) - 1;

  std::atomic<uint32_t> flags{0};
  // Size of the whole allocation this state heads (it may be a larger
  // node), for returning it to the block cache. Fills padding.
  uint32_t alloc_size = 0;
  Continuation* continuation = nullptr;  // Valid once kCallback is set.

  bool has_result() const {
    return flags.load(std::memory_order_acquire) & kResult;
  }
  // Producer side, before the future is handed out. A stop hook is called at
  // most once, by the consumer's side, while the state has no result and the
  // consumer keeps it alive. It must not run user code (it may publish the
  // result: the consumer's continuation then runs once the request is over).
  void set_stop_gate(const StopGate* gate) { set_stop(kStopGate, gate); }
  void set_stop_hook(const StopHookFn* hook) { set_stop(kStopHook, hook); }
  void set_settles_soon() {
    flags.store(flags.load(std::memory_order_relaxed) | kSettlesSoon, std::memory_order_relaxed);
  }
  size_t stop_offset(uint32_t f) const { return f >> kOffsetShift; }

 private:
  void set_stop(uint32_t kind, const void* at) {
    size_t offset = static_cast<size_t>(static_cast<const char*>(at) -
                                        reinterpret_cast<const char*>(this));
    if (offset > kMaxStopOffset) return;  // A > 16 MiB result: cannot be stopped.
    flags.store(flags.load(std::memory_order_relaxed) | kind |
                    static_cast<uint32_t>(offset << kOffsetShift),
                std::memory_order_relaxed);
  }
};

// A consumer's side of a stop request, for a consumer that is attached (its
// continuation will run) and wants to ask the producer of what it awaits to
// stop. The producer may settle that state on another thread at the same
// moment, and the continuation frees it: the gate keeps the continuation from
// running (it is deferred to the requester) while the request walks upstream,
// so what the walk touches stays alive. The continuation is the gate itself.
//
//   kIdle --await(s)--> kAwaiting --begin_stop()--> kStopping --finish()--> kAwaiting
//     ^                     | enter_run()               | enter_run(): deferred
//     +---------------------+                           v
//                                                   kDeferred --finish() runs it--> kIdle
//
// kStopped is sticky: once a stop was requested, the consumer stops at its next
// step (checked with stop_requested()).
struct StopGate : Continuation {
  static constexpr uint32_t kIdle = 0, kAwaiting = 1, kStopping = 2, kDeferred = 3;
  static constexpr uint32_t kPhase = 3, kStopped = 4, kDeferredCancelled = 8;

  explicit StopGate(Fn fn) : Continuation{fn} {}

  // Before attaching to `s`. False if a stop was requested meanwhile (the
  // phase stays kIdle): the caller handles it and then calls await_stopped().
  bool await(StateBase* s) {
    awaited = s;
    uint32_t expected = kIdle;
    return word.compare_exchange_strong(expected, kAwaiting, std::memory_order_acq_rel);
  }
  // The first await of a gate nobody else can see yet: no race to settle.
  void await_fresh(StateBase* s) {
    awaited = s;
    word.store(kAwaiting, std::memory_order_relaxed);
  }
  // Attaching after a stop was requested (a stop is asked for once).
  void await_stopped(StateBase* s) {
    awaited = s;
    word.store(kAwaiting | kStopped, std::memory_order_release);
  }
  // In the continuation, before it consumes the awaited state: false means a
  // stop request is walking through it; the requester runs the continuation
  // when it is done, with the same arguments.
  bool enter_run(bool cancelled) {
    uint32_t w = word.load(std::memory_order_acquire);
    for (;;) {
      uint32_t phase = w & kPhase;
      uint32_t next = phase == kStopping
                          ? (w & ~kPhase) | kDeferred | (cancelled ? kDeferredCancelled : 0)
                          : (w & kStopped);  // kIdle
      if (word.compare_exchange_weak(w, next, std::memory_order_acq_rel)) {
        return phase != kStopping;
      }
    }
  }
  bool stop_requested() const { return word.load(std::memory_order_acquire) & kStopped; }

  // Requester side (one party per stop). Marks the stop; if the consumer
  // awaits a state, returns it with the gate closed (kStopping), else null.
  StateBase* begin_stop() {
    uint32_t w = word.load(std::memory_order_acquire);
    for (;;) {
      if (w & kStopped) return nullptr;  // Asked already.
      bool awaiting = (w & kPhase) == kAwaiting;
      uint32_t next = awaiting ? (kStopping | kStopped) : (w | kStopped);
      if (word.compare_exchange_weak(w, next, std::memory_order_acq_rel)) {
        return awaiting ? awaited : nullptr;
      }
    }
  }
  // Opens the gate again; runs the continuation if it arrived meanwhile.
  void finish();

  std::atomic<uint32_t> word{kIdle};
  StateBase* awaited = nullptr;
};

// Asks the producer of `state` to stop, and through it whatever that producer
// waits on, in a loop (a chain of a million `.then`s is walked without
// recursion). The caller keeps `state` alive: it is its unattached consumer,
// or it holds the gate closed (StopAwaited). Returns whether the work will
// settle soon by itself (true if it already has).
bool RequestStop(StateBase* state);
// The same for the state `gate` awaits, if it still does. Returns true if
// there was nothing left to stop (the continuation had run).
bool StopAwaited(StopGate* gate);

template <class T>
struct SharedState : StateBase {
  static_assert(alignof(Result<T>) <= task::kBlockAlign,
                "nanorun: a Future<T> whose T needs more than 16-byte alignment "
                "(alignas(32) or more) is not supported: hold the value by "
                "std::unique_ptr<T> instead");
  SharedState() {}
  ~SharedState() {}  // The result is destroyed by whoever takes it.

  void store(Result<T> r) { new (&result) Result<T>(std::move(r)); }
  // Moves the result out, destroys it, and frees the state.
  Result<T> take_and_free() {
    Result<T> r = std::move(result);
    destroy_and_free();
    return r;
  }
  void destroy_and_free() {
    result.~Result<T>();
    free_without_result();
  }
  // Frees a state that never received a result.
  void free_without_result() {
    size_t size = alloc_size;
    this->~SharedState();
    task::FreeBlock(static_cast<void*>(this), size);
  }

  // A fresh state in its own allocation.
  static SharedState* Create() {
    void* memory = task::AllocateBlock(sizeof(SharedState));
    auto* state = new (memory) SharedState();
    state->alloc_size = sizeof(SharedState);
    return state;
  }

  union {
    Result<T> result;
  };
};

// Runs `c` on `source`, then every continuation that becomes runnable as a
// result, in a loop (see Continuation::Fn). Nested
// dispatches (a continuation fulfilling another promise) are depth-limited:
// past the limit they are queued and run by the outermost dispatch.
void Dispatch(Continuation* c, StateBase* source);

// Producer side: marks the result stored. Returns the continuation to run
// (with `state` as its source) if one is attached, else nullptr; frees the
// state if the consumer is gone.
// *old_flags (if given) receives the flags before, for a producer that must
// know whether a stop request may be inside its stop hook right now.
template <class T>
Continuation* Publish(SharedState<T>* state, uint32_t* old_flags = nullptr) {
  uint32_t old = state->flags.fetch_or(StateBase::kResult, std::memory_order_acq_rel);
  if (old_flags != nullptr) *old_flags = old;
  if (old & StateBase::kCallback) return state->continuation;
  if (old & StateBase::kConsumerGone) state->destroy_and_free();
  return nullptr;
}

// Consumer side: attaches `c`. If the result is already there, dispatches
// it right away on the calling thread (a bound `c` may post itself).
// For Handle::dump(): notes what a task's poll leaves it waiting on, from
// how `state` can be stopped (a leaf noted in the same poll wins: see
// task::NoteWait). Nothing unless the task being polled is traced.
inline void NoteWaitOn(const StateBase* state) {
  uint32_t f = state->flags.load(std::memory_order_relaxed);
  task::NoteWait((f & StateBase::kStopGate) != 0   ? task::WaitKind::kChain
                 : (f & StateBase::kStoppable) != 0 ? task::WaitKind::kOperation
                                                    : task::WaitKind::kPromise);
}

inline void Attach(StateBase* state, Continuation* c) {
  state->continuation = c;
  uint32_t old = state->flags.fetch_or(StateBase::kCallback, std::memory_order_acq_rel);
  if (old & StateBase::kResult) Dispatch(c, state);
}

// Consumer side: gives up without attaching. The producer is asked to stop
// first (a sleep leaves the wheel at once instead of at its deadline).
template <class T>
void Abandon(SharedState<T>* state) {
  // Relaxed: the stop kind was set before the future reached this consumer.
  if (state->flags.load(std::memory_order_relaxed) & StateBase::kStoppable) RequestStop(state);
  uint32_t old = state->flags.fetch_or(StateBase::kConsumerGone, std::memory_order_acq_rel);
  if (old & StateBase::kResult) state->destroy_and_free();
}

}  // namespace detail
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_FUTURE_CORE_H_
