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
    int timeout_ms = -1;
    if (timeout != absl::InfiniteDuration()) {
      // Round up so a sub-millisecond timeout does not become a busy loop.
      timeout_ms = static_cast<int>(absl::ToInt64Milliseconds(
          timeout + absl::Milliseconds(1) - absl::Nanoseconds(1)));
      if (timeout <= absl::ZeroDuration()) timeout_ms = 0;
    }
    uint64_t tokens[64];
    poll_.Wait(tokens, 64, timeout_ms);
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
