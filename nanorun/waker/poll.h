// Poll<T>: the answer of a poll function, either "pending" (the waker from the
// Context will be woken when it is worth polling again) or "ready" with a T.
#ifndef NANORUN_WAKER_POLL_H_
#define NANORUN_WAKER_POLL_H_

#include <optional>
#include <utility>

namespace nanorun {
inline namespace v0 {

template <class T>
// What a poll function returns: pending (it registered the Context's waker
// and will be woken), or ready with a value.
class Poll {
 public:
  // Not ready yet: the waker will be woken when it is worth polling again.
  static Poll pending() { return Poll(); }
  // Ready, with `value`.
  static Poll ready(T value) { return Poll(std::move(value)); }

  // Which of the two it is.
  bool is_ready() const { return value_.has_value(); }
  // Not is_ready().
  bool is_pending() const { return !value_.has_value(); }
  // Requires is_ready().
  T& value() & { return *value_; }
  T&& value() && { return std::move(*value_); }

 private:
  Poll() = default;
  explicit Poll(T value) : value_(std::move(value)) {}
  std::optional<T> value_;
};

template <>
// Poll for a computation with no value: pending or ready.
class Poll<void> {
 public:
  // Not ready yet (see the general Poll).
  static Poll pending() { return Poll(false); }
  // Done.
  static Poll ready() { return Poll(true); }
  // Which of the two it is.
  bool is_ready() const { return ready_; }
  // Not is_ready().
  bool is_pending() const { return !ready_; }

 private:
  explicit Poll(bool ready) : ready_(ready) {}
  bool ready_;
};

}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_WAKER_POLL_H_
