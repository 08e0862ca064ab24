// nanorun::sync::channel and unbounded_channel: multi-producer, single-consumer
// queues of values between tasks (tokio's mpsc). A bounded channel gives
// backpressure: send() waits while `capacity` values are buffered.
//
//   auto [tx, rx] = nanorun::sync::channel<Job>(16);
//   handle.spawn([tx] { return tx.send(Job{...}); });          // any number of Senders
//   handle.spawn([rx = std::move(rx)]() mutable {               // one Receiver
//     return nanorun::repeat([&rx] {
//       return rx.recv().then([](std::optional<Job> job) {
//         if (!job) return true;                                // every Sender gone: done
//         run(*job);
//         return false;
//       });
//     });
//   });
//
// Order: values from one Sender are received in the order they were sent
// (each send() that waits takes its place in a FIFO of waiting sends).
//
// Ending: recv() gives nullopt once every Sender (and every waiting send) is
// gone and everything buffered was read. Receiver::close() makes later and
// waiting sends fail with FailedPrecondition, keeping what is buffered
// readable; destroying the Receiver closes and drops what is buffered.
//
// Cancel rules (docs/sync.md):
//  - a recv() that is stopped (dropped, timed out, its task aborted) takes no
//    value: a value that reached it as it was being dropped goes to the next
//    recv(), ahead of later values. A recv() whose future is ready holds its
//    value: dropping that future drops the value.
//  - a send() that is stopped while it waits for room sent nothing (its value
//    is destroyed); one that got its place completes and the value is sent.
//
// A Sender may be used from any thread; the Receiver from one task at a time
// (it is move-only; recv() may still be called again before the last one
// settles: they are served in order).
#ifndef NANORUN_SYNC_CHANNEL_H_
#define NANORUN_SYNC_CHANNEL_H_

#include <cstddef>
#include <limits>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nanorun/future/future.h"
#include "nanorun/sync/channel_core.h"
#include "nanorun/sys/misuse.h"

