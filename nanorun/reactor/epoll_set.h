// The registrations of the Linux reactors: sockets in an edge-triggered epoll
// set (with its wake eventfd), their IoRegistrations in a slab, and the
// delivery of epoll's events to them. EpollReactor (epoll.cc) waits in it
// directly; UringReactor (uring.cc) waits in its ring, which polls this set's
// fd, and then takes the events without waiting. Internal to the reactor.
#ifndef NANORUN_REACTOR_EPOLL_SET_H_
#define NANORUN_REACTOR_EPOLL_SET_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nanorun/reactor/io.h"
#include "nanorun/sys/linux/event_poll.h"

namespace nanorun {
inline namespace v0 {
namespace reactor {

// park()'s timeout as epoll and io_uring take it: -1 forever, 0 just look.
int64_t TimeoutNanos(absl::Duration timeout);

class EpollSet {
 public:
  absl::Status open() { return poll_.Open(); }

  // Waits up to `timeout_ns` for events and delivers them to their
  // registrations (a wake is consumed on the way). With `drain`, keeps
  // taking until a batch comes back short: for a caller told once that the
  // set became ready. Returns the edges delivered.
  uint64_t deliver(int64_t timeout_ns, bool drain);

  void wake() { poll_.Wake(); }
  // The epoll fd: readable while events are ready.
  int fd() const { return poll_.fd(); }

  // Reactor::register_io, deregister_io, io_registrations, close_all_io.
  absl::StatusOr<IoRegistration*> register_io(int fd);
  void deregister_io(IoRegistration* r);
  // Reactor::reads_by_ring.
  void watch_writes_only(IoRegistration* r) { (void)poll_.WatchWritesOnly(r->fd(), r->token()); }
  size_t live() const { return slab_.live(); }
  void close_all() { slab_.close_all(); }

 private:
  sys::EventPoll poll_;
  IoSlab slab_;
};

}  // namespace reactor
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_REACTOR_EPOLL_SET_H_
