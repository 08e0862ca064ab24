// The Linux reactor: parks in epoll_wait; wakes through an eventfd.
#include <cstdint>

#include "nanorun/reactor/reactor.h"
#include "nanorun/sys/linux/event_poll.h"

namespace nanorun {
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
    uint64_t tokens[64];
    poll_.Wait(tokens, 64, timeout_ns);
  }

  void wake() override { poll_.Wake(); }
  const char* name() const override { return "epoll"; }

 private:
  sys::EventPoll poll_;
};

}  // namespace

absl::Status Reactor::Create(std::unique_ptr<Reactor>* out) {
  auto reactor = std::make_unique<EpollReactor>();
  absl::Status status = reactor->open();
  if (!status.ok()) return status;
  *out = std::move(reactor);
  return absl::OkStatus();
}

}  // namespace reactor
}  // namespace nanorun
