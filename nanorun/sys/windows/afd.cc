// IOCP and AFD poll (see afd.h). ntdll's functions are looked up at run time.
#include "nanorun/sys/windows/afd.h"

#include <winsock2.h>
#include <windows.h>
#include <mswsock.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace nanorun {
inline namespace v0 {
namespace sys {
namespace win {
namespace {

constexpr ULONG kIoctlAfdPoll = 0x00012024;
constexpr LONG kStatusPending = 0x00000103;
constexpr LONG kStatusSuccess = 0;

struct UnicodeString {
  USHORT length;
  USHORT maximum_length;
  PWSTR buffer;
};
struct ObjectAttributes {
  ULONG length;
  HANDLE root_directory;
  UnicodeString* object_name;
  ULONG attributes;
  PVOID security_descriptor;
  PVOID security_quality_of_service;
};

using NtCreateFileFn = LONG(NTAPI*)(PHANDLE, ACCESS_MASK, ObjectAttributes*, void* iosb,
                                    PLARGE_INTEGER, ULONG, ULONG, ULONG, ULONG, PVOID, ULONG);
using NtDeviceIoControlFileFn = LONG(NTAPI*)(HANDLE, HANDLE, PVOID, PVOID, void* iosb, ULONG,
                                             PVOID, ULONG, PVOID, ULONG);
using NtCancelIoFileExFn = LONG(NTAPI*)(HANDLE, void* iosb, void* iosb_out);
using RtlNtStatusToDosErrorFn = ULONG(NTAPI*)(LONG);

struct Ntdll {
  NtCreateFileFn create_file;
  NtDeviceIoControlFileFn device_io_control_file;
  NtCancelIoFileExFn cancel_io_file_ex;
  RtlNtStatusToDosErrorFn status_to_dos_error;
};

// GetProcAddress returns a generic function pointer; going through void(*)()
// is the sanctioned cast to the real signature.
template <class Fn>
Fn Lookup(HMODULE m, const char* name) {
  return reinterpret_cast<Fn>(reinterpret_cast<void (*)()>(GetProcAddress(m, name)));
}

const Ntdll& GetNtdll() {
  static const Ntdll ntdll = [] {
    HMODULE m = GetModuleHandleW(L"ntdll.dll");
    Ntdll n;
    n.create_file = Lookup<NtCreateFileFn>(m, "NtCreateFile");
    n.device_io_control_file = Lookup<NtDeviceIoControlFileFn>(m, "NtDeviceIoControlFile");
    n.cancel_io_file_ex = Lookup<NtCancelIoFileExFn>(m, "NtCancelIoFileEx");
    n.status_to_dos_error = Lookup<RtlNtStatusToDosErrorFn>(m, "RtlNtStatusToDosError");
    return n;
  }();
  return ntdll;
}

absl::Status Win32Error(DWORD err, const char* what) {
  return absl::InternalError(absl::StrCat(what, ": Windows error ", err));
}

}  // namespace

CompletionPort::~CompletionPort() {
  if (port_ != nullptr) CloseHandle(port_);
}

absl::Status CompletionPort::Open() {
  port_ = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 0);
  if (port_ == nullptr) return Win32Error(GetLastError(), "CreateIoCompletionPort");
  return absl::OkStatus();
}

void CompletionPort::Post(uintptr_t key) { PostQueuedCompletionStatus(port_, 0, key, nullptr); }

int CompletionPort::Wait(Completion* out, int capacity, int64_t timeout_ms) {
  OVERLAPPED_ENTRY entries[64];
  ULONG limit = static_cast<ULONG>(capacity < 64 ? capacity : 64);
  ULONG n = 0;
  DWORD timeout = timeout_ms < 0 ? INFINITE
                  : timeout_ms > 0x7ffffffe ? 0x7ffffffe
                                            : static_cast<DWORD>(timeout_ms);
  if (!GetQueuedCompletionStatusEx(port_, entries, limit, &n, timeout, FALSE)) return 0;
  for (ULONG i = 0; i < n; ++i) {
    out[i].key = entries[i].lpCompletionKey;
    out[i].context = entries[i].lpOverlapped;
  }
  return static_cast<int>(n);
}

AfdDevice::~AfdDevice() {
  if (handle_ != nullptr) CloseHandle(handle_);
}

absl::Status AfdDevice::Open(CompletionPort& port, uintptr_t key) {
  const Ntdll& nt = GetNtdll();
  if (nt.create_file == nullptr || nt.device_io_control_file == nullptr ||
      nt.cancel_io_file_ex == nullptr) {
    return absl::UnimplementedError("ntdll lacks NtCreateFile/NtDeviceIoControlFile/NtCancelIoFileEx");
  }
  static wchar_t kName[] = L"\\Device\\Afd\\Nanorun";
  UnicodeString name{static_cast<USHORT>(sizeof(kName) - sizeof(wchar_t)),
                     static_cast<USHORT>(sizeof(kName)), kName};
  ObjectAttributes attr{sizeof(ObjectAttributes), nullptr, &name, 0, nullptr, nullptr};
  AfdPoll scratch{};
  HANDLE h = nullptr;
  LONG status = nt.create_file(&h, SYNCHRONIZE, &attr, &scratch.iosb, nullptr, 0,
                               FILE_SHARE_READ | FILE_SHARE_WRITE, 1 /* FILE_OPEN */, 0, nullptr, 0);
  if (status != kStatusSuccess) {
    return absl::InternalError(absl::StrCat("NtCreateFile(\\Device\\Afd): NTSTATUS 0x",
                                            absl::Hex(static_cast<uint32_t>(status))));
  }
  if (CreateIoCompletionPort(h, static_cast<HANDLE>(port.handle()), key, 0) == nullptr) {
    DWORD err = GetLastError();
    CloseHandle(h);
    return Win32Error(err, "CreateIoCompletionPort(afd)");
  }
  SetFileCompletionNotificationModes(h, FILE_SKIP_SET_EVENT_ON_HANDLE);
  handle_ = h;
  return absl::OkStatus();
}

absl::Status AfdDevice::Submit(AfdPoll* poll, uintptr_t base_socket, uint32_t events, void* context) {
  poll->info.timeout = INT64_MAX;
  poll->info.number_of_handles = 1;
  poll->info.exclusive = 0;
  poll->info.handle.handle = base_socket;
  poll->info.handle.events = events;
  poll->info.handle.status = 0;
  poll->iosb.status = static_cast<uintptr_t>(kStatusPending);
  LONG status = GetNtdll().device_io_control_file(handle_, nullptr, nullptr, context, &poll->iosb,
                                                  kIoctlAfdPoll, &poll->info, sizeof(poll->info),
                                                  &poll->info, sizeof(poll->info));
  // Pending or done at once: either way the completion is posted.
  if (status == kStatusSuccess || status == kStatusPending) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("IOCTL_AFD_POLL: NTSTATUS 0x",
                                          absl::Hex(static_cast<uint32_t>(status))));
}

void AfdDevice::Cancel(AfdPoll* poll) {
  AfdPoll scratch{};
  GetNtdll().cancel_io_file_ex(handle_, &poll->iosb, &scratch.iosb);
}

bool AfdDevice::Failed(const AfdPoll& poll) {
  return static_cast<LONG>(poll.iosb.status) != kStatusSuccess;
}

absl::Status BaseSocket(int fd, uintptr_t* base) {
  SOCKET s = static_cast<SOCKET>(static_cast<uintptr_t>(static_cast<unsigned>(fd)));
  SOCKET out = INVALID_SOCKET;
  DWORD bytes = 0;
  if (WSAIoctl(s, SIO_BASE_HANDLE, nullptr, 0, &out, sizeof(out), &bytes, nullptr, nullptr) != 0) {
    // Without layered providers the socket is its own base.
    out = s;
  }
  *base = static_cast<uintptr_t>(out);
  return absl::OkStatus();
}

}  // namespace win
}  // namespace sys
}  // namespace v0
}  // namespace nanorun
