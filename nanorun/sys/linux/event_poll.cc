// Linux: epoll + eventfd wrappers (see event_poll.h).
#include "nanorun/sys/linux/event_poll.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <string>

namespace nanorun {
inline namespace v0 {
namespace sys {
namespace {

absl::Status ErrnoStatus(const char* operation) {
  int err = errno;
  return absl::InternalError(std::string(operation) + ": " + strerror(err));
}

// epoll_wait's millisecond timeout adds up to 1 ms to every timer; where the
// kernel has epoll_pwait2 (a timespec timeout) the wait is as long as asked.
// Called through syscall() so that an older libc still builds this.
std::atomic<bool> g_has_pwait2{true};

int WaitFor(int epoll_fd, struct epoll_event* events, int limit, int64_t timeout_ns) {
#ifdef SYS_epoll_pwait2
  if (timeout_ns > 0 && g_has_pwait2.load(std::memory_order_relaxed)) {
    struct timespec ts;
    ts.tv_sec = static_cast<time_t>(timeout_ns / 1000000000);
    ts.tv_nsec = static_cast<long>(timeout_ns % 1000000000);
    long n = syscall(SYS_epoll_pwait2, epoll_fd, events, limit, &ts, nullptr, 0);
    if (n >= 0 || errno != ENOSYS) return static_cast<int>(n);
    g_has_pwait2.store(false, std::memory_order_relaxed);
  }
#endif
  int timeout_ms = -1;
  if (timeout_ns >= 0) {
    int64_t ms = timeout_ns / 1000000 + (timeout_ns % 1000000 != 0 ? 1 : 0);
    timeout_ms = ms > 0x7fffffff ? 0x7fffffff : static_cast<int>(ms);
  }
  return epoll_wait(epoll_fd, events, limit, timeout_ms);
}

}  // namespace

EventPoll::~EventPoll() {
  if (wake_fd_ >= 0) close(wake_fd_);
  if (epoll_fd_ >= 0) close(epoll_fd_);
}

absl::Status EventPoll::Open() {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) return ErrnoStatus("epoll_create1");
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return ErrnoStatus("eventfd");
  struct epoll_event event;
  memset(&event, 0, sizeof(event));
  // Edge-triggered: a wake written while nobody waits is seen by the next
  // Wait once; the counter is drained there so it cannot stay readable.
  event.events = EPOLLIN | EPOLLET;
  event.data.u64 = kWakeToken;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &event) != 0) {
    return ErrnoStatus("epoll_ctl(ADD eventfd)");
  }
  return absl::OkStatus();
}

int EventPoll::Wait(PollEvent* out, int capacity, int64_t timeout_ns) {
  constexpr int kMaxEvents = 64;
  struct epoll_event events[kMaxEvents];
  int limit = capacity < kMaxEvents ? capacity : kMaxEvents;
  int n = WaitFor(epoll_fd_, events, limit, timeout_ns);
  if (n < 0) return 0;  // EINTR: an early, empty return.
  for (int i = 0; i < n; ++i) {
    uint32_t flags = events[i].events;
    out[i].token = events[i].data.u64;
    out[i].readable = flags & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR | EPOLLPRI);
    out[i].writable = flags & (EPOLLOUT | EPOLLHUP | EPOLLERR);
    out[i].persistent = flags & (EPOLLRDHUP | EPOLLHUP | EPOLLERR | EPOLLPRI);
    if (out[i].token == kWakeToken) {
      uint64_t drained;
      ssize_t r = read(wake_fd_, &drained, sizeof(drained));
      (void)r;  // EAGAIN: another waiter drained it first; still a wake.
    }
  }
  return n;
}

absl::Status EventPoll::Add(int fd, uint64_t token) {
  struct epoll_event event;
  event.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI | EPOLLET;
  event.data.u64 = token;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
    return ErrnoStatus("epoll_ctl(ADD)");
  }
  return absl::OkStatus();
}

absl::Status EventPoll::WatchWritesOnly(int fd, uint64_t token) {
  struct epoll_event event;
  event.events = EPOLLOUT | EPOLLET;
  event.data.u64 = token;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &event) != 0) {
    return ErrnoStatus("epoll_ctl(MOD)");
  }
  return absl::OkStatus();
}

absl::Status EventPoll::Remove(int fd) {
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr) != 0) {
    return ErrnoStatus("epoll_ctl(DEL)");
  }
  return absl::OkStatus();
}

void EventPoll::Wake() {
  uint64_t one = 1;
  ssize_t r;
  do {
    r = write(wake_fd_, &one, sizeof(one));
  } while (r < 0 && errno == EINTR);
  // EAGAIN means the counter is saturated: it is readable, so a wake is
  // already pending. Nothing else can fail for a valid eventfd.
}

}  // namespace sys
}  // namespace v0
}  // namespace nanorun