namespace nanorun {
inline namespace v0 {
namespace sync {

template <class T>
class Sender;
template <class T>
class Receiver;

namespace detail {
// The one place that makes a channel's two ends; channel() and
// unbounded_channel() below are the ways in.
template <class T>
std::pair<Sender<T>, Receiver<T>> MakeChannel(size_t capacity);
}  // namespace detail

// A bounded channel: capacity >= 1 (0 is misuse, reported through
// ReportMisuse: a message and an abort by default; capacity 1 if a test's
// handler returns).
template <class T>
std::pair<Sender<T>, Receiver<T>> channel(size_t capacity);
// A channel whose send() never waits: memory is the only bound.
template <class T>
std::pair<Sender<T>, Receiver<T>> unbounded_channel();

// Copyable: every copy is one more Sender. The channel ends (for the
// Receiver) when the last one is destroyed.
template <class T>
class Sender {
 public:
  // Copies are more senders of the same channel; a moved-from sender is
  // empty (its sends fail).
  Sender(const Sender& other) : core_(other.core_) {
    if (core_ != nullptr) core_->add_sender();
  }
  Sender(Sender&& other) noexcept = default;
  Sender& operator=(const Sender& other) {
    if (this != &other) *this = Sender(other);
    return *this;
  }
  Sender& operator=(Sender&& other) noexcept {
    if (this != &other) {
      release();
      core_ = std::move(other.core_);
    }
    return *this;
  }
  ~Sender() { release(); }

  // Buffers `value`, waiting for room while the channel is full. Fails with
  // FailedPrecondition if the Receiver closed or was destroyed (the value is
  // dropped).
  Future<void> send(T value) const {
    if (core_ == nullptr) return make_error_future<void>(MovedFrom("send"));
    return core_->send(std::move(value));
  }
  // Never waits: ResourceExhausted when full, FailedPrecondition when closed
  // (the value is dropped in both cases).
  absl::Status try_send(T value) const {
    if (core_ == nullptr) return MovedFrom("try_send");
    return core_->try_send(std::move(value));
  }
  // True once the Receiver closed or was destroyed: sends will fail.
  bool is_closed() const { return core_ == nullptr || core_->closed(); }

 private:
  template <class U>
  friend std::pair<Sender<U>, Receiver<U>> detail::MakeChannel(size_t capacity);
  explicit Sender(std::shared_ptr<detail::ChannelCore<T>> core) : core_(std::move(core)) {}
  static absl::Status MovedFrom(const char* op) {
    return absl::FailedPreconditionError(std::string("Sender::") + op +
                                         ": this Sender was moved from");
  }
  void release() {
    if (core_ != nullptr) std::exchange(core_, nullptr)->drop_sender();
  }
  std::shared_ptr<detail::ChannelCore<T>> core_;
};

// Move-only: the one consumer.
template <class T>
class Receiver {
 public:
  // Move-only; a moved-from receiver is empty (its recv() fails).
  Receiver(Receiver&& other) noexcept = default;
  Receiver& operator=(Receiver&& other) noexcept {
    if (this != &other) {
      release();
      core_ = std::move(other.core_);
    }
    return *this;
  }
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;
  ~Receiver() { release(); }

  // The next value; nullopt once every Sender is gone (or the channel was
  // closed) and everything buffered was read.
  Future<std::optional<T>> recv() {
    if (core_ == nullptr) {
      return make_error_future<std::optional<T>>(
          absl::FailedPreconditionError("Receiver::recv: this Receiver was moved from"));
    }
    return core_->recv();
  }
  // Never waits: the next value; Unavailable if nothing is buffered yet,
  // OutOfRange once the channel has ended. (Not for T = absl::Status, where a
  // StatusOr cannot tell the value from the error: wrap it in a struct.)
  absl::StatusOr<T> try_recv() {
    static_assert(!std::is_same<T, absl::Status>::value,
                  "Receiver<absl::Status>::try_recv: absl::StatusOr<absl::Status> cannot tell "
                  "a value from an error; carry the Status in a struct, or use recv()");
    if (core_ == nullptr) {
      return absl::FailedPreconditionError("Receiver::try_recv: this Receiver was moved from");
    }
    return core_->try_recv();
  }
  // Later sends fail, and so do waiting ones; what is buffered can still be
  // read, then recv() gives nullopt.
  void close() {
    if (core_ != nullptr) core_->close();
  }
  // Values buffered now.
  size_t size() const { return core_ == nullptr ? 0 : core_->size(); }
  // The bound (SIZE_MAX for an unbounded channel).
  size_t capacity() const { return core_ == nullptr ? 0 : core_->capacity(); }

 private:
  template <class U>
  friend std::pair<Sender<U>, Receiver<U>> detail::MakeChannel(size_t capacity);
  explicit Receiver(std::shared_ptr<detail::ChannelCore<T>> core) : core_(std::move(core)) {}
  void release() {
    if (core_ != nullptr) std::exchange(core_, nullptr)->drop_receiver();
  }
  std::shared_ptr<detail::ChannelCore<T>> core_;
};

namespace detail {
template <class T>
std::pair<Sender<T>, Receiver<T>> MakeChannel(size_t capacity) {
  auto core = std::make_shared<ChannelCore<T>>(capacity);
  return {Sender<T>(core), Receiver<T>(core)};
}
}  // namespace detail

template <class T>
std::pair<Sender<T>, Receiver<T>> channel(size_t capacity) {
  if (capacity == 0) {
    ReportMisuse(
        "nanorun::sync::channel(0): a bounded channel needs capacity >= 1 (use 1 for a "
        "hand-off, or unbounded_channel() for no bound)");
    capacity = 1;
  }
  return detail::MakeChannel<T>(capacity);
}

template <class T>
std::pair<Sender<T>, Receiver<T>> unbounded_channel() {
  return detail::MakeChannel<T>(std::numeric_limits<size_t>::max());
}

}  // namespace sync
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_SYNC_CHANNEL_H_
