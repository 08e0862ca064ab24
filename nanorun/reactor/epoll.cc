// The Linux epoll reactor: parks in epoll_wait (edge-triggered registrations,
// see io.h and epoll_set.h); wakes through an eventfd in the set.
#include <cstdint>
#include <memory>
#include <utility>

#include "nanorun/reactor/backends.h"
#include "nanorun/reactor/epoll_set.h"
#include "nanorun/reactor/reactor.h"

namespace nanorun {
inline namespace v0 {
namespace reactor {
namespace {

class EpollReactor final : public Reactor {
 public:
  absl::Status open() { return set_.open(); }

  void park(absl::Duration timeout) override {
    // One batch: edges beyond it stay ready in epoll for the next park.
    count_io_events(set_.deliver(TimeoutNanos(timeout), /*drain=*/false));
  }

  void wake() override { set_.wake(); }
  const char* name() const override { return "epoll"; }

  absl::StatusOr<IoRegistration*> register_io(int fd) override { return set_.register_io(fd); }
  void deregister_io(IoRegistration* r) override { set_.deregister_io(r); }
  size_t io_registrations() const override { return set_.live(); }
  void close_all_io() override { set_.close_all(); }

 private:
  EpollSet set_;
};

}  // namespace

absl::Status CreateEpollReactor(std::unique_ptr<Reactor>* out) {
  return OpenInto<EpollReactor>(out);
}

}  // namespace reactor
}  // namespace v0
}  // namespace nanorun
