// The wait queue every sync primitive is built on: an intrusive FIFO of
// waiting operations, each of which is the state of the future it returned.
//
// Claiming: a waiter is settled by exactly one party. The primitive (granting
// a permit, delivering a notification, closing) claims it under the owner's
// lock; the waiter's stop hook (its future was dropped, timed out, its task
// aborted) claims it without the lock and then takes the lock to unlink it.
// One CAS on `phase` decides; a waiter being stopped is skipped by the
// primitive and unlinked by its hook.
//
// Lifetime: while queued, a waiter holds a reference to its owner's core, so
// the core outlives its waiters; whoever claims the waiter moves that
// reference out (into a permit, or away once it is settled).
#ifndef NANORUN_SYNC_WAIT_LIST_H_
#define NANORUN_SYNC_WAIT_LIST_H_

#include <atomic>
#include <cstddef>
#include <memory>
#include <new>
#include <utility>

#include "absl/status/status.h"
#include "nanorun/future/core.h"
#include "nanorun/task/block_cache.h"

namespace nanorun {
inline namespace v0 {
namespace sync {
namespace detail {

struct WaiterLinks {
  enum : int { kQueued, kClaimed, kStopping };
  std::atomic<int> phase{kQueued};
  WaiterLinks* prev = nullptr;
  WaiterLinks* next = nullptr;

  // By the primitive, under the owner's lock: false if the stop hook has it.
  bool claim() {
    int queued = kQueued;
    return phase.compare_exchange_strong(queued, kClaimed, std::memory_order_acq_rel);
  }
  // By the stop hook: false if the primitive claimed it first (it settles now).
  bool claim_for_stop() {
    int queued = kQueued;
    return phase.compare_exchange_strong(queued, kStopping, std::memory_order_acq_rel);
  }
  bool stopping() const { return phase.load(std::memory_order_acquire) == kStopping; }
};

// Guarded by the owner's lock.
class WaitList {
 public:
  WaiterLinks* front() const { return head_; }
  bool empty() const { return head_ == nullptr; }
  void push_back(WaiterLinks* w) {
    w->prev = tail_;
    w->next = nullptr;
    if (tail_ != nullptr) {
      tail_->next = w;
    } else {
      head_ = w;
    }
    tail_ = w;
  }
  void unlink(WaiterLinks* w) {
    if (w->prev != nullptr) {
      w->prev->next = w->next;
    } else {
      head_ = w->next;
    }
    if (w->next != nullptr) {
      w->next->prev = w->prev;
    } else {
      tail_ = w->prev;
    }
    w->prev = nullptr;
    w->next = nullptr;
  }
  // Claims and unlinks every waiter that is not being stopped; returns them in
  // FIFO order, chained through `next` (settled by the caller, unlocked).
  WaiterLinks* claim_all() {
    WaiterLinks* first = nullptr;
    WaiterLinks** tail = &first;
    for (WaiterLinks* w = head_; w != nullptr;) {
      WaiterLinks* next = w->next;
      if (w->claim()) {
        unlink(w);
        *tail = w;
        tail = &w->next;
      }
      w = next;
    }
    return first;
  }

 private:
  WaiterLinks* head_ = nullptr;
  WaiterLinks* tail_ = nullptr;
};

struct NoPayload {};

// A waiting operation of `Core` whose future holds T: the state first (it is
// freed as a state, by the future's consumer), then its place in the list.
// `payload` is what the operation carries while it waits (a channel send's
// value).
// `Links`: WaiterLinks, or a struct derived from it with what the primitive
// reads while walking its list without knowing T (a semaphore's permit count).
template <class T, class Core, class Payload = NoPayload, class Links = WaiterLinks>
struct Waiter : nanorun::detail::SharedState<T>, Links {
  std::shared_ptr<Core> core;  // While queued; moved out by whoever claims it.
  nanorun::detail::StopHookFn hook;
  Payload payload;

  static Waiter* Create(std::shared_ptr<Core> core, nanorun::detail::StopHookFn hook) {
    void* memory = task::AllocateBlock(sizeof(Waiter));
    auto* w = new (memory) Waiter();
    w->alloc_size = sizeof(Waiter);
    w->core = std::move(core);
    w->hook = hook;
    w->set_stop_hook(&w->hook);
    return w;
  }
  // Frees a waiter that was never queued nor handed out.
  void discard() {
    std::shared_ptr<Core> keep = std::move(core);
    this->free_without_result();
  }

  static Waiter* from_state(nanorun::detail::StateBase* s) {
    return static_cast<Waiter*>(static_cast<nanorun::detail::SharedState<T>*>(s));
  }
  static Waiter* from_links(WaiterLinks* l) { return static_cast<Waiter*>(static_cast<Links*>(l)); }

  // Settles each waiter of a claimed chain with `status`, dropping its core
  // reference after (the caller holds one too).
  static void settle_all(WaiterLinks* chain, const absl::Status& status) {
    while (chain != nullptr) {
      WaiterLinks* next = chain->next;
      Waiter* w = from_links(chain);
      std::shared_ptr<Core> keep = std::move(w->core);
      (void)w->settle(nanorun::detail::Result<T>(status));
      chain = next;
    }
  }

  // Settles the future. Returns the flags Publish replaced (kConsumerGone: the
  // consumer had dropped it, and the result was destroyed unread).
  uint32_t settle(nanorun::detail::Result<T> r) {
    this->store(std::move(r));
    uint32_t old = 0;
    if (nanorun::detail::Continuation* c = nanorun::detail::Publish<T>(this, &old)) {
      nanorun::detail::Dispatch(c, this);  // Last touch: the consumer may free it.
    }
    return old;
  }

  // Settles with a result that must not be lost (a received value): if the
  // consumer had already gone, the state is freed and the result handed back
  // in *r, and this returns false. True: the consumer has it (or will).
  bool settle_or_reclaim(nanorun::detail::Result<T>* r) {
    using nanorun::detail::StateBase;
    this->store(std::move(*r));
    uint32_t old = this->flags.fetch_or(StateBase::kResult, std::memory_order_acq_rel);
    if (old & StateBase::kCallback) {
      nanorun::detail::Dispatch(this->continuation, this);  // Last touch.
      return true;
    }
    if (old & StateBase::kConsumerGone) {
      *r = this->take_and_free();
      return false;
    }
    return true;
  }
};

}  // namespace detail
}  // namespace sync
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_SYNC_WAIT_LIST_H_
