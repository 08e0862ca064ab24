// Wakers: how a pending computation asks to be polled again.
//
// A RawWaker is a data pointer plus a hand-written vtable, exactly like Rust's
// core::task::RawWaker: the executor decides what `data` points to (for a
// spawned task, its header) and what clone/wake/drop mean (reference counting
// and rescheduling). Waker owns one RawWaker: copying clones it, destroying
// drops it. No allocation happens here; the vtable functions decide that.
#ifndef NANORUN_WAKER_WAKER_H_
#define NANORUN_WAKER_WAKER_H_

#include <utility>

namespace nanorun {
inline namespace v0 {

struct RawWaker;

// The four operations every waker provides. All must be thread-safe.
//   clone:       returns a new RawWaker for the same target (e.g. +1 ref).
//   wake:        wakes the target and releases this RawWaker (consumes it).
//   wake_by_ref: wakes the target; this RawWaker stays valid.
//   drop:        releases this RawWaker without waking.
struct RawWakerVTable {
  // A new RawWaker for the same target (e.g. one more reference).
  RawWaker (*clone)(const void* data);
  // Wakes the target and releases this RawWaker.
  void (*wake)(const void* data);
  // Wakes the target; this RawWaker stays valid.
  void (*wake_by_ref)(const void* data);
  // Releases this RawWaker without waking.
  void (*drop)(const void* data);
};

// A waker without ownership rules: what `data` points to and the operations
// on it. Waker owns one.
struct RawWaker {
  // The target (for a spawned task, its header).
  const void* data;
  // The operations on `data`.
  const RawWakerVTable* vtable;
};

namespace detail {
// The vtable of the no-op waker (defined in waker.cc).
extern const RawWakerVTable kNoopWakerVTable;
}  // namespace detail

// Owns one RawWaker: copying clones it, destroying drops it, wake() wakes
// its target. What a pending poll function keeps to be polled again.
class Waker {
 public:
  // A waker whose operations do nothing; also what a moved-from Waker holds.
  Waker() noexcept : raw_{nullptr, &detail::kNoopWakerVTable} {}
  // The same no-op waker, by name.
  static Waker noop() noexcept { return Waker(); }

  // Takes ownership of `raw`; its vtable's drop runs when this Waker dies.
  static Waker from_raw(RawWaker raw) noexcept { return Waker(raw); }

  // Copying clones the RawWaker; moving leaves the source a no-op waker.
  Waker(const Waker& other) noexcept
      : raw_(other.raw_.vtable->clone(other.raw_.data)) {}
  Waker(Waker&& other) noexcept : raw_(other.raw_) {
    other.raw_ = RawWaker{nullptr, &detail::kNoopWakerVTable};
  }
  Waker& operator=(const Waker& other) noexcept {
    if (this != &other) *this = Waker(other);
    return *this;
  }
  Waker& operator=(Waker&& other) noexcept {
    if (this != &other) {
      raw_.vtable->drop(raw_.data);
      raw_ = other.raw_;
      other.raw_ = RawWaker{nullptr, &detail::kNoopWakerVTable};
    }
    return *this;
  }
  ~Waker() { raw_.vtable->drop(raw_.data); }

  // Wakes the target and gives up this waker (it becomes a no-op waker).
  void wake() noexcept {
    RawWaker raw = raw_;
    raw_ = RawWaker{nullptr, &detail::kNoopWakerVTable};
    raw.vtable->wake(raw.data);
  }
  // Wakes the target and keeps this waker.
  void wake_by_ref() const noexcept { raw_.vtable->wake_by_ref(raw_.data); }

  // True if both wakers would wake the same target, so re-registering a
  // waker that will_wake the stored one can be skipped.
  bool will_wake(const Waker& other) const noexcept {
    return raw_.data == other.raw_.data && raw_.vtable == other.raw_.vtable;
  }

  // True for a no-op waker (default-constructed, moved from, or woken).
  bool is_noop() const noexcept { return raw_.vtable == &detail::kNoopWakerVTable; }

  // Gives up ownership: the caller must eventually wake or drop `raw`.
  RawWaker into_raw() && noexcept {
    RawWaker raw = raw_;
    raw_ = RawWaker{nullptr, &detail::kNoopWakerVTable};
    return raw;
  }
  // The RawWaker, still owned by this Waker.
  const RawWaker& as_raw() const noexcept { return raw_; }

 private:
  explicit Waker(RawWaker raw) noexcept : raw_(raw) {}
  RawWaker raw_;
};

// What a poll function receives: for now only the waker to register.
class Context {
 public:
  // A context lending `waker` (which must outlive it).
  explicit Context(const Waker& waker) noexcept : waker_(&waker) {}
  // The waker to keep (copy) when returning pending.
  const Waker& waker() const noexcept { return *waker_; }

 private:
  const Waker* waker_;
};

}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_WAKER_WAKER_H_
