// Linux: thin, errno-checked wrappers over epoll and eventfd for the reactor.
// Nothing here knows about tasks; it only turns syscalls into absl::Status.
#ifndef NANORUN_SYS_LINUX_EVENT_POLL_H_
#define NANORUN_SYS_LINUX_EVENT_POLL_H_

#include <cstdint>

#include "absl/status/status.h"

namespace nanorun {
namespace sys {

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
  // the number of ready tokens written to `tokens` (at most `capacity`); the
  // wake token is consumed here and reported as kWakeToken. EINTR counts as
  // an early, empty return. The timeout has nanosecond precision where the
  // kernel has epoll_pwait2 (5.11+), else it is rounded up to milliseconds.
  int Wait(uint64_t* tokens, int capacity, int64_t timeout_ns);

  // Makes a Wait that is in progress (or the next one) return. Safe from
  // any thread; a failed write (the counter is saturated) still wakes.
  void Wake();

 private:
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
};

}  // namespace sys
}  // namespace nanorun

#endif  // NANORUN_SYS_LINUX_EVENT_POLL_H_
