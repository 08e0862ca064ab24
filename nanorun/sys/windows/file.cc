// Windows files behind sys/file.h: CreateFileW, ReadFile/WriteFile at an
// offset (OVERLAPPED on a synchronous handle), FlushFileBuffers, and
// MoveFileExW for the atomic replace.
#include "nanorun/sys/file.h"

#include <windows.h>

#include <atomic>
#include <string>

#include "absl/strings/str_cat.h"

namespace nanorun {
inline namespace v0 {
namespace sys {
namespace {

HANDLE H(FileDescriptor fd) { return reinterpret_cast<HANDLE>(fd); }

std::wstring Wide(absl::string_view utf8) {
  if (utf8.empty()) return std::wstring();
  int n = MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), nullptr, 0);
  std::wstring out(static_cast<size_t>(n), L'\0');
  MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), &out[0], n);
  return out;
}

absl::Status Failed(const char* call, absl::string_view path, DWORD err = GetLastError()) {
  char text[256] = {};
  DWORD len = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, nullptr, err,
                             0, text, sizeof(text), nullptr);
  while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == '.')) text[--len] = 0;
  std::string message = absl::StrCat(call, " ", path, ": ", len > 0 ? text : "error", " (", err, ")");
  switch (err) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
      return absl::NotFoundError(message);
    case ERROR_FILE_EXISTS:
    case ERROR_ALREADY_EXISTS:
      return absl::AlreadyExistsError(message);
    case ERROR_ACCESS_DENIED:
    case ERROR_SHARING_VIOLATION:
    case ERROR_WRITE_PROTECT:
      return absl::PermissionDeniedError(message);
    case ERROR_DISK_FULL:
    case ERROR_HANDLE_DISK_FULL:
      return absl::ResourceExhaustedError(message);
    case ERROR_INVALID_NAME:
    case ERROR_DIRECTORY:
      return absl::InvalidArgumentError(message);
    default:
      return absl::InternalError(message);
  }
}

}  // namespace

absl::StatusOr<FileDescriptor> OpenFile(absl::string_view path, const FileOpenFlags& flags) {
  if (path.empty()) return absl::InvalidArgumentError("open: the path is empty");
  if (flags.truncate && !flags.write) {
    return absl::InvalidArgumentError(absl::StrCat("open ", path, ": truncate needs write access"));
  }
  if (!flags.read && !flags.write) {
    return absl::InvalidArgumentError(absl::StrCat("open ", path, ": neither read nor write asked for"));
  }
  DWORD access = (flags.read ? GENERIC_READ : 0) | (flags.write ? GENERIC_WRITE : 0);
  DWORD disposition;
  if (flags.create && flags.exclusive) {
    disposition = CREATE_NEW;
  } else if (flags.create) {
    disposition = flags.truncate ? CREATE_ALWAYS : OPEN_ALWAYS;
  } else {
    disposition = flags.truncate ? TRUNCATE_EXISTING : OPEN_EXISTING;
  }
  // Shared like POSIX files: others may read, write, rename and delete it.
  HANDLE h = CreateFileW(Wide(path).c_str(), access, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                         nullptr, disposition, FILE_ATTRIBUTE_NORMAL, nullptr);
  if (h == INVALID_HANDLE_VALUE) return Failed("open", path);
  BY_HANDLE_FILE_INFORMATION info;
  if (GetFileInformationByHandle(h, &info) && (info.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY)) {
    CloseHandle(h);
    return absl::InvalidArgumentError(absl::StrCat("open ", path, ": is a directory, not a file"));
  }
  return reinterpret_cast<FileDescriptor>(h);
}

void CloseFile(FileDescriptor fd) { CloseHandle(H(fd)); }

absl::StatusOr<size_t> ReadAt(FileDescriptor fd, char* buf, size_t len, uint64_t offset,
                              absl::string_view path) {
  size_t got = 0;
  while (got < len) {
    OVERLAPPED at{};
    uint64_t where = offset + got;
    at.Offset = static_cast<DWORD>(where);
    at.OffsetHigh = static_cast<DWORD>(where >> 32);
    DWORD want = static_cast<DWORD>(len - got > 0x40000000 ? 0x40000000 : len - got);
    DWORD n = 0;
    if (!ReadFile(H(fd), buf + got, want, &n, &at)) {
      if (GetLastError() == ERROR_HANDLE_EOF) break;
      return Failed("read", path);
    }
    if (n == 0) break;
    got += n;
  }
  return got;
}

