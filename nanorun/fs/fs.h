// Files without blocking a worker: read_file, write_file (an atomic
// replace) and File, with positional reads and writes. Every call runs its
// syscalls on the runtime's blocking pool (spawn_blocking, future/blocking.h)
// and settles its future there; continuations follow the usual rules
// (docs/futures.md). Errors are statuses naming the call and the path:
// NotFound ("open /etc/app.conf: No such file or directory"),
// PermissionDenied, AlreadyExists, InvalidArgument ("is a directory"),
// ResourceExhausted (disk full).
//
// Cancel rules (docs/cancellation.md): a call stopped (its future dropped, a
// timeout around it passed, its task aborted) before a pool thread took it
// never runs. One already running cannot be interrupted: it runs to its end
// (a write is written, a replace is done) and its result is dropped. That is
// why File has no span forms: a borrowed buffer could be written after its
// owner stopped waiting and freed it; every buffer here is owned by the call.
#ifndef NANORUN_FS_FS_H_
#define NANORUN_FS_FS_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "nanorun/future/future.h"
#include "nanorun/future/runtime.h"

namespace nanorun {
inline namespace v0 {
namespace fs {

// The whole file, on the calling worker's runtime (or `handle`'s).
Future<std::string> read_file(std::string path);
Future<std::string> read_file(std::string path, const Handle& handle);

// How write_file writes.
struct WriteFileOptions {
  // Flush the data, then the directory entry, to the disk before completing,
  // so the new content survives a power loss. Off: still atomic for readers
  // and for a crash of this process, not of the machine; much faster.
  bool sync = true;
  // Permissions of the new file, before the umask (POSIX). The old file's
  // are not carried over: the replace makes a new file.
  int mode = 0644;
};

// Replaces `path` with `data` atomically: a reader sees the old content or
// the new, never a mix, and after a crash the file holds one of them. How:
// a new temporary file beside it ("<path>.nanorun-tmp.<pid>.<n>"), written,
// flushed (sync), renamed over `path`. A failure removes the temporary file
// and leaves `path` as it was. Hard links to the old file keep the old
// content (a new inode takes the name). On Windows an open that races the
// rename may fail (the old file is "delete pending"), and a reader holding
// the file without FILE_SHARE_DELETE holds the replace back (retried for up
// to 2 s, then PermissionDenied); what a reader does read is never a mix.
Future<void> write_file(std::string path, std::string data);
Future<void> write_file(std::string path, std::string data, const WriteFileOptions& options);
Future<void> write_file(std::string path, std::string data, const WriteFileOptions& options,
                        const Handle& handle);

// How File::open opens: for reading only, unless it says otherwise.
struct OpenOptions {
  // Open for reading.
  bool read = true;
  // Open for writing (read_at and write_at both work with both set).
  bool write = false;
  bool create = false;     // Make the file if it is missing.
  bool exclusive = false;  // With create: AlreadyExists if it exists.
  bool truncate = false;   // Empty it on open (needs write).
  int mode = 0644;         // For a new file, before the umask (POSIX).
};

namespace detail {
class FileCore;
// How fs.cc makes a File over a FileCore. Not for users.
struct FileAccess;
}  // namespace detail

// An open file: a cheap, copyable handle. The descriptor closes when the last
// handle and the last pending call let go of it. Calls on one File may run at
// once, on several pool threads: positional reads and writes do not share a
// file position, so they do not disturb each other (overlapping writes to the
// same bytes land in an unspecified order). The File keeps its runtime's
// executor alive; calls made after that runtime shut down fail with
// CancelledError.
class File {
 public:
  File() = default;  // Empty: every call fails with FailedPrecondition.

  // Read only.
  static Future<File> open(std::string path);
  static Future<File> open(std::string path, const Handle& handle);
  static Future<File> open(std::string path, const OpenOptions& options);
  static Future<File> open(std::string path, const OpenOptions& options, const Handle& handle);
  // Read and write; made if missing, emptied if present.
  static Future<File> create(std::string path);
  static Future<File> create(std::string path, const Handle& handle);

  // Up to max_bytes from `offset`; fewer only at the end of the file, and an
  // empty string at or past it.
  Future<std::string> read_at(uint64_t offset, size_t max_bytes) const;
  // All of `data` at `offset` (the file grows to fit; a gap reads as zeros).
  Future<void> write_at(uint64_t offset, std::string data) const;
  // fsync / fdatasync (FlushFileBuffers on Windows for both).
  Future<void> sync() const;
  // fdatasync: the data, not every bit of metadata.
  Future<void> sync_data() const;
  // The file's size in bytes, now.
  Future<uint64_t> size() const;
  // Cuts or extends (with zeros) the file to `size` bytes.
  Future<void> set_size(uint64_t size) const;

  // The path the file was opened by (for messages).
  const std::string& path() const;
  // False for a default-constructed or moved-from File.
  bool valid() const { return core_ != nullptr; }

 private:
  friend struct detail::FileAccess;

  explicit File(std::shared_ptr<detail::FileCore> core) : core_(std::move(core)) {}

  std::shared_ptr<detail::FileCore> core_;
};

}  // namespace fs
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_FS_FS_H_
