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
#include "nanorun/reactor/io.h"
#include "nanorun/sys/socket.h"

namespace nanorun {
namespace net {
namespace detail {

using nanorun::detail::Result;

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
    return absl::CancelledError(absl::StrCat(op, " ", label_, ": the socket was closed"));
  }
  absl::Status errno_error(int err, const char* op) const {
    return sys::ErrnoStatus(err, absl::StrCat(op, " ", label_));
  }

 private:
  SocketCore(executor::Executor* e, int fd, reactor::IoRegistration* r, std::string label)
      : executor_(e), fd_(fd), registration_(r), label_(std::move(label)) {}

  executor::Executor* executor_;  // Holds a reference: the reactor outlives us.
  int fd_;
  reactor::IoRegistration* registration_;
  std::string label_;
};

// One attempt's outcome.
template <class T>
struct Step {
  enum Kind { kDone, kWouldBlock, kBackoff } kind;
  std::optional<Result<T>> result;  // kDone.
  absl::Duration backoff;           // kBackoff: retry after this long.

  static Step done(Result<T> r) { return Step{kDone, std::move(r), absl::ZeroDuration()}; }
  static Step would_block() { return Step{kWouldBlock, std::nullopt, absl::ZeroDuration()}; }
  static Step retry_after(absl::Duration d) { return Step{kBackoff, std::nullopt, d}; }
};

// The task behind a pending operation: tries `attempt` after every edge in
// `dir` until it is done. `attempt` is called again and again on the same
// object, so it may keep progress in its captures (write_all's offset).
template <class T, class Attempt>
class IoOpBody {
 public:
  using Output = Result<T>;
  IoOpBody(std::shared_ptr<SocketCore> core, reactor::Direction dir, const char* op, uint64_t seen,
           absl::Duration initial_backoff, Attempt attempt)
      : core_(std::move(core)),
        dir_(dir),
        op_(op),
        seen_(seen),
        initial_backoff_(initial_backoff),
        attempt_(std::move(attempt)) {}

  Poll<Output> poll(Context& cx) {
    reactor::IoRegistration& r = core_->registration();
    if (initial_backoff_ > absl::ZeroDuration()) {
      return back_off(std::exchange(initial_backoff_, absl::ZeroDuration()), cx);
    }
    for (;;) {
      if (r.is_closed()) return Poll<Output>::ready(Output(core_->closed_error(op_)));
      if (backing_off_) {
        backing_off_ = false;
      } else if (r.wait(dir_, seen_, cx.waker())) {
        return Poll<Output>::pending();  // Woken by the next edge (or close).
      }
      seen_ = r.ready_seq(dir_);
      Step<T> step = attempt_(*core_);
      if (step.kind == Step<T>::kDone) return Poll<Output>::ready(std::move(*step.result));
      if (step.kind == Step<T>::kBackoff) return back_off(step.backoff, cx);
    }
  }

 private:
  // Retries after `delay` instead of spinning (accept under EMFILE: no edge
  // will come for connections already waiting in the backlog).
  Poll<Output> back_off(absl::Duration delay, Context& cx) {
    backing_off_ = true;
    (void)time::sleep(delay).then_result([w = cx.waker()](absl::Status) mutable { w.wake(); });
    return Poll<Output>::pending();
  }

  std::shared_ptr<SocketCore> core_;
  reactor::Direction dir_;
  const char* op_;
  uint64_t seen_;
  absl::Duration initial_backoff_;
  bool backing_off_ = false;
  Attempt attempt_;
};

// `attempt` (SocketCore&) -> Step<T>. Tries it at once (try_first) and returns a ready
// future without any task when it does not block; otherwise a task on the
// socket's runtime retries it on each readiness edge.
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
  absl::Duration backoff = absl::ZeroDuration();
  if (try_first) {
    Step<T> step = attempt(*core);
    if (step.kind == Step<T>::kDone) return Future<T>::FromResult(std::move(*step.result));
    if (step.kind == Step<T>::kBackoff) backoff = step.backoff;
  }
  auto handle = core->executor()->spawn(
      IoOpBody<T, Attempt>(core, dir, op, seen, backoff, std::move(attempt)));
  return JoinHandle<T>(std::move(handle)).into_future();
}

}  // namespace detail
}  // namespace net
}  // namespace nanorun

#endif  // NANORUN_NET_SOCKET_CORE_H_