absl::Status WriteAt(FileDescriptor fd, const char* buf, size_t len, uint64_t offset,
                     absl::string_view path) {
  size_t put = 0;
  while (put < len) {
    OVERLAPPED at{};
    uint64_t where = offset + put;
    at.Offset = static_cast<DWORD>(where);
    at.OffsetHigh = static_cast<DWORD>(where >> 32);
    DWORD want = static_cast<DWORD>(len - put > 0x40000000 ? 0x40000000 : len - put);
    DWORD n = 0;
    if (!WriteFile(H(fd), buf + put, want, &n, &at)) return Failed("write", path);
    put += n;
  }
  return absl::OkStatus();
}

absl::Status SyncFile(FileDescriptor fd, bool, absl::string_view path) {
  if (!FlushFileBuffers(H(fd))) return Failed("flush", path);
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> FileSize(FileDescriptor fd, absl::string_view path) {
  LARGE_INTEGER size;
  if (!GetFileSizeEx(H(fd), &size)) return Failed("stat", path);
  return static_cast<uint64_t>(size.QuadPart);
}

absl::Status SetFileSize(FileDescriptor fd, uint64_t size, absl::string_view path) {
  FILE_END_OF_FILE_INFO info;
  info.EndOfFile.QuadPart = static_cast<LONGLONG>(size);
  if (!SetFileInformationByHandle(H(fd), FileEndOfFileInfo, &info, sizeof(info))) {
    return Failed("truncate", path);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadWholeFile(absl::string_view path) {
  FileOpenFlags flags;
  absl::StatusOr<FileDescriptor> fd = OpenFile(path, flags);
  if (!fd.ok()) return fd.status();
  std::string out;
  uint64_t offset = 0;
  for (;;) {
    size_t at = out.size();
    out.resize(at + 64 * 1024);
    absl::StatusOr<size_t> n = ReadAt(*fd, &out[at], 64 * 1024, offset, path);
    if (!n.ok()) {
      CloseFile(*fd);
      return n.status();
    }
    out.resize(at + *n);
    offset += *n;
    if (*n == 0) break;
  }
  CloseFile(*fd);
  return out;
}

absl::Status AtomicReplaceFile(absl::string_view path, absl::string_view data, int, bool sync) {
  if (path.empty()) return absl::InvalidArgumentError("write_file: the path is empty");
  static std::atomic<uint64_t> counter{0};
  std::string target(path);
  std::string temp = absl::StrCat(target, ".nanorun-tmp.", GetCurrentProcessId(), ".", counter.fetch_add(1));
  FileOpenFlags flags;
  flags.read = false;
  flags.write = true;
  flags.create = true;
  flags.exclusive = true;
  absl::StatusOr<FileDescriptor> fd = OpenFile(temp, flags);
  if (!fd.ok()) {
    return absl::Status(fd.status().code(),
                        absl::StrCat("write_file ", target, ": cannot create a temporary file beside it (",
                                     fd.status().message(), ")"));
  }
  absl::Status s = WriteAt(*fd, data.data(), data.size(), 0, target);
  if (s.ok() && sync) s = SyncFile(*fd, false, target);
  CloseFile(*fd);
  if (s.ok()) {
    // A reader that opened the target without FILE_SHARE_DELETE (fopen does)
    // blocks the replace until it closes: try again for up to ~2 s, as the
    // readers of a config file hold it only briefly.
    DWORD wait_ms = 1, waited_ms = 0;
    for (;;) {
      if (MoveFileExW(Wide(temp).c_str(), Wide(target).c_str(),
                      MOVEFILE_REPLACE_EXISTING | (sync ? MOVEFILE_WRITE_THROUGH : 0))) {
        break;
      }
      DWORD err = GetLastError();
      bool busy = err == ERROR_ACCESS_DENIED || err == ERROR_SHARING_VIOLATION;
      if (!busy || waited_ms >= 2000) {
        s = Failed(busy ? "rename into (another process holds it open without FILE_SHARE_DELETE)"
                        : "rename into",
                   target, err);
        break;
      }
      Sleep(wait_ms);
      waited_ms += wait_ms;
      wait_ms = wait_ms < 50 ? wait_ms * 2 : 50;
    }
  }
  if (!s.ok()) DeleteFileW(Wide(temp).c_str());
  return s;
}

}  // namespace sys
}  // namespace v0
}  // namespace nanorun
