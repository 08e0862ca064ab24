// The Windows reactor: parks in an I/O completion port (wakes are posted
// completions) and turns AFD poll completions into the readiness edges of
// io.h.
//
// AFD poll is one-shot and level-like (a poll for "readable" on a socket
// with data completes at once). So a socket has a poll pending only for the
// directions someone waits in (IoArming::arm, called by
// IoRegistration::wait after EAGAIN): an idle connection has none and
// costs nothing, and a completion is exactly one edge per waiting
// direction, the semantics the Linux reactor gets from EPOLLET. Each
// socket's state is a stable allocation whose first field is the
// IO_STATUS_BLOCK handed to the kernel; the completion's context points
// back to it. Deregistering cancels a pending poll (NtCancelIoFileEx); the
// state is freed when that poll's completion arrives, never before.
#include <cstdint>
#include <memory>
#include <mutex>

#include "nanorun/reactor/backends.h"
#include "nanorun/reactor/reactor.h"
#include "nanorun/sys/windows/afd.h"

namespace nanorun {
inline namespace v0 {
namespace reactor {
namespace {

constexpr uintptr_t kWakeKey = 1;
constexpr uintptr_t kAfdKey = 2;

constexpr uint32_t kReadEvents = sys::win::kAfdReceive | sys::win::kAfdAccept |
                                 sys::win::kAfdDisconnect | sys::win::kAfdAbort |
                                 sys::win::kAfdLocalClose | sys::win::kAfdConnectFail;
constexpr uint32_t kWriteEvents = sys::win::kAfdSend | sys::win::kAfdAbort |
                                  sys::win::kAfdLocalClose | sys::win::kAfdConnectFail;

struct SocketState {
  sys::win::AfdPoll poll;  // First: its IO_STATUS_BLOCK is what the kernel writes.
  IoRegistration* registration = nullptr;
  uintptr_t base_socket = 0;
  std::mutex mu;
  uint32_t wanted = 0;   // Bit 0 read, bit 1 write: directions with a waiter.
  uint32_t polled = 0;   // What the pending poll asks for.
  bool pending = false;  // A poll is with the kernel.
  bool cancelling = false;
  bool closed = false;   // Deregistered: free on the pending poll's completion.
};

uint32_t EventsFor(uint32_t wanted) {
  return ((wanted & 1) ? kReadEvents : 0) | ((wanted & 2) ? kWriteEvents : 0);
}

class IocpReactor final : public Reactor, private IoArming {
 public:
  absl::Status open() {
    absl::Status s = port_.Open();
    if (!s.ok()) return s;
    return afd_.Open(port_, kAfdKey);
  }

  void park(absl::Duration timeout) override {
    int64_t timeout_ms = -1;
    if (timeout <= absl::ZeroDuration()) {
      timeout_ms = 0;
    } else if (timeout != absl::InfiniteDuration()) {
      // Round up: a timer due in 0.3 ms must not become a busy loop.
      timeout_ms = absl::ToInt64Milliseconds(timeout + absl::Milliseconds(1) - absl::Nanoseconds(1));
    }
    sys::win::Completion done[64];
    int n = port_.Wait(done, 64, timeout_ms);
    uint64_t delivered = 0;
    for (int i = 0; i < n; ++i) {
      if (done[i].key == kAfdKey && done[i].context != nullptr) {
        completed(static_cast<SocketState*>(done[i].context));
        ++delivered;
      }
    }
    count_io_events(delivered);
  }

  void wake() override { port_.Post(kWakeKey); }
  const char* name() const override { return "iocp"; }

  absl::StatusOr<IoRegistration*> register_io(int fd) override {
    uintptr_t base = 0;
    absl::Status s = sys::win::BaseSocket(fd, &base);
    if (!s.ok()) return s;
    IoRegistration* r = slab_.allocate(fd);
    if (r == nullptr) return absl::ResourceExhaustedError("reactor: more than 4M registered sockets");
    auto* state = new SocketState();
    state->registration = r;
    state->base_socket = base;
    r->set_backend(this, state);
    return r;
  }

  void deregister_io(IoRegistration* r) override {
    r->close();
    auto* state = static_cast<SocketState*>(r->backend_state());
    bool free_now;
    {
      std::lock_guard<std::mutex> lock(state->mu);
      state->closed = true;
      free_now = !state->pending;
      if (state->pending && !state->cancelling) {
        state->cancelling = true;
        afd_.Cancel(&state->poll);
      }
    }
    if (free_now) delete state;  // Else the cancelled poll's completion does.
    slab_.release(r);
  }

  size_t io_registrations() const override { return slab_.live(); }
  void close_all_io() override { slab_.close_all(); }

 private:
  // IoArming: a waiter arrived in `dir`; have a poll pending that covers it.
  void arm(IoRegistration* r, Direction dir) override {
    auto* state = static_cast<SocketState*>(r->backend_state());
    if (state == nullptr) return;
    bool failed;
    {
      std::lock_guard<std::mutex> lock(state->mu);
      state->wanted |= dir == Direction::kRead ? 1u : 2u;
      failed = !submit_locked(state);
    }
    // The socket is unusable (closed under us): wake the waiters so they
    // retry and meet the real error.
    if (failed) r->on_ready(true, true);
  }

  // Starts a poll for what is wanted, or cancels one that asks for less
  // (its completion then submits the wider one). False if the poll could
  // not be submitted.
  bool submit_locked(SocketState* state) {
    if (state->closed || state->wanted == 0) return true;
    if (state->pending) {
      if ((state->polled & state->wanted) != state->wanted && !state->cancelling) {
        state->cancelling = true;
        afd_.Cancel(&state->poll);
      }
      return true;
    }
    state->polled = state->wanted;
    state->pending = true;
    if (!afd_.Submit(&state->poll, state->base_socket, EventsFor(state->wanted), state).ok()) {
      state->pending = false;
      state->wanted = 0;
      return false;
    }
    return true;
  }

  void completed(SocketState* state) {
    bool readable = false, writable = false, failed = false;
    IoRegistration* r;
    {
      std::lock_guard<std::mutex> lock(state->mu);
      state->pending = false;
      state->cancelling = false;
      if (state->closed) {
        // Deregistered while this poll was pending: nothing refers to the
        // state any more.
        r = nullptr;
      } else {
        r = state->registration;
        if (!sys::win::AfdDevice::Failed(state->poll)) {
          uint32_t events = state->poll.info.handle.events;
          readable = (state->polled & 1) && (events & kReadEvents);
          writable = (state->polled & 2) && (events & kWriteEvents);
        }
        // One edge per waiting direction: what was reported is no longer
        // wanted until a waiter asks again; the rest stays armed.
        if (readable) state->wanted &= ~1u;
        if (writable) state->wanted &= ~2u;
        failed = !submit_locked(state);
      }
    }
    if (r == nullptr) {
      delete state;
      return;
    }
    if (failed) {
      readable = true;
      writable = true;
    }
    if (readable || writable) r->on_ready(readable, writable);
  }

  sys::win::CompletionPort port_;
  sys::win::AfdDevice afd_;
  IoSlab slab_;
};

}  // namespace

absl::Status Reactor::Create(const Choice& choice, std::unique_ptr<Reactor>* out) {
  absl::Status allowed = OnlyBackendHere(choice, "Windows has only the IOCP reactor");
  if (!allowed.ok()) return allowed;
  return OpenInto<IocpReactor>(out);
}

}  // namespace reactor
}  // namespace v0
}  // namespace nanorun
