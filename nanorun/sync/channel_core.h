// The shared state of a channel (channel.h): the buffer, the FIFO of sends
// waiting for room, the receives waiting for a value, and the stop hooks that
// take a waiter out. One spin lock guards it all; it is held for a few pointer
// moves and one move of a value, never while user code runs (values are
// destroyed and continuations run after it is released).
//
// Who keeps what alive: each Sender and Receiver handle holds the core, and so
// does every queued waiter (wait_list.h), so a future outliving every handle
// stays safe.
//
// No value is lost to a cancel: a value handed to a waiting receive whose
// consumer had just gone (it was dropped at that very moment) comes back
// (Waiter::settle_or_reclaim) and goes to the next receive, or to the front of
// the buffer, ahead of anything sent after it.
#ifndef NANORUN_SYNC_CHANNEL_CORE_H_
#define NANORUN_SYNC_CHANNEL_CORE_H_

#include <atomic>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nanorun/future/core.h"
#include "nanorun/future/future.h"
#include "nanorun/sync/wait_list.h"
#include "nanorun/sys/spin_lock.h"

namespace nanorun {
inline namespace v0 {
namespace sync {
namespace detail {

inline absl::Status ChannelClosedError(const char* op) {
  return absl::FailedPreconditionError(
      std::string(op) +
      ": the channel is closed (its Receiver called close() or was destroyed); the value "
      "was not sent");
}

// Test seam: called (when set) after a waiting receive was claimed and before
// the value is handed to it, the moment a concurrent drop of that receive can
// come. One relaxed load on the hand-over path.
inline std::atomic<void (*)()> g_before_hand_over_for_test{nullptr};

template <class T>
class ChannelCore : public std::enable_shared_from_this<ChannelCore<T>> {
 public:
  using Core = ChannelCore<T>;
  using RecvWaiter = Waiter<std::optional<T>, Core>;
  using SendWaiter = Waiter<void, Core, std::optional<T>>;

  explicit ChannelCore(size_t capacity) : capacity_(capacity) {}

  void add_sender() {
    std::lock_guard<sys::SpinLock> lock(mu_);
    ++senders_;
  }
  void drop_sender() {
    WaiterLinks* ended;
    {
      std::lock_guard<sys::SpinLock> lock(mu_);
      --senders_;
      ended = end_if_done_locked();
    }
    settle_ended(ended);
  }
  bool closed() const {
    std::lock_guard<sys::SpinLock> lock(mu_);
    return closed_;
  }
  size_t size() const {
    std::lock_guard<sys::SpinLock> lock(mu_);
    return buffer_.size();
  }
  size_t capacity() const { return capacity_; }

  Future<void> send(T value) {
    std::optional<T> v(std::move(value));
    RecvWaiter* receiver = nullptr;
    {
      std::lock_guard<sys::SpinLock> lock(mu_);
      switch (place_locked(&v, &receiver)) {
        case kPlaced:
          return make_ready_future();
        case kClosed:
          return make_error_future<void>(ChannelClosedError("Sender::send"));
        case kToReceiver:
        case kFull:
          break;
      }
    }
    if (receiver != nullptr) {
      hand_over(receiver, std::move(v));
      return make_ready_future();
    }
    // Full: wait in line, holding the value. Allocated outside the lock, so
    // the state is looked at again before queueing.
    SendWaiter* w = SendWaiter::Create(this->shared_from_this(), &OnSendStop);
    Placement p;
    {
      std::lock_guard<sys::SpinLock> lock(mu_);
      p = place_locked(&v, &receiver);
      if (p == kFull) {
        w->payload.emplace(std::move(*v));
        send_waiters_.push_back(w);
        task::NoteWait(task::WaitKind::kChannel);  // For Handle::dump().
        ++senders_;  // A queued send keeps the stream open, like a Sender.
        return nanorun::detail::FutureAccess::from_state<void>(w);
      }
    }
    w->discard();
    if (p == kClosed) return make_error_future<void>(ChannelClosedError("Sender::send"));
    if (p == kToReceiver) hand_over(receiver, std::move(v));
    return make_ready_future();
  }

  absl::Status try_send(T value) {
    std::optional<T> v(std::move(value));
    RecvWaiter* receiver = nullptr;
    {
      std::lock_guard<sys::SpinLock> lock(mu_);
      switch (place_locked(&v, &receiver)) {
        case kPlaced:
          return absl::OkStatus();
        case kClosed:
          return ChannelClosedError("Sender::try_send");
        case kFull:
          return absl::ResourceExhaustedError(
              "Sender::try_send: the channel is full (or sends are waiting for room); the "
              "value was not sent: use send() to wait for room");
        case kToReceiver:
          break;
      }
    }
    hand_over(receiver, std::move(v));
    return absl::OkStatus();
  }

  Future<std::optional<T>> recv() {
    std::optional<T> value;
    SendWaiter* admitted = nullptr;
    Taken t;
    {
      std::lock_guard<sys::SpinLock> lock(mu_);
      t = take_locked(&value, &admitted);
    }
    if (t != kEmpty) {
      settle_admitted(admitted);
      return make_ready_future(std::move(value));
    }
    RecvWaiter* w = RecvWaiter::Create(this->shared_from_this(), &OnRecvStop);
    {
      std::lock_guard<sys::SpinLock> lock(mu_);
      t = take_locked(&value, &admitted);
      if (t == kEmpty) {
        recv_waiters_.push_back(w);
        task::NoteWait(task::WaitKind::kChannel);
        return nanorun::detail::FutureAccess::from_state<std::optional<T>>(w);
      }
    }
    w->discard();
    settle_admitted(admitted);
    return make_ready_future(std::move(value));
  }

  // Unavailable: nothing buffered (yet); OutOfRange: the stream has ended.
  absl::StatusOr<T> try_recv() {
    std::optional<T> value;
    SendWaiter* admitted = nullptr;
    Taken t;
    {
      std::lock_guard<sys::SpinLock> lock(mu_);
      t = take_locked(&value, &admitted);
    }
    settle_admitted(admitted);
    if (t == kValue) return std::move(*value);
    if (t == kEnded) {
      return absl::OutOfRangeError(
          "Receiver::try_recv: the channel has ended (every Sender is gone, or it was "
          "closed) and everything buffered was read");
    }
    return absl::UnavailableError("Receiver::try_recv: nothing is buffered yet");
  }

  // Later sends fail, and so do the waiting ones; what is buffered stays.
  void close() {
    WaiterLinks* failed;
    WaiterLinks* ended;
    {
      std::lock_guard<sys::SpinLock> lock(mu_);
      closed_ = true;
      failed = send_waiters_.claim_all();  // One being stopped is left to its hook.
      for (WaiterLinks* l = failed; l != nullptr; l = l->next) --senders_;
      ended = end_if_done_locked();
    }
    while (failed != nullptr) {
      WaiterLinks* next = failed->next;
      SendWaiter* w = SendWaiter::from_links(failed);
      std::shared_ptr<Core> keep = std::move(w->core);
      w->payload.reset();
      (void)w->settle(ChannelClosedError("Sender::send"));
      failed = next;
    }
    settle_ended(ended);
  }

  // The Receiver is gone: close, and destroy what nobody can read any more.
  void drop_receiver() {
    close();
    std::deque<T> unread;
    {
      std::lock_guard<sys::SpinLock> lock(mu_);
      receiver_gone_ = true;
      unread.swap(buffer_);
    }
  }

 private:
  enum Placement { kPlaced, kToReceiver, kFull, kClosed };
  enum Taken { kValue, kEnded, kEmpty };

  // Under mu_: where a new value goes. kToReceiver: *receiver was claimed,
  // and the value is handed to it (hand_over) after the lock is released.
  Placement place_locked(std::optional<T>* v, RecvWaiter** receiver) {
    if (closed_) return kClosed;
    if ((*receiver = claim_receiver_locked()) != nullptr) return kToReceiver;
    // FIFO: a send waits behind the ones already waiting, even if a slot is
    // free for a moment.
    if (!send_waiters_.empty() || buffer_.size() >= capacity_) return kFull;
    buffer_.push_back(std::move(**v));
    return kPlaced;
  }

  // Under mu_: the oldest waiting receive that is not being stopped.
  RecvWaiter* claim_receiver_locked() {
    for (WaiterLinks* l = recv_waiters_.front(); l != nullptr; l = l->next) {
      if (l->claim()) {
        recv_waiters_.unlink(l);
        return RecvWaiter::from_links(l);
      }
    }
    return nullptr;
  }

  // Under mu_: the next value, and (the slot it freed) the first waiting send
  // admitted into the buffer, settled by the caller after the lock.
  Taken take_locked(std::optional<T>* out, SendWaiter** admitted) {
    if (buffer_.empty()) return (senders_ == 0 || closed_) ? kEnded : kEmpty;
    out->emplace(std::move(buffer_.front()));
    buffer_.pop_front();
    if (buffer_.size() < capacity_) {
      for (WaiterLinks* l = send_waiters_.front(); l != nullptr; l = l->next) {
        if (l->claim()) {
          send_waiters_.unlink(l);
          --senders_;
          SendWaiter* w = SendWaiter::from_links(l);
          buffer_.push_back(std::move(*w->payload));
          *admitted = w;
          break;
        }
      }
    }
    return kValue;
  }

  // Under mu_: if the stream has ended (no sender left, or closed, and
  // nothing buffered), claims the waiting receives, to settle with nullopt.
  WaiterLinks* end_if_done_locked() {
    if (!buffer_.empty() || (senders_ != 0 && !closed_)) return nullptr;
    return recv_waiters_.claim_all();
  }

  static void settle_ended(WaiterLinks* chain) {
    while (chain != nullptr) {
      WaiterLinks* next = chain->next;
      RecvWaiter* w = RecvWaiter::from_links(chain);
      std::shared_ptr<Core> keep = std::move(w->core);
      (void)w->settle(nanorun::detail::Result<std::optional<T>>(std::nullopt));
      chain = next;
    }
  }

  static void settle_admitted(SendWaiter* w) {
    if (w == nullptr) return;
    std::shared_ptr<Core> keep = std::move(w->core);
    w->payload.reset();  // Moved from, into the buffer.
    (void)w->settle(absl::OkStatus());
  }

  // Gives `v` to a claimed receive. If its consumer had gone, the value comes
  // back and goes to the next receive, or to the front of the buffer: it is
  // older than anything buffered since the receive was claimed.
  void hand_over(RecvWaiter* receiver, std::optional<T> v) {
    for (;;) {
      if (auto* seam = g_before_hand_over_for_test.load(std::memory_order_relaxed)) seam();
      std::shared_ptr<Core> keep = std::move(receiver->core);
      nanorun::detail::Result<std::optional<T>> r(std::move(v));
      if (receiver->settle_or_reclaim(&r)) return;
      v.emplace(std::move(**r));
      std::lock_guard<sys::SpinLock> lock(mu_);
      if (receiver_gone_) break;  // Destroyed below, after the lock.
      receiver = claim_receiver_locked();
      if (receiver == nullptr) {
        buffer_.push_front(std::move(*v));  // May pass the capacity by one, for a moment.
        return;
      }
    }
  }

  static nanorun::detail::StopStep OnRecvStop(nanorun::detail::StateBase* state) {
    RecvWaiter* w = RecvWaiter::from_state(state);
    if (w->claim_for_stop()) {
      std::shared_ptr<Core> core = std::move(w->core);
      {
        std::lock_guard<sys::SpinLock> lock(core->mu_);
        core->recv_waiters_.unlink(w);
      }
      (void)w->settle(absl::CancelledError(
          "Receiver::recv: stopped while it waited (its future was dropped, a timeout "
          "passed, or its task was aborted); it took no value"));
    }
    // Otherwise a value or the end is being handed to it now.
    return nanorun::detail::StopStep{nullptr, nullptr, /*stoppable=*/true};
  }

  static nanorun::detail::StopStep OnSendStop(nanorun::detail::StateBase* state) {
    SendWaiter* w = SendWaiter::from_state(state);
    if (w->claim_for_stop()) {
      std::shared_ptr<Core> core = std::move(w->core);
      WaiterLinks* ended;
      {
        std::lock_guard<sys::SpinLock> lock(core->mu_);
        core->send_waiters_.unlink(w);
        --core->senders_;
        ended = core->end_if_done_locked();
      }
      w->payload.reset();
      (void)w->settle(absl::CancelledError(
          "Sender::send: stopped while it waited for room (its future was dropped, a "
          "timeout passed, or its task was aborted); the value was not sent"));
      settle_ended(ended);
    }
    return nanorun::detail::StopStep{nullptr, nullptr, /*stoppable=*/true};
  }

  mutable sys::SpinLock mu_;
  const size_t capacity_;
  std::deque<T> buffer_;       // Guarded by mu_.
  size_t senders_ = 1;         // Guarded by mu_: Sender handles plus queued sends.
  bool closed_ = false;        // Guarded by mu_.
  bool receiver_gone_ = false;  // Guarded by mu_.
  WaitList send_waiters_;      // Guarded by mu_: only while the buffer is full.
  WaitList recv_waiters_;      // Guarded by mu_: only while the buffer is empty.
};

}  // namespace detail
}  // namespace sync
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_SYNC_CHANNEL_CORE_H_
