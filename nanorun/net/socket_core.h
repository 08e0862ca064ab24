// What every nanorun::net socket is underneath: a shared SocketCore (the fd,
// its reactor registration, the runtime it belongs to), and IoOp, which
// turns one non-blocking syscall into a Future by retrying it on each
// readiness edge (see reactor/io.h).
//
// Lifetimes: TcpStream, TcpListener and UdpSocket are cheap handles to a
// shared core, and every pending operation holds the core too, so the fd
// stays open (and its number cannot be reused by another socket) until the
// last handle and the last operation are gone. Buffers passed as spans are
// not owned: keep them alive until the returned future completes (or use
// the overloads that take and return std::string).
#ifndef NANORUN_NET_SOCKET_CORE_H_
#define NANORUN_NET_SOCKET_CORE_H_

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "nanorun/executor/executor.h"
#include "nanorun/future/future.h"
#include "nanorun/future/runtime.h"
#include "nanorun/future/timers.h"
#include "nanorun/net/ring_read_queue.h"
#include "nanorun/net/socket_addr.h"
#include "nanorun/reactor/io.h"
#include "nanorun/sys/socket.h"
#include "nanorun/task/block_cache.h"
#include "nanorun/waker/waker.h"

namespace nanorun {
inline namespace v0 {
namespace net {
namespace detail {

using nanorun::detail::Result;

class RingAccept;  // ring_accept.h

class SocketCore : public std::enable_shared_from_this<SocketCore> {
 public:
  // Registers `fd` (non-blocking, now owned: closed on failure too) with
  // `e`'s reactor. `label` names the socket in error messages.
  static absl::StatusOr<std::shared_ptr<SocketCore>> Register(executor::Executor* e, int fd,
                                                              std::string label);
  ~SocketCore();
  SocketCore(const SocketCore&) = delete;
  SocketCore& operator=(const SocketCore&) = delete;

  int fd() const { return fd_; }
  reactor::IoRegistration& registration() { return *registration_; }
  executor::Executor* executor() const { return executor_; }
  const std::string& label() const { return label_; }

  // Pending and later operations fail with CancelledError; the fd itself
  // is closed when the last handle and operation let go of the core.
  void close();
  bool is_closed() const { return registration_->is_closed(); }

  absl::Status closed_error(const char* op) const {
    return absl::CancelledError(absl::StrCat(
        op, " ", label_, ": the socket was closed (by close(), or its runtime shut down)"));
  }
  absl::Status errno_error(int err, const char* op) const {
    return sys::ErrnoStatus(err, absl::StrCat(op, " ", label_));
  }

  // The short-read hint (stream sockets). A read that got fewer bytes than it
  // asked for (and more than none) emptied the socket's receive queue, so a
  // read started while the read direction's readiness sequence is still the
  // one seen before that read would only find EAGAIN: it waits for the next
  // edge instead of making that syscall (tokio clears its readiness on a
  // short read the same way). Why no edge is missed: bytes the short read did
  // not take arrived after it emptied the queue, and their arrival queues an
  // edge after the sequence was read, so the sequence moves past `seq` once
  // that edge is harvested, and the waiting read retries then. End of
  // stream, errors and urgent data are different: they stay readable and get
  // no further edge, so IoOp skips only while the registration saw none of
  // them (IoRegistration::edges_cover_reads: a FIN harvested before the short
  // read began would otherwise leave the next read waiting forever). Only
  // equality skips, so a stale or overwritten value costs at most the syscall.
  // Only TCP streams opt in (trust_short_reads): a Unix stream read stops
  // early at a message that carries descriptors or other credentials, with
  // more bytes queued; a short datagram says nothing of the queue. Readers
  // on other threads only ever make it skip less.
  void trust_short_reads() {
    short_reads_drain_ = true;
    // TCP streams read through the reactor's ring where it has one: nothing
    // else on a stream can stop a read early (see ring_read.h).
    if (ring_recv_limit_ == 0) {
      ring_recv_limit_ = executor_->reactor().ring_recv_limit();
      if (ring_recv_limit_ != 0) executor_->reactor().reads_by_ring(registration_);
    }
  }
  void note_read_drained(uint64_t seq_before_read) {
    if (short_reads_drain_) read_drained_at_.store(seq_before_read, std::memory_order_relaxed);
  }
  bool read_drained_at(uint64_t seq) const {
    return read_drained_at_.load(std::memory_order_relaxed) == seq;
  }

  // Ring operations (ring_read.h, ring_write.h): nonzero, the most one recv
  // returns, when this stream's reads that would wait, and its writes, go
  // into the reactor's ring instead.
  size_t ring_recv_limit() const { return ring_recv_limit_; }
  RingReadQueue& ring_queue() { return ring_queue_; }
  RingReadQueue& ring_write_queue() { return ring_write_queue_; }  // ring_write.h

  // A TCP listener's accepts through the reactor's ring (ring_accept.h),
  // where the reactor offers them (Reactor::accepts_by_ring); else nothing
  // happens and ring_accept() stays null. Before the core is shared.
  void accept_by_ring();
  RingAccept* ring_accept() const { return ring_accept_.get(); }

 private:
  SocketCore(executor::Executor* e, int fd, reactor::IoRegistration* r, std::string label)
      : executor_(e), fd_(fd), registration_(r), label_(std::move(label)) {}

  executor::Executor* executor_;  // Holds a reference: the reactor outlives us.
  int fd_;
  reactor::IoRegistration* registration_;
  std::string label_;
  std::atomic<uint64_t> read_drained_at_{~uint64_t{0}};  // No short read yet.
  bool short_reads_drain_ = false;  // Set before the core is shared.
  size_t ring_recv_limit_ = 0;      // Likewise.
  RingReadQueue ring_queue_;
  RingReadQueue ring_write_queue_;
  std::shared_ptr<RingAccept> ring_accept_;  // Set before the core is shared.

};

// The runtime for a socket made by a static factory: `handle`'s, else the
// calling worker's; nullptr (and `error` set) if neither.
executor::Executor* RuntimeFor(const Handle* handle, const char* op, absl::Status* error);

// What the factories share (socket_options.cc). ApplyBindOptions checks and
// sets what must precede bind: SO_REUSEPORT, IPV6_V6ONLY and buffer sizes;
// `op` names the call in messages.
absl::Status ApplyBindOptions(int fd, const SocketAddr& addr, bool reuse_port,
                              std::optional<bool> v6_only, std::optional<int> send_buffer_size,
                              std::optional<int> receive_buffer_size, const char* op);
// Checks an inherited IP socket (sys::AdoptSocket) and registers it, named
// by its addresses; `op` names the call in messages.
absl::StatusOr<std::shared_ptr<SocketCore>> AdoptIpSocket(int fd, sys::SocketRole role,
                                                          const Handle& handle, const char* op);

// How error messages name a socket bound to `requested`: the address it
// really got (port 0 resolved), else the one asked for.
std::string BoundLabel(int fd, const SocketAddr& requested);

// One attempt's outcome.
template <class T>
struct Step {
  enum Kind { kDone, kWouldBlock, kBackoff } kind;
  std::optional<Result<T>> result;  // kDone.
  absl::Duration backoff;           // kBackoff: retry after this long.
  // kDone by a stream read that got fewer bytes than it asked for (and some):
  // the receive queue is empty (SocketCore::note_read_drained).
  bool drained = false;

  static Step done(Result<T> r) { return Step{kDone, std::move(r), absl::ZeroDuration()}; }
  static Step done_short_read(Result<T> r) {
    return Step{kDone, std::move(r), absl::ZeroDuration(), true};
  }
  static Step would_block() { return Step{kWouldBlock, std::nullopt, absl::ZeroDuration()}; }
  static Step retry_after(absl::Duration d) { return Step{kBackoff, std::nullopt, d}; }
};

// A pending operation: the state of the future it returns, plus what it
// needs to retry: it is its own waker. The registration keeps that waker
// until the next edge in `dir` (or close), then wake() retries the
// operation right there, on the thread that delivered the edge: the worker
// sleeping in (or polling) the reactor, or the thread that called close().
// Continuations then follow the usual rules (docs/futures.md): one bound to
// the socket's runtime runs inline on its worker, or posts itself there.
// This is what Asio does with its handlers; tokio instead wakes a task,
// which here cost a task, a join handle and a bridge per wait (~40% of an
// echo round trip's instructions in callgrind).
//
// The node is the output state (first base), so the consumer frees it after
// taking the result; everything else it holds is destroyed when the
// operation completes, before the result is published.
//
// Stopping (the future was dropped, a timeout around it passed, its task was
// aborted): if the operation is waiting for an edge, its waker is taken out of
// the registration and it settles with CancelledError at once: its syscall
// never runs, so nothing was read or written, and it lets go of the buffer and
// the socket. If it is between an edge and its attempt, it sees the stop
// before the attempt (or completes with what an attempt already did: a read
// that got bytes returns them). `busy_` keeps the stop hook and complete()
// (which lets go of the socket the hook reads) from overlapping.
template <class T, class Attempt>
class IoOpNode final : public nanorun::detail::SharedState<T> {
 public:
  static Future<T> Start(std::shared_ptr<SocketCore> core, reactor::Direction dir, const char* op,
                         uint64_t seen, absl::Duration backoff, Attempt attempt) {
    void* memory = task::AllocateBlock(sizeof(IoOpNode));
    auto* node = new (memory)
        IoOpNode(std::move(core), dir, op, seen, std::move(attempt));
    node->alloc_size = sizeof(IoOpNode);
    node->set_stop_hook(&node->stop_hook_);
    Future<T> out = nanorun::detail::FutureAccess::from_state<T>(node);
    // From here the node may complete (and its continuation run) at any
    // moment on another thread; `out` keeps the state alive.
    if (backoff > absl::ZeroDuration()) {
      node->back_off(backoff);
    } else {
      node->run(/*after_edge=*/false);
    }
    return out;
  }

 private:
  IoOpNode(std::shared_ptr<SocketCore> core, reactor::Direction dir, const char* op, uint64_t seen,
           Attempt attempt)
      : core_(std::move(core)), dir_(dir), op_(op), seen_(seen) {
    new (&attempt_) Attempt(std::move(attempt));
  }
  ~IoOpNode() = delete;  // The output state frees the allocation.

  // Waits for an edge, or retries after one, until the operation is done.
  void run(bool after_edge) {
    reactor::IoRegistration& r = core_->registration();
    for (;;) {
      if (r.is_closed()) return complete(Result<T>(core_->closed_error(op_)));
      if (stopped_.load(std::memory_order_acquire)) return complete(Result<T>(stopped_error()));
      if (!after_edge && r.wait(dir_, seen_, waker(), &stopped_)) {
        // wake() resumes. For Handle::dump(), if a traced task's poll got here:
        task::NoteWait(dir_ == reactor::Direction::kRead ? task::WaitKind::kSocketRead
                                                         : task::WaitKind::kSocketWrite);
        return;
      }
      after_edge = false;
      seen_ = r.ready_seq(dir_);
      Step<T> step = attempt_(*core_);
      if (step.kind == Step<T>::kDone) {
        if (step.drained) core_->note_read_drained(seen_);
        return complete(std::move(*step.result));
      }
      if (step.kind == Step<T>::kBackoff) return back_off(step.backoff);
    }
  }

  // Retries after `delay` instead of spinning (accept under EMFILE: no
  // edge comes for connections already waiting in the backlog). The timer is
  // the socket's runtime's, not the calling thread's: an operation started off
  // a runtime got a sleep that failed at once, retried inline, and recursed
  // until the stack overflowed while the error lasted.
  void back_off(absl::Duration delay) {
    executor::Executor* e = core_->executor();
    time::Nanos deadline = time::AddSaturating(e->timers().clock().now(), delay);
    // Detached: the operation itself is what waits (a stop is seen when it
    // wakes, within `delay`).
    time::detail::SleepNode::Start(e, deadline)
        .then_result([this](absl::Status waited) {
          if (!waited.ok()) return complete(Result<T>(core_->closed_error(op_)));  // Shut down.
          run(/*after_edge=*/true);
        })
        .detach();
  }

  absl::Status stopped_error() const {
    return absl::CancelledError(absl::StrCat(
        op_, " ", core_->label(),
        ": stopped while it waited for the socket (its future was dropped, a timeout "
        "passed, or its task was aborted): it read or wrote nothing more"));
  }

  void complete(Result<T> result) {
    attempt_.~Attempt();
    this->store(std::move(result));
    if (busy_.fetch_or(kCompleting, std::memory_order_acq_rel) & kStopping) {
      return;  // The stop hook reads core_ now; it publishes when done.
    }
    publish();
  }
  void publish() {
    core_.reset();  // May close the socket, if this was its last user.
    if (nanorun::detail::Continuation* c = nanorun::detail::Publish<T>(this)) {
      nanorun::detail::Dispatch(c, this);
    }
  }

  static nanorun::detail::StopStep OnStop(nanorun::detail::StateBase* self) {
    auto* node = static_cast<IoOpNode*>(static_cast<nanorun::detail::SharedState<T>*>(self));
    if (!(node->busy_.fetch_or(kStopping, std::memory_order_acq_rel) & kCompleting)) {
      reactor::IoRegistration& r = node->core_->registration();
      if (r.stop_waiting(node->dir_, node->waker(), &node->stopped_)) {
        // It was waiting, and no edge can wake it now: settle it here.
        node->attempt_.~Attempt();
        node->store(Result<T>(node->stopped_error()));
        node->busy_.fetch_or(kCompleting, std::memory_order_relaxed);
        node->publish();
      } else if (node->busy_.fetch_and(~kStopping, std::memory_order_acq_rel) & kCompleting) {
        node->publish();  // It completed while we looked: complete() left this to us.
      }
    }
    return nanorun::detail::StopStep{nullptr, nullptr, /*stoppable=*/true};
  }

  // The waker the registration keeps: at most one copy is ever held, and
  // only while the operation waits, so copies need no count.
  Waker waker() { return Waker::from_raw(RawWaker{this, &kWakerVTable}); }
  static RawWaker Clone(const void* p) { return RawWaker{p, &kWakerVTable}; }
  // An edge (or close) woke the operation. Inside the reactor the retry, and
  // the user continuation it may run, wait until the worker is out of it.
  static void Wake(const void* p) {
    auto* node = static_cast<IoOpNode*>(const_cast<void*>(p));
    node->deferred_.run = &RunDeferred;
    node->deferred_.owner = node;
    if (executor::Executor::defer_io(&node->deferred_)) return;
    node->run(/*after_edge=*/true);
  }
  static void RunDeferred(void* node) {
    static_cast<IoOpNode*>(node)->run(/*after_edge=*/true);
  }
  static void Drop(const void*) {}
  static constexpr RawWakerVTable kWakerVTable = {&Clone, &Wake, &Wake, &Drop};

  std::shared_ptr<SocketCore> core_;
  reactor::Direction dir_;
  const char* op_;
  uint64_t seen_;
  executor::DeferredIo deferred_;  // Linked only between a wake and its retry.
  std::atomic<bool> stopped_{false};  // Set under the registration's lock.
  static constexpr int kStopping = 1, kCompleting = 2;
  std::atomic<int> busy_{0};
  nanorun::detail::StopHookFn stop_hook_ = &OnStop;
  union {
    Attempt attempt_;  // Destroyed by complete().
  };
};

// `attempt` (SocketCore&) -> Step<T>. Tries it at once (try_first) and
// returns a ready future, with no allocation, when it does not block;
// otherwise an IoOpNode retries it on each readiness edge.
template <class T, class Attempt>
Future<T> IoOp(const std::shared_ptr<SocketCore>& core, reactor::Direction dir, const char* op,
               bool try_first, Attempt attempt) {
  if (core == nullptr) {
    return make_error_future<T>(absl::FailedPreconditionError(absl::StrCat(
        op, " on an empty socket (default-constructed or moved-from): make one with "
            "bind/connect/accept")));
  }
  reactor::IoRegistration& r = core->registration();
  if (r.is_closed()) return make_error_future<T>(core->closed_error(op));
  uint64_t seen = try_first ? r.ready_seq(dir) : 0;
  // After a short read at this same sequence the attempt would find EAGAIN:
  // wait for the next edge straight away (the node's wait(seen) below).
  if (try_first && dir == reactor::Direction::kRead && core->read_drained_at(seen) &&
      r.edges_cover_reads()) {
    try_first = false;
  }
  absl::Duration backoff = absl::ZeroDuration();
  if (try_first) {
    Step<T> step = attempt(*core);
    if (step.kind == Step<T>::kDone) {
      if (step.drained) core->note_read_drained(seen);
      return nanorun::detail::FutureAccess::from_result<T>(std::move(*step.result));
    }
    if (step.kind == Step<T>::kBackoff) backoff = step.backoff;
  }
  return IoOpNode<T, Attempt>::Start(core, dir, op, seen, backoff, std::move(attempt));
}

}  // namespace detail
}  // namespace net
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_NET_SOCKET_CORE_H_
