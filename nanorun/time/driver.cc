// The timer driver: ticks, the lock around the wheel, firing, and parking.
#include "nanorun/time/driver.h"

#include <limits>
#include <mutex>
#include <utility>

namespace nanorun {
inline namespace v0 {
namespace time {

constexpr Nanos kForever = std::numeric_limits<Nanos>::max();

namespace {
// TimerEntry::staged: the staging list's tag (an id, shifted, with
// kStagedBit), plus kCancelBit once another thread asked to cancel it.
constexpr uint32_t kStagedBit = 1;
constexpr uint32_t kCancelBit = 2;
std::atomic<uint32_t> g_staging_ids{0};
// The calling worker's staging list, if it attached one.
thread_local TimerStaging* tl_staging = nullptr;
}  // namespace

TimerDriver::TimerDriver(Clock clock, reactor::Reactor* reactor)
    : clock_(std::move(clock)),
      reactor_(reactor),
      origin_(clock_.now()),
      next_due_(kForever) {
  if (ManualClock* manual = clock_.manual()) manual->add_listener(this);
}

TimerDriver::~TimerDriver() {
  if (ManualClock* manual = clock_.manual()) manual->remove_listener(this);
}

uint64_t TimerDriver::tick_at_or_after(Nanos t) const {
  if (t <= origin_) return 0;
  uint64_t since = static_cast<uint64_t>(t - origin_);
  return since / kTick + (since % kTick != 0 ? 1 : 0);
}

uint64_t TimerDriver::tick_at_or_before(Nanos t) const {
  if (t <= origin_) return 0;
  return static_cast<uint64_t>(t - origin_) / kTick;
}

Nanos TimerDriver::time_of_tick(uint64_t tick) const {
  return origin_ + static_cast<Nanos>(tick) * kTick;  // Ticks stay < 2^37.
}

void TimerDriver::publish_next_due_locked() {
  uint64_t next = wheel_.next_expiration();
  next_due_.store(next == TimerWheel::kNever ? kForever : time_of_tick(next),
                  std::memory_order_release);
}

TimerDriver::Insert TimerDriver::insert(TimerEntry* e, Nanos deadline) {
  uint64_t tick = tick_at_or_after(deadline);
  bool wake = false;
  {
    std::lock_guard<sys::SpinLock> lock(mu_);
    if (shut_down_) return Insert::kShutDown;
    if (!insert_locked(e, tick, &wake)) return Insert::kDue;
  }
  if (wake) reactor_->wake();
  return Insert::kPending;
}

bool TimerDriver::insert_locked(TimerEntry* e, uint64_t tick, bool* wake) {
  if (!wheel_.insert(e, tick)) return false;
  // When the wheel next has work for this entry: the new deadline, or
    // earlier, the start of the slot it went into, if that slot must cascade
    // first. (Using the deadline here left the cascade undone: the parked
    // worker woke for it, found process() waiting for the later deadline, and
    // spun until then.) The wheel's next expiration is the smaller of this
    // and the one before, which next_due_ and parked_until_ already bound:
    // no scan of the wheel per insert (callgrind: ~85 of ~1,030
    // instructions per timer_cancel operation).
  Nanos at = time_of_tick(wheel_.expiration_of(*e));
  if (at < next_due_.load(std::memory_order_relaxed)) {
    next_due_.store(at, std::memory_order_release);
  }
  if (parked_ && at < parked_until_) {
    parked_until_ = at;  // One wake is enough until it re-parks.
    wake_hint_ = at;
    *wake = true;
  }
  return true;
}

TimerDriver::Insert TimerDriver::insert_staged(TimerEntry* e, Nanos deadline) {
  TimerStaging* st = tl_staging;
  if (st == nullptr || st->driver_ != this) return insert(e, deadline);
  // Workers run only before shutdown(), so no shut-down check is needed
  // here; flush_staged() checks, for the last flush.
  e->deadline = tick_at_or_after(deadline);
  e->next = nullptr;
  e->prev = st->tail_;
  if (st->tail_ != nullptr) {
    st->tail_->next = e;
  } else {
    st->head_ = e;
  }
  st->tail_ = e;
  e->staged.store(st->tag_, std::memory_order_release);
  st->count_.store(st->count_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  return Insert::kPending;
}

bool TimerDriver::cancel(TimerEntry* e) {
  uint32_t tag = e->staged.load(std::memory_order_acquire);
  if (tag != 0) {
    TimerStaging* st = tl_staging;
    if (st != nullptr && tag == st->tag_) {
      // Staged by this thread and not flushed: it never reached the wheel.
      // (Each entry has one canceller, so nobody else writes `staged` now.)
      if (e->prev != nullptr) {
        e->prev->next = e->next;
      } else {
        st->head_ = e->next;
      }
      if (e->next != nullptr) {
        e->next->prev = e->prev;
      } else {
        st->tail_ = e->prev;
      }
      e->prev = e->next = nullptr;
      e->staged.store(0, std::memory_order_relaxed);
      st->count_.store(st->count_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
      return true;
    }
    // Staged by another worker, whose list only it may touch: ask its flush
    // to fire it as cancelled. If that flush took it into the wheel first
    // (it clears the tag under mu_), take it out of the wheel below.
    if ((tag & kCancelBit) == 0 &&
        e->staged.compare_exchange_strong(tag, tag | kCancelBit, std::memory_order_acq_rel)) {
      // No longer pending, though still on that list (counted there) until
      // its owner's turn ends: our caller may report a result first.
      staged_cancels_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
  }
  // next_due_ may now be early; process() republishes it when it looks.
  std::lock_guard<sys::SpinLock> lock(mu_);
  return wheel_.remove(e);
}

void TimerDriver::attach_staging(TimerStaging* st) {
  st->driver_ = this;
  st->tag_ = ((g_staging_ids.fetch_add(1, std::memory_order_relaxed) + 1) << 2) | kStagedBit;
  {
    std::lock_guard<sys::SpinLock> lock(mu_);
    st->next_ = stagings_;
    stagings_ = st;
  }
  tl_staging = st;
}

void TimerDriver::detach_staging() {
  TimerStaging* st = tl_staging;
  if (st == nullptr || st->driver_ != this) return;
  flush_staged();
  {
    std::lock_guard<sys::SpinLock> lock(mu_);
    for (TimerStaging** p = &stagings_; *p != nullptr; p = &(*p)->next_) {
      if (*p == st) {
        *p = st->next_;
        break;
      }
    }
  }
  tl_staging = nullptr;
  st->driver_ = nullptr;
}

void TimerDriver::flush_staged() {
  TimerStaging* st = tl_staging;
  if (st == nullptr || st->driver_ != this || st->head_ == nullptr) return;
  TimerEntry* e = std::exchange(st->head_, nullptr);
  st->tail_ = nullptr;
  TimerList due, cancelled;
  bool wake = false;
  {
    std::lock_guard<sys::SpinLock> lock(mu_);
    // The count drops under the lock, with the entries going in: pending()
    // never misses one in between.
    st->count_.store(0, std::memory_order_relaxed);
    while (e != nullptr) {
      TimerEntry* next = e->next;
      e->prev = e->next = nullptr;
      uint32_t tag = st->tag_;
      if (!e->staged.compare_exchange_strong(tag, 0, std::memory_order_acq_rel)) {
        e->staged.store(0, std::memory_order_relaxed);  // Another thread cancelled it.
        // Under mu_ with the count's drop, so pending() sees both or neither.
        // (The canceller may add its 1 just after: pending() is one high
        // until then, before the canceller has reported anything.)
        staged_cancels_.fetch_sub(1, std::memory_order_relaxed);
        cancelled.push_back(e);
      } else if (shut_down_) {
        cancelled.push_back(e);
      } else if (!insert_locked(e, e->deadline, &wake)) {
        due.push_back(e);
      }
      e = next;
    }
  }
  if (wake) reactor_->wake();
  // Outside the lock, as in process(); each may free its entry.
  count_fired(FireAll(&due, /*cancelled=*/false));
  FireAll(&cancelled, /*cancelled=*/true);
}

void TimerDriver::process() {
  Nanos now = clock_.now();
  if (now < next_due_.load(std::memory_order_acquire)) return;
  TimerList due;
  {
    std::lock_guard<sys::SpinLock> lock(mu_);
    if (shut_down_) return;
    wheel_.advance(tick_at_or_before(now), &due);
    publish_next_due_locked();
  }
  count_fired(FireAll(&due, /*cancelled=*/false));
  // A cascade due at the next tick is done now, in the gap before it, not
  // when its own timers are due (see TimerWheel::precascade).
  std::lock_guard<sys::SpinLock> lock(mu_);
  if (wheel_.precascade()) publish_next_due_locked();
}

// Outside the lock: fire functions complete futures, which may run user
// continuations that insert or cancel timers. Entries marked fires_last
// (timeouts) go after the others due in the same batch.
// Returns how many it fired.
uint64_t TimerDriver::FireAll(TimerList* due, bool cancelled) {
  uint64_t fired = 0;
  TimerList last;
  while (TimerEntry* e = due->pop_front()) {
    ++fired;
    if (e->fires_last) {
      last.push_back(e);
    } else {
      e->fire(e, cancelled);  // May free e.
    }
  }
  while (TimerEntry* e = last.pop_front()) e->fire(e, cancelled);
  return fired;
}

void TimerDriver::count_fired(uint64_t n) {
#ifndef NANORUN_NO_METRICS
  if (n != 0) fired_.fetch_add(n, std::memory_order_relaxed);
#else
  (void)n;
#endif
}

absl::Duration TimerDriver::begin_park() {
  Nanos now = clock_.now();
  std::lock_guard<sys::SpinLock> lock(mu_);
  parked_ = true;
  uint64_t next = wheel_.next_expiration();
  parked_until_ = next == TimerWheel::kNever ? kForever : time_of_tick(next);
  // Sleep no longer than the deadline we were last woken for, even if that
  // timer is gone (cancelled): without this, a runtime that arms and cancels
  // timeouts (the RPC pattern) woke the sleeping worker on every insert (an
  // eventfd write each), since the wheel was empty again whenever it parked.
  if (wake_hint_ <= now) wake_hint_ = kForever;
  if (wake_hint_ < parked_until_) parked_until_ = wake_hint_;
  if (parked_until_ <= now) return absl::ZeroDuration();
  // A manual clock moves only through advance(), which wakes the reactor.
  if (parked_until_ == kForever || clock_.manual() != nullptr) {
    return absl::InfiniteDuration();
  }
  return absl::Nanoseconds(parked_until_ - now);
}

void TimerDriver::end_park() {
  std::lock_guard<sys::SpinLock> lock(mu_);
  parked_ = false;
}

void TimerDriver::clock_advanced() { reactor_->wake(); }

void TimerDriver::shutdown() {
  TimerList all;
  {
    std::lock_guard<sys::SpinLock> lock(mu_);
    if (shut_down_) return;
    shut_down_ = true;
    wheel_.take_all(&all);
    next_due_.store(kForever, std::memory_order_release);
  }
  FireAll(&all, /*cancelled=*/true);
}

size_t TimerDriver::pending() const {
  std::lock_guard<sys::SpinLock> lock(mu_);
  int64_t staged = 0;
  for (TimerStaging* st = stagings_; st != nullptr; st = st->next_) {
    staged += static_cast<int64_t>(st->count_.load(std::memory_order_relaxed));
  }
  // Staged entries another thread cancelled are not pending.
  staged -= staged_cancels_.load(std::memory_order_relaxed);
  return wheel_.size() + static_cast<size_t>(staged > 0 ? staged : 0);
}

}  // namespace time
}  // namespace v0
}  // namespace nanorun
