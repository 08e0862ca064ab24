// The Linux reactor: parks in epoll_wait (edge-triggered registrations,
// see io.h); wakes through an eventfd.
#include <cstdint>

#include "nanorun/reactor/backends.h"
#include "nanorun/reactor/reactor.h"
#include "nanorun/sys/linux/event_poll.h"

namespace nanorun {
inline namespace v0 {
namespace reactor {
namespace {

class EpollReactor final : public Reactor {
 public:
  absl::Status open() { return poll_.Open(); }

  void park(absl::Duration timeout) override {
    int64_t timeout_ns = -1;  // Infinite.
    if (timeout <= absl::ZeroDuration()) {
      timeout_ns = 0;
    } else if (timeout != absl::InfiniteDuration()) {
      timeout_ns = absl::ToInt64Nanoseconds(timeout);
    }
    sys::PollEvent events[64];
    int n = poll_.Wait(events, 64, timeout_ns);
    uint64_t delivered = 0;
    for (int i = 0; i < n; ++i) {
      if (events[i].token == sys::EventPoll::kWakeToken) continue;
      // A token released since (its socket closed) finds nothing.
      if (IoRegistration* r = slab_.find(events[i].token)) {
        r->on_ready(events[i].readable, events[i].writable, events[i].persistent);
        ++delivered;
      }
    }
    count_io_events(delivered);
  }

  void wake() override { poll_.Wake(); }
  const char* name() const override { return "epoll"; }

  absl::StatusOr<IoRegistration*> register_io(int fd) override {
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

  void deregister_io(IoRegistration* r) override {
    r->close();
    (void)poll_.Remove(r->fd());  // Fails only if the fd was closed already.
    slab_.release(r);
  }

  size_t io_registrations() const override { return slab_.live(); }
  void close_all_io() override { slab_.close_all(); }

 private:
  sys::EventPoll poll_;
  IoSlab slab_;
};

}  // namespace

absl::Status CreateEpollReactor(std::unique_ptr<Reactor>* out) {
  auto reactor = std::make_unique<EpollReactor>();
  absl::Status status = reactor->open();
  if (!status.ok()) return status;
  *out = std::move(reactor);
  return absl::OkStatus();
}

}  // namespace reactor
}  // namespace v0
}  // namespace nanorun
