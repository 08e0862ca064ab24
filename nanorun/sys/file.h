// Files, for nanorun::fs: blocking calls that run on the blocking pool, never
// on an async worker. Each failure is a status naming the call and the path
// ("open /etc/app.conf: No such file or directory", NotFound). Paths are
// UTF-8 (converted to UTF-16 on Windows). Descriptors are close-on-exec
// (non-inheritable on Windows).
#ifndef NANORUN_SYS_FILE_H_
#define NANORUN_SYS_FILE_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace nanorun {
inline namespace v0 {
namespace sys {

// An open file: an fd, or a Windows HANDLE stored as an integer.
using FileDescriptor = intptr_t;

struct FileOpenFlags {
  bool read = true;
  bool write = false;
  bool create = false;     // Make it if missing.
  bool exclusive = false;  // With create: fail (AlreadyExists) if it exists.
  bool truncate = false;   // Empty it on open (needs write).
  int mode = 0644;         // For a new file, before the umask (POSIX).
};

absl::StatusOr<FileDescriptor> OpenFile(absl::string_view path, const FileOpenFlags& flags);
void CloseFile(FileDescriptor fd);
// Up to `len` bytes at `offset`; fewer only at the end of the file (0 there).
absl::StatusOr<size_t> ReadAt(FileDescriptor fd, char* buf, size_t len, uint64_t offset,
                              absl::string_view path);
// All `len` bytes at `offset` (retrying short writes).
absl::Status WriteAt(FileDescriptor fd, const char* buf, size_t len, uint64_t offset,
                     absl::string_view path);
// fsync (data_only: fdatasync, FlushFileBuffers on Windows either way).
absl::Status SyncFile(FileDescriptor fd, bool data_only, absl::string_view path);
absl::StatusOr<uint64_t> FileSize(FileDescriptor fd, absl::string_view path);
absl::Status SetFileSize(FileDescriptor fd, uint64_t size, absl::string_view path);

// The whole file; a file that grows while it is read is read to its end.
absl::StatusOr<std::string> ReadWholeFile(absl::string_view path);
// Replaces `path` with `data` atomically: readers see the old content or
// the new, never a mix, and a crash leaves one of them. Written to a new
// temporary file in the same directory, flushed to disk (when `sync`), then
// renamed over `path`, and the directory flushed so the rename survives a
// crash. The temporary file is removed on any failure.
absl::Status AtomicReplaceFile(absl::string_view path, absl::string_view data, int mode, bool sync);

}  // namespace sys
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_SYS_FILE_H_
