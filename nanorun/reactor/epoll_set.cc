// The Linux reactors' epoll set and registrations (see epoll_set.h).
#include "nanorun/reactor/epoll_set.h"

namespace nanorun {
inline namespace v0 {
namespace reactor {

int64_t TimeoutNanos(absl::Duration timeout) {
  if (timeout <= absl::ZeroDuration()) return 0;
  if (timeout == absl::InfiniteDuration()) return -1;
  return absl::ToInt64Nanoseconds(timeout);
}

uint64_t EpollSet::deliver(int64_t timeout_ns, bool drain) {
  constexpr int kBatch = 64;
  uint64_t delivered = 0;
  sys::PollEvent events[kBatch];
  int n;
  do {
    n = poll_.Wait(events, kBatch, timeout_ns);
    timeout_ns = 0;  // Only the first call waits.
    for (int i = 0; i < n; ++i) {
      if (events[i].token == sys::EventPoll::kWakeToken) continue;
      // A token released since (its socket closed) finds nothing.
      if (IoRegistration* r = slab_.find(events[i].token)) {
        r->on_ready(events[i].readable, events[i].writable, events[i].persistent);
        ++delivered;
      }
    }
  } while (drain && n == kBatch);
  return delivered;
}

absl::StatusOr<IoRegistration*> EpollSet::register_io(int fd) {
  IoRegistration* r = slab_.allocate(fd);
  if (r == nullptr) {
    return absl::ResourceExhaustedError("reactor: more than 4M registered sockets");
  }
  absl::Status added = poll_.Add(fd, r->token());
  if (!added.ok()) {
    slab_.release(r);
    return added;
  }
  return r;
}

void EpollSet::deregister_io(IoRegistration* r) {
  r->close();
  (void)poll_.Remove(r->fd());  // Fails only if the fd was closed already.
  slab_.release(r);
}

}  // namespace reactor
}  // namespace v0
}  // namespace nanorun
