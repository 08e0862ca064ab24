// The timer wheel's placement, cascading and next-deadline search (see
// wheel.h for the layout).
#include "nanorun/time/wheel.h"

namespace nanorun {
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
  link(e);
  ++size_;
  return true;
}

bool TimerWheel::remove(TimerEntry* e) {
  if (e->slot == TimerEntry::kUnlinked) return false;
  unlink(e);
  --size_;
  return true;
}

void TimerWheel::link(TimerEntry* e) {
  int level = LevelFor(now_, e->deadline);
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

void TimerWheel::advance(uint64_t now, TimerList* due) {
  Expiration x;
  while (find_next(&x) && x.tick <= now) {
    now_ = x.tick;
    process(x, due);
  }
  if (now > now_) now_ = now;
}

// Empties one slot at now_ == its start: a level-0 slot holds exactly the
// entries due now; a higher one is re-placed relative to now_ (lower
// levels), except entries due exactly at its start.
void TimerWheel::process(const Expiration& x, TimerList* due) {
  int index = x.level * kSlots + x.slot;
  TimerEntry* head = head_[index];
  head_[index] = nullptr;
  occupied_[x.level] &= ~(uint64_t{1} << x.slot);
  TimerEntry* e = head;
  do {
    TimerEntry* next = e->next;
    e->prev = e->next = nullptr;
    e->slot = TimerEntry::kUnlinked;
    if (e->deadline <= now_) {
      --size_;
      due->push_back(e);
    } else {
      link(e);
    }
    e = next;
  } while (e != head);
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
}  // namespace nanorun
