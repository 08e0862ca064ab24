// The registration list of a stop state and request_stop's walk over it (see
// stop_token.h for the rules this keeps).
#include "nanorun/cancel/stop_token.h"

#include <mutex>

namespace nanorun {
inline namespace v0 {
namespace detail {

bool StopState::request_stop() {
  std::unique_lock<sys::SpinLock> lock(mu_);
  if (requested_.load(std::memory_order_relaxed)) return false;
  requested_.store(true, std::memory_order_release);
  running_thread_ = std::this_thread::get_id();
  while (StopCallback* cb = head_) {
    head_ = cb->next_;
    if (head_ != nullptr) head_->prev_ = nullptr;
    cb->next_ = cb->prev_ = nullptr;
    running_ = cb;
    bool destroyed = false;  // Set by ~StopCallback if on_stop destroys cb.
    cb->destroyed_ = &destroyed;
    lock.unlock();
    cb->on_stop_();  // Not under our lock: it may use this state freely.
    if (!destroyed) {
      cb->destroyed_ = nullptr;
      // Last touch of cb: its owner may be waiting in ~StopCallback for this.
      cb->done_.store(true, std::memory_order_release);
    }
    lock.lock();
    running_ = nullptr;
  }
  return true;
}

bool StopState::add(StopCallback* cb) {
  std::lock_guard<sys::SpinLock> lock(mu_);
  if (requested_.load(std::memory_order_relaxed)) return false;
  cb->prev_ = nullptr;
  cb->next_ = head_;
  if (head_ != nullptr) head_->prev_ = cb;
  head_ = cb;
  return true;
}

void StopState::remove(StopCallback* cb) {
  {
    std::lock_guard<sys::SpinLock> lock(mu_);
    if (cb->prev_ != nullptr || head_ == cb) {  // Still registered: unlink.
      if (cb->prev_ != nullptr) {
        cb->prev_->next_ = cb->next_;
      } else {
        head_ = cb->next_;
      }
      if (cb->next_ != nullptr) cb->next_->prev_ = cb->prev_;
      return;
    }
    if (running_ != cb) return;  // Ran and returned already.
    if (running_thread_ == std::this_thread::get_id()) {
      *cb->destroyed_ = true;  // From inside its own callback: do not wait.
      return;
    }
  }
  // Running on another thread: wait until it returns, so that what it uses
  // may be destroyed as soon as we return.
  while (!cb->done_.load(std::memory_order_acquire)) std::this_thread::yield();
}

}  // namespace detail

void StopCallback::register_with(detail::StopState* state) {
  if (state == nullptr) return;  // A token no source can stop.
  state->retain();
  if (state->add(this)) {
    state_ = state;
    return;
  }
  state->release();
  on_stop_();  // Stop was requested already: run now, in the constructor.
}

StopCallback::~StopCallback() {
  if (state_ == nullptr) return;
  detail::StopState* state = state_;
  state->remove(this);
  state->release();
}

}  // namespace v0
}  // namespace nanorun
