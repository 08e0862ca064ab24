// The hashed hierarchical timer wheel (Varghese and Lauck, 1987): 6 levels
// of 64 slots; a slot of level k spans 64^k ticks of 1 ms, so the wheel
// reaches 64^6 ms (about 2.2 years). Insert and cancel are O(1): entries are
// intrusive, doubly linked into their slot, and unlinked in place. Finding
// the next deadline looks at one 64-bit occupancy word per level, never at
// the entries. This class is single-threaded; driver.h adds the lock.
//
// An entry due at tick D is placed by the highest bit in which D differs
// from now: level k = (that bit) / 6, slot (D >> 6k) & 63. When time
// reaches the start of a level-k slot (k > 0), its entries are re-placed
// relative to the new now and so move to lower levels ("cascading"); at
// level 0 a slot holds exactly the entries due at that tick.
//
//   level 2  [  0 |  1 | ... | 63 ]   each slot 4096 ticks
//                 | cascade when now reaches slot 1's start (tick 4096)
//                 v
//   level 1  [  0 |  1 | ... | 63 ]   each slot 64 ticks
//                      | cascade at the slot's start
//                      v
//   level 0  [  0 |  1 | ... | 63 ]   each slot 1 tick: fire
#ifndef NANORUN_TIME_WHEEL_H_
#define NANORUN_TIME_WHEEL_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace nanorun {
inline namespace v0 {
namespace time {

// One pending timer, embedded in whatever waits for it (a sleep's future
// state, a timeout's node). The owner keeps it alive until it fires or is
// removed.
struct TimerEntry {
  // Called once, by the driver and outside its lock, when the deadline has
  // passed (cancelled = false) or the runtime shut down first (true).
  using FireFn = void (*)(TimerEntry* self, bool cancelled);
  static constexpr uint16_t kUnlinked = 0xffff;

  explicit TimerEntry(FireFn f) : fire(f) {}

  FireFn fire;
  uint64_t deadline = 0;  // In ticks.
  TimerEntry* prev = nullptr;
  TimerEntry* next = nullptr;
  uint16_t slot = kUnlinked;  // level * 64 + slot while in the wheel.
  // Among the entries that become due in the same advance(), fire this one
  // after the others: a timeout's own deadline loses a tie with the future
  // it guards when both fire on the same wake.
  bool fires_last = false;
  // Non-zero while the entry waits in a worker's staging list instead of the
  // wheel (TimerDriver::insert_staged): that list's tag, plus a bit when
  // another thread asked to cancel it. Only the driver touches it.
  std::atomic<uint32_t> staged{0};
};

// Entries taken out of the wheel, in firing order (singly linked by next).
struct TimerList {
  TimerEntry* head = nullptr;
  TimerEntry* tail = nullptr;
  void push_back(TimerEntry* e) {
    e->next = nullptr;
    if (tail != nullptr) {
      tail->next = e;
    } else {
      head = e;
    }
    tail = e;
  }
  TimerEntry* pop_front() {
    TimerEntry* e = head;
    if (e != nullptr) {
      head = e->next;
      if (head == nullptr) tail = nullptr;
      e->next = nullptr;
    }
    return e;
  }
  bool empty() const { return head == nullptr; }
};

class TimerWheel {
 public:
  static constexpr int kLevels = 6;
  static constexpr int kSlotBits = 6;
  static constexpr int kSlots = 1 << kSlotBits;
  // Deadlines further than this from now are clamped to it.
  static constexpr uint64_t kMaxTicks = (uint64_t{1} << (kLevels * kSlotBits)) - 1;
  static constexpr uint64_t kNever = ~uint64_t{0};

  explicit TimerWheel(uint64_t now = 0) : now_(now) {}
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;

  uint64_t now() const { return now_; }
  size_t size() const { return size_; }

  // Inserts `e` (not in a wheel) due at `deadline`, clamped to now() +
  // kMaxTicks. Returns false, without inserting, if it is due already
  // (deadline <= now()): the caller fires it.
  bool insert(TimerEntry* e, uint64_t deadline);

  // Unlinks `e` if it is in the wheel; false if it is not (it fired, or
  // was never inserted).
  bool remove(TimerEntry* e);

  // Moves time forward to `now` (earlier values are ignored) and appends
  // every entry due by then to `due`, in order of deadline (entries due at
  // the same tick in the order they were inserted).
  void advance(uint64_t now, TimerList* due);

  // If the next expiration is a cascade (a slot of level > 0) starting at
  // the very next tick, re-places that slot's entries now, in the lower
  // levels (which are empty at this moment), and returns true. The driver
  // calls it right after firing what was due, so the cost of a dense
  // cascade (tens of thousands of entries, ~1.5 ms) is paid in the gap
  // before the next tick instead of delaying the timers due at it.
  bool precascade();

  // The first tick at which advance() has work (an entry due, or a slot to
  // cascade), or kNever when the wheel is empty. Never later than the
  // earliest deadline, so sleeping until then never makes a timer late.
  uint64_t next_expiration() const;

  // The tick at which advance() first looks at `e`'s slot (to fire it, or to
  // cascade it lower): the start of that slot. O(1). Right after
  // insert(e), next_expiration() is the smaller of this and its value before,
  // so a caller can keep the next expiration up to date without a scan.
  // `e` must be in the wheel.
  uint64_t expiration_of(const TimerEntry& e) const;

  // Takes every entry out (shutdown), in no particular order.
  void take_all(TimerList* out);

 private:
  struct Expiration {
    uint64_t tick = 0;
    int level = 0;
    int slot = 0;
  };
  bool find_next(Expiration* out) const;
  void link(TimerEntry* e, uint64_t relative_to);
  void unlink(TimerEntry* e);
  TimerEntry* detach(const Expiration& x);
  void process(const Expiration& x, TimerList* due);

  uint64_t now_;
  // precascade() ran at this now_: lower levels are placed relative to
  // now_ + 1 until time moves.
  bool precascaded_ = false;
  size_t size_ = 0;
  uint64_t occupied_[kLevels] = {};  // Bit s: slot s of that level non-empty.
  // Circular lists; head_[i]->prev is the tail (insertion order is kept).
  TimerEntry* head_[kLevels * kSlots] = {};
};

}  // namespace time
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_TIME_WHEEL_H_
