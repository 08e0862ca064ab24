// Poll<T>: the answer of a poll function, either "pending" (the waker from the
// Context will be woken when it is worth polling again) or "ready" with a T.
#ifndef NANORUN_WAKER_POLL_H_
#define NANORUN_WAKER_POLL_H_

#include <optional>
#include <utility>

namespace nanorun {
inline namespace v0 {

template <class T>
class Poll {
 public:
  static Poll pending() { return Poll(); }
  static Poll ready(T value) { return Poll(std::move(value)); }

  bool is_ready() const { return value_.has_value(); }
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
class Poll<void> {
 public:
  static Poll pending() { return Poll(false); }
  static Poll ready() { return Poll(true); }
  bool is_ready() const { return ready_; }
  bool is_pending() const { return !ready_; }

 private:
  explicit Poll(bool ready) : ready_(ready) {}
  bool ready_;
};

}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_WAKER_POLL_H_
