// A TCP stream's reads that the reactor's ring carries out (io_uring, stage
// two; ring_read.h), kept in order: at most one is in the ring at a time,
// the others wait behind it in a FIFO, and bytes that a stopped read's recv
// got anyway wait in a stash for the next read. Per socket, inside its
// SocketCore.
//
// Why one at a time: a stop cannot take back a recv the kernel already
// carried out, so a stopped read may still complete with bytes. Those bytes
// are the stream's next ones, and a read started after the stop must get
// them first. If that read could be in the ring beside the stopped one, the
// kernel might hand it the bytes that follow, and the stream would reach
// the caller out of order. So a read waits until the read ahead of it has
// completed, and then takes the stash before it asks the kernel.
//
// Who keeps what alive: every read in the queue holds the SocketCore (a
// shared_ptr), so the queue outlives each of them.
#ifndef NANORUN_NET_RING_READ_QUEUE_H_
#define NANORUN_NET_RING_READ_QUEUE_H_

#include <atomic>
#include <string>

#include "nanorun/reactor/reactor.h"
#include "nanorun/sys/spin_lock.h"

namespace nanorun {
inline namespace v0 {
namespace net {
namespace detail {

// What the queue knows of a read (RingReadNode<T, Reader> in ring_read.h).
struct RingReadBase : reactor::RingOp {
  RingReadBase* next_waiting = nullptr;  // Guarded by RingReadQueue::mu.
  // Called, outside the lock, once this read became the active one: it takes
  // the stash or queues its recv. Returns the read to resume next if this
  // one completed at once (it handed the queue on), else nullptr.
  RingReadBase* (*resume)(RingReadBase* self) = nullptr;
};

struct RingReadQueue {
  // Runs resume() on `next` and on each read that then completes at once.
  static void ResumeFrom(RingReadBase* next) {
    while (next != nullptr) next = next->resume(next);
  }

  // Read without the lock by a read's fast path: false means no read is in
  // the ring or waiting and nothing is stashed, so a plain syscall may go
  // first. Written under `mu`.
  bool busy() const { return busy_.load(std::memory_order_acquire); }

  // Everything below is guarded by `mu`.
  void update_busy() {
    busy_.store(active != nullptr || head != nullptr || !stash.empty() || stash_error != 0,
                std::memory_order_release);
  }
  // The active read is done: the first waiter becomes active and is
  // returned (resume it), or nullptr.
  RingReadBase* pass_on() {
    active = head;
    if (head != nullptr) {
      head = head->next_waiting;
      if (head == nullptr) tail = nullptr;
      active->next_waiting = nullptr;
    }
    update_busy();
    return active;
  }
  void enqueue(RingReadBase* r) {
    r->next_waiting = nullptr;
    if (tail != nullptr) {
      tail->next_waiting = r;
    } else {
      head = r;
    }
    tail = r;
    update_busy();
  }
  // Takes `r` out of the FIFO; false if it is not waiting there.
  bool remove_waiting(RingReadBase* r) {
    RingReadBase* prev = nullptr;
    for (RingReadBase* it = head; it != nullptr; prev = it, it = it->next_waiting) {
      if (it != r) continue;
      (prev != nullptr ? prev->next_waiting : head) = it->next_waiting;
      if (tail == it) tail = prev;
      it->next_waiting = nullptr;
      update_busy();
      return true;
    }
    return false;
  }

  sys::SpinLock mu;
  RingReadBase* active = nullptr;  // In the ring, or about to be.
  RingReadBase* head = nullptr;    // The FIFO of reads waiting behind it.
  RingReadBase* tail = nullptr;
  std::string stash;  // Bytes a stopped read received: the stream's next.
  int stash_error = 0;  // An errno a stopped read received: the next read's.

 private:
  std::atomic<bool> busy_{false};
};

}  // namespace detail
}  // namespace net
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_NET_RING_READ_QUEUE_H_
