// The POSIX listener behind nanorun::signal::Signals: a slot of the signal
// hub (sys/signal_hub.h), whose pipe the runtime's reactor watches like a
// socket.
#include <atomic>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "nanorun/net/socket_core.h"
#include "nanorun/signal/listener.h"
#include "nanorun/sys/signal_hub.h"

namespace nanorun {
inline namespace v0 {
namespace signal {
namespace detail {

// Owns the listener slot; `wake` owns the dup'ed pipe end and its reactor
// registration. Signals handles and pending next() calls hold this, as they
// hold a socket's core: the slot is given back by close() or when the last
// of them goes, and never while an attempt may still read its counts.
class SignalsCore {
 public:
  SignalsCore(int slot, std::shared_ptr<net::detail::SocketCore> wake)
      : slot_(slot), wake_(std::move(wake)) {}
  ~SignalsCore() { close(); }
  // Pending next() calls fail with CancelledError; the signals go back to
  // their earlier disposition unless another listener wants them. Once.
  void close() {
    wake_->close();
    if (!removed_.exchange(true)) sys::RemoveSignalListener(slot_);
  }
  // 0 once closed (the slot may belong to another listener by then).
  int take() {
    if (removed_.load()) return 0;
    return sys::TakeSignal(slot_, wake_->fd());
  }
  const std::shared_ptr<net::detail::SocketCore>& wake() const { return wake_; }

 private:
  const int slot_;
  std::shared_ptr<net::detail::SocketCore> wake_;
  std::atomic<bool> removed_{false};
};

absl::Status OpenListener(executor::Executor* e, const std::vector<int>& signals,
                          std::shared_ptr<SignalsCore>* out) {
  if (signals.empty()) {
    return absl::InvalidArgumentError("Signals: no signal to listen to; name at least one");
  }
  absl::StatusOr<sys::SignalListener> listener = sys::AddSignalListener(signals);
  if (!listener.ok()) return listener.status();
  std::string label = "signals";
  for (int sig : signals) absl::StrAppend(&label, " ", sig);
  absl::StatusOr<std::shared_ptr<net::detail::SocketCore>> wake =
      net::detail::SocketCore::Register(e, listener->wake_fd, label);
  if (!wake.ok()) {
    sys::RemoveSignalListener(listener->slot);
    return wake.status();
  }
  *out = std::make_shared<SignalsCore>(listener->slot, *std::move(wake));
  return absl::OkStatus();
}

Future<int> NextSignal(const std::shared_ptr<SignalsCore>& core) {
  return net::detail::IoOp<int>(core->wake(), reactor::Direction::kRead, "Signals::next", true,
                                [core](net::detail::SocketCore&) {
                                  int sig = core->take();
                                  if (sig == 0) return net::detail::Step<int>::would_block();
                                  return net::detail::Step<int>::done(sig);
                                });
}

void CloseListener(SignalsCore& core) { core.close(); }

}  // namespace detail

}  // namespace signal
}  // namespace v0
}  // namespace nanorun
