// Linux: thin, errno-checked wrappers over epoll and eventfd for the reactor.
// Nothing here knows about tasks; it only turns syscalls into absl::Status.
#ifndef NANORUN_SYS_LINUX_EVENT_POLL_H_
#define NANORUN_SYS_LINUX_EVENT_POLL_H_

#include <cstdint>

#include "absl/status/status.h"

namespace nanorun {
inline namespace v0 {
namespace sys {

// One readiness report: the token an fd was added with, and which ways it
// became ready (errors and hang-ups count as both, so the operation runs
// and sees the error).
struct PollEvent {
  uint64_t token;
  bool readable;
  bool writable;
  // A readable condition that lasts, unlike new data, so no later edge
  // reports it again: the peer closed or reset the connection (RDHUP, HUP,
  // ERR), or urgent data arrived (PRI: a read stops short at its mark).
  bool persistent;
};

// An owned epoll instance plus an eventfd registered in it under `kWakeToken`.
// Writing the eventfd (Wake) makes a concurrent or later Wait return.
class EventPoll {
 public:
  static constexpr uint64_t kWakeToken = 0;

  EventPoll() = default;
  EventPoll(const EventPoll&) = delete;
  EventPoll& operator=(const EventPoll&) = delete;
  ~EventPoll();

  // Creates the epoll fd and the eventfd (both CLOEXEC).
  absl::Status Open();

  // Waits up to `timeout_ns` (-1: forever, 0: just look) for events. Returns
  // the number of events written to `events` (at most `capacity`); the wake
  // token is consumed here and reported with token kWakeToken. EINTR counts as
  // an early, empty return. The timeout has nanosecond precision where the
  // kernel has epoll_pwait2 (5.11+), else it is rounded up to milliseconds.
  int Wait(PollEvent* events, int capacity, int64_t timeout_ns);

  // Adds `fd` for edge-triggered read and write readiness under `token`
  // (!= kWakeToken), or removes it.
  absl::Status Add(int fd, uint64_t token);
  absl::Status Remove(int fd);
  // From now on only write readiness (and hang-ups and errors) for `fd`:
  // its reads are completion requests that need no edge.
  absl::Status WatchWritesOnly(int fd, uint64_t token);

  // Makes a Wait that is in progress (or the next one) return. Safe from
  // any thread; a failed write (the counter is saturated) still wakes.
  void Wake();

  // The epoll fd itself: readable while events are ready (the io_uring
  // reactor polls it from its ring).
  int fd() const { return epoll_fd_; }

 private:
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
};

}  // namespace sys
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_SYS_LINUX_EVENT_POLL_H_
