// Windows: an I/O completion port, and socket readiness through the AFD
// driver's poll request (IOCTL_AFD_POLL on a \Device\Afd handle), the
// mechanism behind wepoll and mio. The ntdll structures are declared here
// (no extra dependency). Everything is one-shot: a poll reports once and
// must be issued again; a poll may succeed at once and still post its
// completion, so the caller acts on completions only.
#ifndef NANORUN_SYS_WINDOWS_AFD_H_
#define NANORUN_SYS_WINDOWS_AFD_H_

#include <cstdint>

#include "absl/status/status.h"

namespace nanorun {
inline namespace v0 {
namespace sys {
namespace win {

// AFD_POLL_* event bits.
constexpr uint32_t kAfdReceive = 0x0001;
constexpr uint32_t kAfdReceiveExpedited = 0x0002;
constexpr uint32_t kAfdSend = 0x0004;
constexpr uint32_t kAfdDisconnect = 0x0008;
constexpr uint32_t kAfdAbort = 0x0010;
constexpr uint32_t kAfdLocalClose = 0x0020;
constexpr uint32_t kAfdAccept = 0x0080;
constexpr uint32_t kAfdConnectFail = 0x0100;

// One poll request. Its address is handed to the kernel, so it must stay
// put until the completion arrives. The IO_STATUS_BLOCK comes first.
struct AfdPoll {
  struct {
    uintptr_t status;  // NTSTATUS (in a pointer-sized union in ntdll).
    uintptr_t information;
  } iosb;
  struct {
    int64_t timeout;
    uint32_t number_of_handles;
    uint32_t exclusive;
    struct {
      uintptr_t handle;
      uint32_t events;
      int32_t status;
    } handle;
  } info;
};

// A completion taken from the port.
struct Completion {
  uintptr_t key;
  void* context;  // The AfdPoll's context, or null for a wake.
};

class CompletionPort {
 public:
  CompletionPort() = default;
  CompletionPort(const CompletionPort&) = delete;
  CompletionPort& operator=(const CompletionPort&) = delete;
  ~CompletionPort();

  absl::Status Open();
  // Posts a completion with `key` and no context (a wake).
  void Post(uintptr_t key);
  // Waits up to timeout_ms (-1: forever) for completions; returns how many.
  int Wait(Completion* out, int capacity, int64_t timeout_ms);
  void* handle() const { return port_; }

 private:
  void* port_ = nullptr;
};

class AfdDevice {
 public:
  AfdDevice() = default;
  AfdDevice(const AfdDevice&) = delete;
  AfdDevice& operator=(const AfdDevice&) = delete;
  ~AfdDevice();

  // Opens \Device\Afd and ties its completions to `port` under `key`.
  absl::Status Open(CompletionPort& port, uintptr_t key);
  // Asks for `events` on `base_socket`; the completion carries `context`.
  absl::Status Submit(AfdPoll* poll, uintptr_t base_socket, uint32_t events, void* context);
  // Cancels a pending poll; its completion still arrives (cancelled).
  void Cancel(AfdPoll* poll);
  // True if the completed poll was cancelled (or failed): no events.
  static bool Failed(const AfdPoll& poll);

 private:
  void* handle_ = nullptr;
};

// The base provider socket under any layered service providers: AFD polls
// must name it (SIO_BASE_HANDLE). `fd` is a SOCKET as sys/socket.h passes it.
absl::Status BaseSocket(int fd, uintptr_t* base);

}  // namespace win
}  // namespace sys
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_SYS_WINDOWS_AFD_H_
