// POSIX files behind sys/file.h (pread/pwrite, fsync, rename).
#include "nanorun/sys/file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>

#include "absl/strings/str_cat.h"
#include "nanorun/sys/socket.h"

namespace nanorun {
inline namespace v0 {
namespace sys {
namespace {

absl::Status Failed(const char* call, absl::string_view path, int err = errno) {
  if (err == EISDIR) {
    return absl::InvalidArgumentError(absl::StrCat(call, " ", path, ": is a directory, not a file"));
  }
  if (err == EBADF) {  // pread/pwrite on a descriptor opened the other way.
    return absl::FailedPreconditionError(absl::StrCat(
        call, " ", path, ": the file is not open for that (OpenOptions::read / write)"));
  }
  return ErrnoStatus(err, absl::StrCat(call, " ", path));
}

int Fd(FileDescriptor fd) { return static_cast<int>(fd); }

// The directory part of `path` ("." for a bare name).
std::string DirectoryOf(absl::string_view path) {
  size_t slash = path.rfind('/');
  if (slash == absl::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
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
  int oflags = O_CLOEXEC;
  oflags |= flags.read && flags.write ? O_RDWR : flags.write ? O_WRONLY : O_RDONLY;
  if (flags.create) oflags |= O_CREAT;
  if (flags.create && flags.exclusive) oflags |= O_EXCL;
  if (flags.truncate) oflags |= O_TRUNC;
  std::string p(path);
  int fd;
  do {
    fd = open(p.c_str(), oflags, static_cast<mode_t>(flags.mode));
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return Failed("open", path);
  struct stat st;
  if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    close(fd);
    return Failed("open", path, EISDIR);
  }
  return static_cast<FileDescriptor>(fd);
}

void CloseFile(FileDescriptor fd) { (void)close(Fd(fd)); }

absl::StatusOr<size_t> ReadAt(FileDescriptor fd, char* buf, size_t len, uint64_t offset,
                              absl::string_view path) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = pread(Fd(fd), buf + got, len - got, static_cast<off_t>(offset + got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Failed("read", path);
    }
    if (n == 0) break;  // End of file.
    got += static_cast<size_t>(n);
  }
  return got;
}

absl::Status WriteAt(FileDescriptor fd, const char* buf, size_t len, uint64_t offset,
                     absl::string_view path) {
  size_t put = 0;
  while (put < len) {
    ssize_t n = pwrite(Fd(fd), buf + put, len - put, static_cast<off_t>(offset + put));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Failed("write", path);
    }
    put += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status SyncFile(FileDescriptor fd, bool data_only, absl::string_view path) {
  int r = data_only ? fdatasync(Fd(fd)) : fsync(Fd(fd));
  if (r != 0) return Failed(data_only ? "fdatasync" : "fsync", path);
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> FileSize(FileDescriptor fd, absl::string_view path) {
  struct stat st;
  if (fstat(Fd(fd), &st) != 0) return Failed("stat", path);
  return static_cast<uint64_t>(st.st_size);
}

absl::Status SetFileSize(FileDescriptor fd, uint64_t size, absl::string_view path) {
  int r;
  do {
    r = ftruncate(Fd(fd), static_cast<off_t>(size));
  } while (r != 0 && errno == EINTR);
  if (r != 0) return Failed("truncate", path);
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadWholeFile(absl::string_view path) {
  FileOpenFlags flags;
  absl::StatusOr<FileDescriptor> fd = OpenFile(path, flags);
  if (!fd.ok()) return fd.status();
  std::string out;
  // The size is a hint: /proc files say 0, and a file may grow meanwhile.
  absl::StatusOr<uint64_t> size = FileSize(*fd, path);
  size_t chunk = size.ok() && *size > 0 ? static_cast<size_t>(*size) + 1 : 64 * 1024;
  for (;;) {
    size_t at = out.size();
    out.resize(at + chunk);
    ssize_t n = read(Fd(*fd), &out[at], chunk);
    if (n < 0) {
      if (errno == EINTR) {
        out.resize(at);
        continue;
      }
      absl::Status s = Failed("read", path);
      CloseFile(*fd);
      return s;
    }
    out.resize(at + static_cast<size_t>(n));
    if (n == 0) break;
    chunk = 64 * 1024;
  }
  CloseFile(*fd);
  return out;
}

absl::Status AtomicReplaceFile(absl::string_view path, absl::string_view data, int mode, bool sync) {
  if (path.empty()) return absl::InvalidArgumentError("write_file: the path is empty");
  static std::atomic<uint64_t> counter{0};
  std::string target(path);
  std::string temp = absl::StrCat(target, ".nanorun-tmp.", getpid(), ".", counter.fetch_add(1));
  FileOpenFlags flags;
  flags.read = false;
  flags.write = true;
  flags.create = true;
  flags.exclusive = true;
  flags.mode = mode;
  absl::StatusOr<FileDescriptor> fd = OpenFile(temp, flags);
  if (!fd.ok()) {
    // Name the file the caller asked for: the temporary is ours.
    return absl::Status(fd.status().code(),
                        absl::StrCat("write_file ", target, ": cannot create a temporary file beside it (",
                                     fd.status().message(), ")"));
  }
  absl::Status s = WriteAt(*fd, data.data(), data.size(), 0, target);
  if (s.ok() && sync) s = SyncFile(*fd, /*data_only=*/false, target);
  CloseFile(*fd);
  if (s.ok() && rename(temp.c_str(), target.c_str()) != 0) s = Failed("rename into", target);
  if (!s.ok()) {
    (void)unlink(temp.c_str());
    return s;
  }
  if (sync) {
    // The rename is an entry in the directory: flush it too.
    std::string dir = DirectoryOf(target);
    int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      int r = fsync(dfd);
      int err = errno;
      close(dfd);
      if (r != 0 && err != EINVAL) return Failed("fsync the directory of", target, err);
    }
  }
  return absl::OkStatus();
}

}  // namespace sys
}  // namespace v0
}  // namespace nanorun
