// The timer wheel's placement, cascading and next-deadline search (see
// wheel.h for the layout).
#include "nanorun/time/wheel.h"

namespace nanorun {
inline namespace v0 {
namespace time {
namespace {

constexpr uint64_t kSlotMask = TimerWheel::kSlots - 1;

// The level whose slots separate `deadline` from `now`: the highest bit in
// which they differ, over 6 (ORing the slot mask keeps level 0 for
// deadlines in now's own 64-tick block). Deadlines a whole wheel away
// (possible only after clamping) share the top level.
int LevelFor(uint64_t now, uint64_t deadline) {
  uint64_t differing = (now ^ deadline) | kSlotMask;
  int highest_bit = 63 - __builtin_clzll(differing);
  int level = highest_bit / TimerWheel::kSlotBits;
  return level < TimerWheel::kLevels ? level : TimerWheel::kLevels - 1;
}

uint64_t RotateRight(uint64_t x, unsigned n) {
  n &= 63;
  return n == 0 ? x : (x >> n) | (x << (64 - n));
}

}  // namespace

bool TimerWheel::insert(TimerEntry* e, uint64_t deadline) {
  if (deadline <= now_) return false;
  if (deadline - now_ > kMaxTicks) deadline = now_ + kMaxTicks;
  e->deadline = deadline;
  // After a precascade the lower levels are laid out relative to the next
  // tick; placing relative to it too keeps a level-k slot from reappearing
  // at that tick behind the entries already moved down (and keeps ties in
  // insertion order).
  link(e, precascaded_ ? now_ + 1 : now_);
  ++size_;
  return true;
}

bool TimerWheel::remove(TimerEntry* e) {
  if (e->slot == TimerEntry::kUnlinked) return false;
  unlink(e);
  --size_;
  return true;
}

// Places `e` by its deadline relative to `relative_to`: now_, or the start
// of the slot being precascaded (see precascade()).
void TimerWheel::link(TimerEntry* e, uint64_t relative_to) {
  int level = LevelFor(relative_to, e->deadline);
  int slot = static_cast<int>((e->deadline >> (level * kSlotBits)) & kSlotMask);
  int index = level * kSlots + slot;
  e->slot = static_cast<uint16_t>(index);
  TimerEntry*& head = head_[index];
  if (head == nullptr) {
    e->prev = e->next = e;
    head = e;
    occupied_[level] |= uint64_t{1} << slot;
  } else {  // Append: entries due at the same tick keep insertion order.
    TimerEntry* tail = head->prev;
    e->prev = tail;
    e->next = head;
    tail->next = e;
    head->prev = e;
  }
}

void TimerWheel::unlink(TimerEntry* e) {
  int index = e->slot;
  TimerEntry*& head = head_[index];
  if (e->next == e) {
    head = nullptr;
    occupied_[index / kSlots] &= ~(uint64_t{1} << (index % kSlots));
  } else {
    e->prev->next = e->next;
    e->next->prev = e->prev;
    if (head == e) head = e->next;
  }
  e->prev = e->next = nullptr;
  e->slot = TimerEntry::kUnlinked;
}

// For each level, the first occupied slot after now's own slot (slots at or
// before it hold nothing of this block: their entries would have been placed
// lower, or were cascaded already), and when it starts; the earliest wins.
// At the top level the search wraps: a clamped deadline can sit a whole
// wheel turn ahead, in a slot "before" now's.
bool TimerWheel::find_next(Expiration* out) const {
  bool found = false;
  for (int level = 0; level < kLevels; ++level) {
    if (occupied_[level] == 0) continue;
    int shift = level * kSlotBits;
    uint64_t now_slot = (now_ >> shift) & kSlotMask;
    uint64_t rotated = RotateRight(occupied_[level], static_cast<unsigned>(now_slot + 1));
    uint64_t distance = static_cast<uint64_t>(__builtin_ctzll(rotated)) + 1;  // 1..64
    uint64_t tick = ((now_ >> shift) + distance) << shift;
    if (!found || tick < out->tick) {
      out->tick = tick;
      out->level = level;
      out->slot = static_cast<int>((now_slot + distance) & kSlotMask);
      found = true;
    }
  }
  return found;
}

uint64_t TimerWheel::next_expiration() const {
  Expiration x;
  return find_next(&x) ? x.tick : kNever;
}

uint64_t TimerWheel::expiration_of(const TimerEntry& e) const {
  int shift = (e.slot / kSlots) * kSlotBits;
  return (e.deadline >> shift) << shift;
}

void TimerWheel::advance(uint64_t now, TimerList* due) {
  if (now > now_) precascaded_ = false;
  Expiration x;
  while (find_next(&x) && x.tick <= now) {
    now_ = x.tick;
    process(x, due);
  }
  if (now > now_) now_ = now;
}

// Takes a non-empty slot's whole circular list out of the wheel (its
// entries still carry their old links; callers walk and relink them).
TimerEntry* TimerWheel::detach(const Expiration& x) {
  int index = x.level * kSlots + x.slot;
  TimerEntry* head = head_[index];
  head_[index] = nullptr;
  occupied_[x.level] &= ~(uint64_t{1} << x.slot);
  return head;
}

// Empties one slot at now_ == its start: a level-0 slot holds exactly the
// entries due now; a higher one is re-placed relative to now_ (lower
// levels), except entries due exactly at its start.
void TimerWheel::process(const Expiration& x, TimerList* due) {
  TimerEntry* head = detach(x);
  TimerEntry* e = head;
  do {
    TimerEntry* next = e->next;
    __builtin_prefetch(next);  // Dense cascades are bound by these misses.
    e->prev = e->next = nullptr;
    e->slot = TimerEntry::kUnlinked;
    if (e->deadline <= now_) {
      --size_;
      due->push_back(e);
    } else {
      link(e, now_);
    }
    e = next;
  } while (e != head);
}

// With now_ = t - 1 and a level-k slot starting at t, every lower level is
// empty (their entries were all due by t - 1), so the slot's entries can be
// placed relative to t already; find_next() then reports each at its right
// tick, because now_'s slot index is 63 at every lower level.
bool TimerWheel::precascade() {
  bool moved = false;
  Expiration x;
  while (find_next(&x) && x.level > 0 && x.tick == now_ + 1) {
    TimerEntry* head = detach(x);
    TimerEntry* e = head;
    do {
      TimerEntry* next = e->next;
      __builtin_prefetch(next);
      link(e, x.tick);  // Lands on a lower level: its deadline is >= x.tick.
      e = next;
    } while (e != head);
    moved = true;
  }
  if (moved) precascaded_ = true;
  return moved;
}

void TimerWheel::take_all(TimerList* out) {
  for (int index = 0; index < kLevels * kSlots; ++index) {
    while (TimerEntry* e = head_[index]) {
      unlink(e);
      out->push_back(e);
    }
  }
  size_ = 0;
}

}  // namespace time
}  // namespace v0
}  // namespace nanorun
