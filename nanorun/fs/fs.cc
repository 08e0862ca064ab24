// read_file, write_file and File: each call is one spawn_blocking job that
// runs the sys/file.h calls on the blocking pool.
#include "nanorun/fs/fs.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "nanorun/executor/executor.h"
#include "nanorun/future/blocking.h"
#include "nanorun/sys/file.h"

namespace nanorun {
inline namespace v0 {
namespace fs {
namespace detail {

// The open descriptor, its path (for messages) and the runtime whose pool
// runs its calls. Every File handle and every pending call holds one
// reference; the last to let go closes the descriptor.
class FileCore {
 public:
  FileCore(sys::FileDescriptor fd, std::string path, Handle handle)
      : fd_(fd), path_(std::move(path)), handle_(std::move(handle)) {}
  ~FileCore() { sys::CloseFile(fd_); }
  FileCore(const FileCore&) = delete;
  FileCore& operator=(const FileCore&) = delete;

  sys::FileDescriptor fd() const { return fd_; }
  const std::string& path() const { return path_; }
  executor::Executor* executor() const {
    return nanorun::detail::HandleAccess::executor(handle_);
  }

 private:
  sys::FileDescriptor fd_;
  std::string path_;
  Handle handle_;  // Keeps the executor (and its pool) alive.
};

struct FileAccess {
  static File wrap(std::shared_ptr<FileCore> core) { return File(std::move(core)); }
};

namespace {

// The runtime a call runs on: `handle`'s, else the calling worker's.
executor::Executor* RuntimeFor(const Handle* handle) {
  if (handle != nullptr && handle->valid()) {
    return nanorun::detail::HandleAccess::executor(*handle);
  }
  return executor::Executor::current();
}

absl::Status OffRuntime(const char* op, const std::string& path) {
  return absl::FailedPreconditionError(absl::StrCat(
      op, " ", path, " called outside a runtime: call it from a task (inside "
                     "Runtime::block_on or spawn), or pass the Handle of the runtime whose "
                     "blocking pool should run it"));
}

// Runs `job` (returning StatusOr<T> or Status) on `e`'s blocking pool.
template <class F>
auto OnPool(executor::Executor* e, F job) {
  return nanorun::detail::SpawnBlockingOn(e, std::move(job));
}

sys::FileOpenFlags FlagsOf(const OpenOptions& o) {
  sys::FileOpenFlags f;
  f.read = o.read;
  f.write = o.write;
  f.create = o.create;
  f.exclusive = o.exclusive;
  f.truncate = o.truncate;
  f.mode = o.mode;
  return f;
}

Future<File> OpenOn(executor::Executor* e, std::string path, const OpenOptions& options) {
  if (e == nullptr) return make_error_future<File>(OffRuntime("File::open", path));
  sys::FileOpenFlags flags = FlagsOf(options);
  return OnPool(e, [e, path = std::move(path), flags]() -> absl::StatusOr<File> {
    absl::StatusOr<sys::FileDescriptor> fd = sys::OpenFile(path, flags);
    if (!fd.ok()) return fd.status();
    return FileAccess::wrap(
        std::make_shared<FileCore>(*fd, path, nanorun::detail::HandleAccess::make(e)));
  });
}

}  // namespace
}  // namespace detail

using detail::FileCore;

Future<std::string> read_file(std::string path) { return read_file(std::move(path), Handle()); }

Future<std::string> read_file(std::string path, const Handle& handle) {
  executor::Executor* e = detail::RuntimeFor(&handle);
  if (e == nullptr) return make_error_future<std::string>(detail::OffRuntime("fs::read_file", path));
  return detail::OnPool(e, [path = std::move(path)] { return sys::ReadWholeFile(path); });
}

Future<void> write_file(std::string path, std::string data) {
  return write_file(std::move(path), std::move(data), WriteFileOptions(), Handle());
}

Future<void> write_file(std::string path, std::string data, const WriteFileOptions& options) {
  return write_file(std::move(path), std::move(data), options, Handle());
}

Future<void> write_file(std::string path, std::string data, const WriteFileOptions& options,
                        const Handle& handle) {
  executor::Executor* e = detail::RuntimeFor(&handle);
  if (e == nullptr) return make_error_future<void>(detail::OffRuntime("fs::write_file", path));
  return detail::OnPool(e, [path = std::move(path), data = std::move(data), options] {
    return sys::AtomicReplaceFile(path, data, options.mode, options.sync);
  });
}

// --- File ---------------------------------------------------------------

Future<File> File::open(std::string path) { return open(std::move(path), OpenOptions(), Handle()); }
Future<File> File::open(std::string path, const Handle& handle) {
  return open(std::move(path), OpenOptions(), handle);
}
Future<File> File::open(std::string path, const OpenOptions& options) {
  return open(std::move(path), options, Handle());
}
Future<File> File::open(std::string path, const OpenOptions& options, const Handle& handle) {
  return detail::OpenOn(detail::RuntimeFor(&handle), std::move(path), options);
}

namespace {

OpenOptions CreateOptions() {
  OpenOptions o;
  o.read = true;
  o.write = true;
  o.create = true;
  o.truncate = true;
  return o;
}

absl::Status EmptyFile(const char* op) {
  return absl::FailedPreconditionError(
      absl::StrCat("File::", op, " on an empty File (default-constructed): open one with File::open"));
}

}  // namespace

Future<File> File::create(std::string path) { return open(std::move(path), CreateOptions(), Handle()); }
Future<File> File::create(std::string path, const Handle& handle) {
  return open(std::move(path), CreateOptions(), handle);
}

Future<std::string> File::read_at(uint64_t offset, size_t max_bytes) const {
  if (core_ == nullptr) return make_error_future<std::string>(EmptyFile("read_at"));
  return detail::OnPool(core_->executor(), [core = core_, offset, max_bytes]() -> absl::StatusOr<std::string> {
    std::string out(max_bytes, '\0');
    absl::StatusOr<size_t> n = sys::ReadAt(core->fd(), &out[0], max_bytes, offset, core->path());
    if (!n.ok()) return n.status();
    out.resize(*n);
    return out;
  });
}

Future<void> File::write_at(uint64_t offset, std::string data) const {
  if (core_ == nullptr) return make_error_future<void>(EmptyFile("write_at"));
  return detail::OnPool(core_->executor(), [core = core_, offset, data = std::move(data)] {
    return sys::WriteAt(core->fd(), data.data(), data.size(), offset, core->path());
  });
}

Future<void> File::sync() const {
  if (core_ == nullptr) return make_error_future<void>(EmptyFile("sync"));
  return detail::OnPool(core_->executor(),
                        [core = core_] { return sys::SyncFile(core->fd(), false, core->path()); });
}

Future<void> File::sync_data() const {
  if (core_ == nullptr) return make_error_future<void>(EmptyFile("sync_data"));
  return detail::OnPool(core_->executor(),
                        [core = core_] { return sys::SyncFile(core->fd(), true, core->path()); });
}

Future<uint64_t> File::size() const {
  if (core_ == nullptr) return make_error_future<uint64_t>(EmptyFile("size"));
  return detail::OnPool(core_->executor(), [core = core_] { return sys::FileSize(core->fd(), core->path()); });
}

Future<void> File::set_size(uint64_t size) const {
  if (core_ == nullptr) return make_error_future<void>(EmptyFile("set_size"));
  return detail::OnPool(core_->executor(),
                        [core = core_, size] { return sys::SetFileSize(core->fd(), size, core->path()); });
}

const std::string& File::path() const {
  static const std::string* const kNone = new std::string();
  return core_ != nullptr ? core_->path() : *kNone;
}

}  // namespace fs
}  // namespace v0
}  // namespace nanorun
