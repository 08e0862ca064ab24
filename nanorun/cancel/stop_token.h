// StopSource, StopToken and StopCallback: asking code to stop, for C++17.
//
// C++20's std::stop_token is what this is (same names, same rules, so code can
// move to the standard one later); C++17 has nothing, and nanorun's users are on
// C++17. The owner of some work keeps a StopSource and hands StopTokens to the
// work: a loop checks `token.stop_requested()` at each step, and code that waits
// on something registers a StopCallback that wakes or aborts the wait.
//
//   nanorun::StopSource stop;
//   worker_loop(stop.get_token());           // checks token.stop_requested()
//   ...
//   stop.request_stop();                     // once; later calls return false
//
//   // Inside code that waits: runs `on_stop` once if stop is requested while
//   // the callback is registered (at once, in the constructor, if it already was).
//   nanorun::StopCallback cb(token, [&] { waiting_thing.abort(); });
//
// The rules (each is a test in tests/cancel_test.cc):
//  - A callback runs exactly once if stop is requested while it is registered,
//    and never otherwise. It runs on the thread that calls request_stop(), or in
//    the StopCallback constructor if stop was already requested.
//  - Callbacks never run under a lock of ours: they may register and deregister
//    callbacks, request stop again, or destroy their own StopCallback.
//  - ~StopCallback deregisters. If the callback is running on another thread at
//    that moment, the destructor waits for it to return (so whatever the callback
//    uses may be destroyed right after); from inside the callback itself it does
//    not wait.
//  - Tokens and sources are cheap copyable handles to one shared state, safe to
//    use from any thread; a token stays valid after every source is gone (it
//    then can never be stopped, unless it already was).
#ifndef NANORUN_CANCEL_STOP_TOKEN_H_
#define NANORUN_CANCEL_STOP_TOKEN_H_

#include <atomic>
#include <thread>
#include <utility>

#include "absl/functional/any_invocable.h"
#include "nanorun/sys/spin_lock.h"

namespace nanorun {
inline namespace v0 {

class StopCallback;

namespace detail {

// The state a source and its tokens share. Reference counted: sources and
// tokens each hold one reference (sources are counted separately too, for
// stop_possible()).
class StopState {
 public:
  static StopState* Create() { return new StopState(); }
  void retain() { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
  void add_source() { sources_.fetch_add(1, std::memory_order_relaxed); }
  void remove_source() { sources_.fetch_sub(1, std::memory_order_acq_rel); }

  bool stop_requested() const { return requested_.load(std::memory_order_acquire); }
  bool stop_possible() const {
    return stop_requested() || sources_.load(std::memory_order_acquire) > 0;
  }

  // Returns true if this call made the request (the first one).
  bool request_stop();
  // Returns false (registering nothing) if stop was already requested: the
  // caller then runs the callback itself.
  bool add(StopCallback* cb);
  // Deregisters `cb`, or waits for it to finish if another thread runs it.
  void remove(StopCallback* cb);

 private:
  StopState() = default;

  std::atomic<int> refs_{1};
  std::atomic<int> sources_{0};
  std::atomic<bool> requested_{false};
  // Guards the list and running_*: a few pointer writes at a time, and never
  // held while a callback runs.
  sys::SpinLock mu_;
  StopCallback* head_ = nullptr;  // Registered callbacks, not yet run.
  // The callback request_stop() is running now (outside the lock), and the
  // thread running it, so that ~StopCallback knows whether to wait.
  StopCallback* running_ = nullptr;
  std::thread::id running_thread_;
};

}  // namespace detail

// The reader's side of a stop request (C++20's std::stop_token, for C++17):
// asks whether stop was requested, and StopCallback runs code when it is.
// Cheap to copy; every copy reads the same request.
class StopToken {
 public:
  // A token no source can stop.
  StopToken() = default;
  // Copies and moves read the same request; a moved-from token is one no
  // source can stop.
  StopToken(const StopToken& other) : state_(other.state_) {
    if (state_ != nullptr) state_->retain();
  }
  StopToken(StopToken&& other) noexcept : state_(std::exchange(other.state_, nullptr)) {}
  StopToken& operator=(StopToken other) noexcept {
    std::swap(state_, other.state_);
    return *this;
  }
  ~StopToken() {
    if (state_ != nullptr) state_->release();
  }

  // True once a source of this token requested stop.
  bool stop_requested() const { return state_ != nullptr && state_->stop_requested(); }
  // False when stop can never be requested (no source is left, or there never
  // was one): a loop may then skip its checks.
  bool stop_possible() const { return state_ != nullptr && state_->stop_possible(); }

 private:
  friend class StopSource;
  friend class StopCallback;
  explicit StopToken(detail::StopState* state) : state_(state) {
    if (state_ != nullptr) state_->retain();
  }
  detail::StopState* state_ = nullptr;
};

// The requester's side: request_stop() stops every token taken from it
// (get_token()) and runs their callbacks. Copies share the request.
class StopSource {
 public:
  StopSource() : state_(detail::StopState::Create()) { state_->add_source(); }
  // Copies share the request; a moved-from source requests nothing
  // (request_stop() returns false).
  StopSource(const StopSource& other) : state_(other.state_) {
    if (state_ != nullptr) {
      state_->retain();
      state_->add_source();
    }
  }
  StopSource(StopSource&& other) noexcept : state_(std::exchange(other.state_, nullptr)) {}
  StopSource& operator=(StopSource other) noexcept {
    std::swap(state_, other.state_);
    return *this;
  }
  ~StopSource() {
    if (state_ != nullptr) {
      state_->remove_source();
      state_->release();
    }
  }

  // A token that sees this source's request.
  StopToken get_token() const { return StopToken(state_); }
  // Requests stop: runs every registered callback, on this thread, before it
  // returns. True for the call that made the request; false if stop had been
  // requested already (or on a moved-from source).
  bool request_stop() { return state_ != nullptr && state_->request_stop(); }
  // True once stop was requested on this source (or a copy).
  bool stop_requested() const { return state_ != nullptr && state_->stop_requested(); }

 private:
  detail::StopState* state_;
};

// Runs `on_stop` once if stop is requested on `token` while this object lives.
// Not movable: the registration is this object's address.
class StopCallback {
 public:
  template <class F>
  // Registers `on_stop`; if stop was already requested, runs it here, now.
  // The destructor unregisters it, waiting if it is running on another thread.
  StopCallback(const StopToken& token, F on_stop) : on_stop_(std::move(on_stop)) {
    register_with(token.state_);
  }
  StopCallback(const StopCallback&) = delete;
  StopCallback& operator=(const StopCallback&) = delete;
  ~StopCallback();

 private:
  friend class detail::StopState;
  void register_with(detail::StopState* state);

  absl::AnyInvocable<void()> on_stop_;
  detail::StopState* state_ = nullptr;  // Holds a reference while registered.
  StopCallback* prev_ = nullptr;        // The registration list (under its lock).
  StopCallback* next_ = nullptr;
  bool* destroyed_ = nullptr;           // Set by ~StopCallback run from on_stop_.
  std::atomic<bool> done_{false};       // on_stop_ returned (request_stop's thread).
};

}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_CANCEL_STOP_TOKEN_H_
