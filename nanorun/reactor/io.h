// I/O readiness for registered file descriptors: what nanorun::net waits on.
//
// A registration is edge-triggered (epoll's EPOLLET): the kernel reports a
// direction once when it becomes ready, and the registration counts those
// reports in a sequence number per direction. An operation reads the
// sequence, tries its syscall, and on EAGAIN calls wait() with the sequence
// it saw: if an edge arrived in between, wait() refuses (try again now),
// else it keeps the task's waker until the next edge. So no edge is lost,
// and an idle connection costs nothing: no event repeats while nobody reads
// (level-triggered registration makes epoll report an idle readable or
// writable socket on every wait, which is how the Rust reference ends up
// spinning on an idle connection).
//
// Registrations live in a slab with stable addresses; the token given to
// the kernel is (generation << 32 | index), and the generation changes when
// a slot is freed, so an event still in flight for a closed socket never
// reaches the socket that reuses its slot or its fd number.
#ifndef NANORUN_REACTOR_IO_H_
#define NANORUN_REACTOR_IO_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "nanorun/sys/spin_lock.h"
#include "nanorun/waker/waker.h"

namespace nanorun {
inline namespace v0 {
namespace reactor {

enum class Direction : int { kRead = 0, kWrite = 1 };

class IoRegistration;

// For backends whose readiness reports are one-shot requests (Windows' AFD
// poll): told when an operation starts waiting in a direction, so the
// backend can have a request pending for it. epoll reports edges by itself
// and needs none.
class IoArming {
 public:
  virtual void arm(IoRegistration* r, Direction dir) = 0;

 protected:
  ~IoArming() = default;
};

class IoRegistration {
 public:
  IoRegistration() = default;
  IoRegistration(const IoRegistration&) = delete;
  IoRegistration& operator=(const IoRegistration&) = delete;

  // Readiness edges seen so far in `dir`. Read it before trying a syscall.
  uint64_t ready_seq(Direction dir) const {
    return seq_[static_cast<int>(dir)].load(std::memory_order_acquire);
  }

  // After a syscall in `dir` would block: keeps `waker` until the next edge
  // and returns true. Returns false, keeping nothing, if an edge arrived
  // since `seen` (retry now) or the registration is closed. Any number of
  // operations may wait in one direction (two reads, two accepts): an edge,
  // and close(), wake every one of them, and each retries its syscall (the
  // ones that find nothing wait again), as tokio's ScheduledIo does. A waker
  // that will_wake one already kept is not kept twice. With `stopped`: also
  // refuses once *stopped is true (read under the lock stop_waiting sets it
  // under, so a stop is never missed between the caller's check and here).
  bool wait(Direction dir, uint64_t seen, const Waker& waker,
            const std::atomic<bool>* stopped = nullptr);

  // An operation is being stopped: sets *stopped and takes its waker (one
  // that will_wake `waker`) out of the list. True if the waker was there: no
  // edge will wake it, and the caller settles the operation. False: it is not
  // waiting (a wake is on its way to it, or it is between attempts), and it
  // sees *stopped before its next attempt or wait.
  bool stop_waiting(Direction dir, const Waker& waker, std::atomic<bool>* stopped);

  // Closed by close(): operations must stop and fail.
  bool is_closed() const { return closed_.load(std::memory_order_acquire); }

  int fd() const { return fd_; }

  // Backend bookkeeping: who to tell when a waiter arrives (or null), and
  // the backend's per-socket state.
  void set_backend(IoArming* arming, void* state) {
    arming_ = arming;
    backend_state_ = state;
  }
  void* backend_state() const { return backend_state_; }
  uint64_t token() const { return token_.load(std::memory_order_acquire); }

  // Reactor side: an edge in the given directions (wakes their waiters).
  // `persistent`: the edge reports a readable condition that lasts (the
  // peer's close, an error, urgent data; sticky: see edges_cover_reads()).
  void on_ready(bool readable, bool writable, bool persistent = false);

  // True while every byte or end of stream that a read could find has, or
  // will get, an edge of its own: the backend reports edges by itself (epoll;
  // not AFD poll, which is armed per wait), and no persistent condition was
  // reported. End of stream, a reset or an urgent mark stays readable with no
  // further edge, so after one a read must always try. Read ready_seq(kRead)
  // first: the condition is recorded before the sequence moves, so one seen
  // through the sequence is seen here too.
  bool edges_cover_reads() const {
    return arming_ == nullptr && !persistent_read_.load(std::memory_order_relaxed);
  }
  // Marks the registration closed and wakes every waiter.
  void close();

 private:
  friend class IoSlab;

  void keep_waiter(int d, const Waker& waker);  // Under mu_.

  mutable sys::SpinLock mu_;
  std::atomic<uint64_t> seq_[2] = {};
  std::atomic<bool> closed_{false};
  std::atomic<bool> persistent_read_{false};  // Sticky until the slot is reused.
  // Guarded by mu_. The first waiter of each direction is kept inline, so the
  // usual case (one operation per direction) allocates nothing; the others
  // wait in `more_waiters_`.
  Waker waiter_[2];
  std::vector<Waker> more_waiters_[2];
  int fd_ = -1;
  std::atomic<uint64_t> token_{0};
  IoArming* arming_ = nullptr;
  void* backend_state_ = nullptr;
};

// Registrations with stable addresses, looked up by token.
class IoSlab {
 public:
  IoSlab() = default;
  ~IoSlab();
  IoSlab(const IoSlab&) = delete;
  IoSlab& operator=(const IoSlab&) = delete;

  // A fresh registration for `fd`, or nullptr when the slab is full.
  IoRegistration* allocate(int fd);
  // Returns `r` to the slab; its token stops matching.
  void release(IoRegistration* r);
  // The registration `token` names, or nullptr if it was released since.
  IoRegistration* find(uint64_t token) const;
  // Closes every live registration (runtime shutdown): their waiters wake
  // and fail, and later operations on them fail at once. Registrations
  // allocated afterwards start closed, so a socket registered while shutdown
  // runs cannot slip past it and wait forever.
  void close_all();
  size_t live() const { return live_.load(std::memory_order_relaxed); }

 private:
  static constexpr size_t kPageSize = 1024;
  static constexpr size_t kMaxPages = 4096;  // 4 M registrations.

  struct Page {
    IoRegistration slots[kPageSize];
  };

  std::mutex mu_;  // Guards allocation; lookups read pages_ lock-free.
  std::atomic<Page*> pages_[kMaxPages] = {};
  std::vector<uint32_t> free_;  // Guarded by mu_.
  std::vector<uint32_t> generation_;  // Guarded by mu_.
  uint32_t next_index_ = 0;           // Guarded by mu_.
  bool closing_ = false;              // Guarded by mu_: close_all() began.
  std::atomic<size_t> live_{0};
};

}  // namespace reactor
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_REACTOR_IO_H_
