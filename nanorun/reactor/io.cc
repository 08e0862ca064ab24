// Readiness edges and waiters per registration, and the registration slab
// (see io.h).
#include "nanorun/reactor/io.h"

#include <utility>

namespace nanorun {
inline namespace v0 {
namespace reactor {

bool IoRegistration::wait(Direction dir, uint64_t seen, const Waker& waker,
                          const std::atomic<bool>* stopped) {
  int d = static_cast<int>(dir);
  {
    std::lock_guard<sys::SpinLock> lock(mu_);
    // The checks under the lock that on_ready() takes to bump the sequence
    // (and stop_waiting() to stop): an edge either came before (we see it and
    // refuse) or after (it finds our waker).
    if (closed_.load(std::memory_order_relaxed)) return false;
    if (seq_[d].load(std::memory_order_relaxed) != seen) return false;
    if (stopped != nullptr && stopped->load(std::memory_order_relaxed)) return false;
    keep_waiter(d, waker);
  }
  // After the waiter is in place, so the report it asks for finds it.
  if (arming_ != nullptr) arming_->arm(this, dir);
  return true;
}

void IoRegistration::keep_waiter(int d, const Waker& waker) {
  if (waiter_[d].is_noop()) {
    waiter_[d] = waker;
    return;
  }
  if (waiter_[d].will_wake(waker)) return;
  for (const Waker& w : more_waiters_[d]) {
    if (w.will_wake(waker)) return;
  }
  more_waiters_[d].push_back(waker);
}

bool IoRegistration::stop_waiting(Direction dir, const Waker& waker,
                                  std::atomic<bool>* stopped) {
  int d = static_cast<int>(dir);
  Waker taken;  // Dropped outside the lock.
  std::lock_guard<sys::SpinLock> lock(mu_);
  stopped->store(true, std::memory_order_relaxed);
  if (waiter_[d].will_wake(waker)) {
    taken = std::move(waiter_[d]);
    waiter_[d] = Waker();
    if (!more_waiters_[d].empty()) {
      waiter_[d] = std::move(more_waiters_[d].back());
      more_waiters_[d].pop_back();
    }
    return true;
  }
  std::vector<Waker>& more = more_waiters_[d];
  for (size_t i = 0; i < more.size(); ++i) {
    if (more[i].will_wake(waker)) {
      taken = std::move(more[i]);
      more[i] = std::move(more.back());
      more.pop_back();
      return true;
    }
  }
  return false;
}

void IoRegistration::on_ready(bool readable, bool writable, bool persistent) {
  Waker woken[2];
  std::vector<Waker> more[2];  // Swapped out: no allocation under the lock.
  {
    std::lock_guard<sys::SpinLock> lock(mu_);
    // Before the sequence moves (its release publishes this).
    if (persistent) persistent_read_.store(true, std::memory_order_relaxed);
    if (readable) {
      seq_[0].fetch_add(1, std::memory_order_release);
      woken[0] = std::move(waiter_[0]);
      more[0].swap(more_waiters_[0]);
    }
    if (writable) {
      seq_[1].fetch_add(1, std::memory_order_release);
      woken[1] = std::move(waiter_[1]);
      more[1].swap(more_waiters_[1]);
    }
  }
  // Outside the lock: waking runs the operation (or schedules a task), which
  // may wait here again.
  for (int d = 0; d < 2; ++d) {
    woken[d].wake();
    for (Waker& w : more[d]) w.wake();
  }
}

void IoRegistration::close() {
  closed_.store(true, std::memory_order_release);
  on_ready(true, true);
}

IoSlab::~IoSlab() {
  for (auto& page : pages_) delete page.load(std::memory_order_relaxed);
}

IoRegistration* IoSlab::allocate(int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  uint32_t index;
  if (!free_.empty()) {
    index = free_.back();
    free_.pop_back();
  } else {
    if (next_index_ == kPageSize * kMaxPages) return nullptr;
    index = next_index_++;
    if (index % kPageSize == 0) {
      pages_[index / kPageSize].store(new Page(), std::memory_order_release);
    }
    generation_.push_back(1);
  }
  IoRegistration* r =
      &pages_[index / kPageSize].load(std::memory_order_relaxed)->slots[index % kPageSize];
  r->fd_ = fd;
  r->closed_.store(closing_, std::memory_order_relaxed);
  r->persistent_read_.store(false, std::memory_order_relaxed);
  r->token_.store(uint64_t{generation_[index]} << 32 | index, std::memory_order_release);
  live_.fetch_add(1, std::memory_order_relaxed);
  return r;
}

void IoSlab::release(IoRegistration* r) {
  std::lock_guard<std::mutex> lock(mu_);
  uint32_t index = static_cast<uint32_t>(r->token() & 0xffffffffu);
  ++generation_[index];  // Events still in flight for the old token miss.
  r->token_.store(0, std::memory_order_release);
  {
    std::lock_guard<sys::SpinLock> reg_lock(r->mu_);
    r->waiter_[0] = Waker();
    r->waiter_[1] = Waker();
    r->more_waiters_[0].clear();
    r->more_waiters_[1].clear();
  }
  r->fd_ = -1;
  r->arming_ = nullptr;
  r->backend_state_ = nullptr;
  free_.push_back(index);
  live_.fetch_sub(1, std::memory_order_relaxed);
}

void IoSlab::close_all() {
  uint32_t count;
  {
    std::lock_guard<std::mutex> lock(mu_);
    closing_ = true;  // Later allocations start closed: none is missed below.
    count = next_index_;
  }
  // Not under mu_: closing wakes waiters, whose completion may release
  // their socket (and so call release(), which takes mu_).
  for (uint32_t index = 0; index < count; ++index) {
    IoRegistration* r =
        &pages_[index / kPageSize].load(std::memory_order_acquire)->slots[index % kPageSize];
    if (r->token() != 0) r->close();
  }
}

IoRegistration* IoSlab::find(uint64_t token) const {
  uint32_t index = static_cast<uint32_t>(token & 0xffffffffu);
  if (index >= kPageSize * kMaxPages) return nullptr;
  Page* page = pages_[index / kPageSize].load(std::memory_order_acquire);
  if (page == nullptr) return nullptr;
  IoRegistration* r = &page->slots[index % kPageSize];
  return r->token() == token ? r : nullptr;
}

}  // namespace reactor
}  // namespace v0
}  // namespace nanorun
