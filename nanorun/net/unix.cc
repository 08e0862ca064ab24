// UnixListener, UnixStream and UnixDatagram: the path handling (checking,
// stale files, removal of the file a bind made) and the Unix-specific
// syscalls; reading and writing are StreamSocket's (stream.cc).
#include "nanorun/net/unix.h"

#include <algorithm>
#include <atomic>

#include "absl/strings/str_cat.h"
#include "nanorun/net/accept.h"

namespace nanorun {
inline namespace v0 {
namespace net {
namespace detail {

// The socket file a bind made. Removes it once (close() or the last handle),
// and only if the path still names the same file: another server may have
// replaced it since. Checked, then removed: a replacement in between those
// two steps is the one case this cannot see.
class SocketPath {
 public:
  SocketPath(std::string path, sys::FileIdentity identity)
      : path_(std::move(path)), identity_(identity) {}
  ~SocketPath() { remove(); }
  SocketPath(const SocketPath&) = delete;
  SocketPath& operator=(const SocketPath&) = delete;

  void remove() {
    if (removed_.exchange(true, std::memory_order_acq_rel)) return;
    absl::StatusOr<sys::FileIdentity> now = sys::IdentifyPath(path_);
    if (now.ok() && *now == identity_) (void)sys::RemovePath(path_);
  }

 private:
  std::string path_;
  sys::FileIdentity identity_;
  std::atomic<bool> removed_{false};
};

namespace {

bool IsAbstract(const std::string& path) { return !path.empty() && path[0] == '\0'; }

// Binds `fd` to `path`. A file already there: AlreadyExists saying what it
// is, or (replace_stale) removed first when it is a socket nobody listens on.
absl::Status BindPath(int fd, const std::string& path, bool replace_stale) {
  absl::Status bound = sys::BindUnix(fd, path);
  if (bound.ok() || bound.code() != absl::StatusCode::kAlreadyExists || IsAbstract(path)) {
    return bound;
  }
  std::string label = sys::UnixPathLabel(path);
  switch (sys::ProbeUnixPath(path)) {
    case sys::UnixPathState::kAbsent:  // Gone meanwhile: try once more.
      return sys::BindUnix(fd, path);
    case sys::UnixPathState::kLiveSocket:
      return absl::AlreadyExistsError(absl::StrCat(
          "bind ", label, ": another socket is listening there (a second server, or this one "
          "still running); stop it or choose another path"));
    case sys::UnixPathState::kStaleSocket:
      if (!replace_stale) {
        return absl::AlreadyExistsError(absl::StrCat(
            "bind ", label, ": a socket file from an earlier run is there and nothing listens on "
            "it; remove it, or set UnixListenOptions::replace_stale_socket"));
      }
      if (absl::Status removed = sys::RemovePath(path); !removed.ok()) return removed;
      return sys::BindUnix(fd, path);
    case sys::UnixPathState::kOther:
      break;
  }
  return absl::AlreadyExistsError(absl::StrCat(
      "bind ", label, ": a file that is not a socket is there; nanorun never removes it"));
}

// The file `path` names after a bind, for removal later; null for abstract
// names and when removal is not wanted.
std::shared_ptr<SocketPath> OwnPath(const std::string& path, bool remove_on_close) {
  if (!remove_on_close || IsAbstract(path)) return nullptr;
  absl::StatusOr<sys::FileIdentity> id = sys::IdentifyPath(path);
  if (!id.ok()) return nullptr;
  return std::make_shared<SocketPath>(path, *id);
}

absl::StatusOr<std::string> PathOf(const std::shared_ptr<SocketCore>& core, bool peer, const char* op) {
  if (core == nullptr) return EmptySocket(op);
  return peer ? sys::UnixPeerPath(core->fd()) : sys::UnixLocalPath(core->fd());
}

// connect()'s wait while a listener's backlog is full.
constexpr absl::Duration kFirstConnectRetry = absl::Milliseconds(1);
constexpr absl::Duration kLongestConnectRetry = absl::Milliseconds(100);
// send_to()'s wait while its receiver's queue is full.
constexpr absl::Duration kLongestSendRetry = absl::Milliseconds(50);

Future<UnixStream> ConnectOn(executor::Executor* e, std::string path) {
  if (absl::Status valid = sys::CheckUnixPath(path); !valid.ok()) {
    return make_error_future<UnixStream>(valid);
  }
  absl::StatusOr<int> fd = sys::OpenUnixSocket(sys::SocketType::kStream);
  if (!fd.ok()) return make_error_future<UnixStream>(fd.status());
  absl::StatusOr<std::shared_ptr<SocketCore>> core =
      SocketCore::Register(e, *fd, sys::UnixPathLabel(path));
  if (!core.ok()) return make_error_future<UnixStream>(core.status());
  absl::Duration retry = kFirstConnectRetry;
  return IoOp<UnixStream>(
      *core, reactor::Direction::kWrite, "connect", /*try_first=*/true,
      [path = std::move(path), retry](SocketCore& c) mutable -> Step<UnixStream> {
        int err = sys::StartConnectUnix(c.fd(), path);
        if (err == 0) {
          return Step<UnixStream>::done(detail::NetAccess::wrap<UnixStream>(c.shared_from_this()));
        }
        if (err == sys::kErrTryAgain) {
          absl::Duration wait = retry;
          retry = std::min(retry * 2, kLongestConnectRetry);
          return Step<UnixStream>::retry_after(wait);
        }
        return Step<UnixStream>::done(c.errno_error(err, "connect"));
      });
}

}  // namespace
}  // namespace detail

using detail::IoOp;
using detail::SocketCore;
using detail::Step;
using reactor::Direction;

// --- UnixStream ---------------------------------------------------------

Future<UnixStream> UnixStream::connect(std::string path) {
  absl::Status error;
  executor::Executor* e = detail::RuntimeFor(nullptr, "UnixStream::connect", &error);
  if (e == nullptr) return make_error_future<UnixStream>(error);
  return detail::ConnectOn(e, std::move(path));
}

Future<UnixStream> UnixStream::connect(std::string path, const Handle& handle) {
  absl::Status error;
  executor::Executor* e = detail::RuntimeFor(&handle, "UnixStream::connect", &error);
  if (e == nullptr) return make_error_future<UnixStream>(error);
  return detail::ConnectOn(e, std::move(path));
}

namespace {

// Registers both ends of a socketpair; closes both on any failure.
absl::StatusOr<std::pair<std::shared_ptr<SocketCore>, std::shared_ptr<SocketCore>>> RegisterPair(
    const Handle& handle, sys::SocketType type, const char* op) {
  absl::Status error;
  executor::Executor* e = detail::RuntimeFor(&handle, op, &error);
  if (e == nullptr) return error;
  int fds[2];
  if (absl::Status made = sys::UnixSocketPair(type, fds); !made.ok()) return made;
  absl::StatusOr<std::shared_ptr<SocketCore>> a = SocketCore::Register(e, fds[0], "socketpair end 0");
  if (!a.ok()) {
    sys::Close(fds[1]);
    return a.status();
  }
  absl::StatusOr<std::shared_ptr<SocketCore>> b = SocketCore::Register(e, fds[1], "socketpair end 1");
  if (!b.ok()) return b.status();
  return std::make_pair(*std::move(a), *std::move(b));
}

// Checks and registers an inherited socket.
absl::StatusOr<std::shared_ptr<SocketCore>> Adopt(int fd, sys::SocketRole role, const Handle& handle,
                                                  const char* op) {
  absl::Status error;
  executor::Executor* e = detail::RuntimeFor(&handle, op, &error);
  if (e == nullptr) return error;
  if (absl::Status ok = sys::AdoptSocket(fd, sys::SocketFamily::kUnix, role); !ok.ok()) {
    return absl::Status(ok.code(), absl::StrCat(op, ": ", ok.message()));
  }
  absl::StatusOr<std::string> name = sys::UnixLocalPath(fd);
  std::string label = name.ok() && !name->empty() ? sys::UnixPathLabel(*name) : absl::StrCat("fd ", fd);
  return SocketCore::Register(e, fd, label);
}

}  // namespace

absl::StatusOr<std::pair<UnixStream, UnixStream>> UnixStream::pair(const Handle& handle) {
  auto cores = RegisterPair(handle, sys::SocketType::kStream, "UnixStream::pair");
  if (!cores.ok()) return cores.status();
  return std::make_pair(detail::NetAccess::wrap<UnixStream>(std::move(cores->first)),
                        detail::NetAccess::wrap<UnixStream>(std::move(cores->second)));
}

absl::StatusOr<UnixStream> UnixStream::from_native(int fd, const Handle& handle) {
  auto core = Adopt(fd, sys::SocketRole::kConnected, handle, "UnixStream::from_native");
  if (!core.ok()) return core.status();
  return detail::NetAccess::wrap<UnixStream>(*std::move(core));
}

absl::StatusOr<std::string> UnixStream::local_path() const { return detail::PathOf(core_, false, "local_path"); }
absl::StatusOr<std::string> UnixStream::peer_path() const { return detail::PathOf(core_, true, "peer_path"); }

absl::StatusOr<PeerCredentials> UnixStream::peer_credentials() const {
  if (core_ == nullptr) return detail::EmptySocket("peer_credentials");
  return sys::UnixPeerCredentials(core_->fd());
}

// --- UnixListener -------------------------------------------------------

absl::StatusOr<UnixListener> UnixListener::bind(std::string path) {
  return bind(std::move(path), UnixListenOptions(), Handle());
}
absl::StatusOr<UnixListener> UnixListener::bind(std::string path, const Handle& handle) {
  return bind(std::move(path), UnixListenOptions(), handle);
}
absl::StatusOr<UnixListener> UnixListener::bind(std::string path, const UnixListenOptions& options) {
  return bind(std::move(path), options, Handle());
}

// An invalid `handle` means the calling worker's runtime.
absl::StatusOr<UnixListener> UnixListener::bind(std::string path, const UnixListenOptions& options,
                                                const Handle& handle) {
  absl::Status error;
  executor::Executor* e = detail::RuntimeFor(&handle, "UnixListener::bind", &error);
  if (e == nullptr) return error;
  if (options.backlog <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "UnixListener::bind ", sys::UnixPathLabel(path), ": backlog ", options.backlog,
        " must be positive"));
  }
  if (absl::Status valid = sys::CheckUnixPath(path); !valid.ok()) return valid;
  absl::StatusOr<int> fd = sys::OpenUnixSocket(sys::SocketType::kStream);
  if (!fd.ok()) return fd.status();
  absl::Status s = detail::BindPath(*fd, path, options.replace_stale_socket);
  std::shared_ptr<detail::SocketPath> owned;
  if (s.ok()) {
    owned = detail::OwnPath(path, options.remove_on_close);
    s = sys::Listen(*fd, options.backlog);
  }
  if (!s.ok()) {
    sys::Close(*fd);
    return s;  // `owned` removes the file this bind made.
  }
  absl::StatusOr<std::shared_ptr<SocketCore>> core = SocketCore::Register(e, *fd, sys::UnixPathLabel(path));
  if (!core.ok()) return core.status();
  return UnixListener(*std::move(core), std::move(owned));
}

absl::StatusOr<UnixListener> UnixListener::from_native(int fd, const Handle& handle) {
  auto core = Adopt(fd, sys::SocketRole::kListening, handle, "UnixListener::from_native");
  if (!core.ok()) return core.status();
  return UnixListener(*std::move(core), nullptr);
}

Future<UnixStream> UnixListener::accept() const {
  return detail::AcceptNext<UnixStream>(
      core_, /*ip_peer=*/false, [](SocketCore& listener, int fd, const sys::IpAddress&) {
        absl::StatusOr<std::shared_ptr<SocketCore>> core = SocketCore::Register(
            listener.executor(), fd, absl::StrCat("a connection accepted on ", listener.label()));
        if (!core.ok()) return Step<UnixStream>::done(core.status());
        return Step<UnixStream>::done(detail::NetAccess::wrap<UnixStream>(*std::move(core)));
      });
}

absl::StatusOr<std::string> UnixListener::local_path() const { return detail::PathOf(core_, false, "local_path"); }

void UnixListener::close() const {
  if (core_ != nullptr) core_->close();
  if (path_ != nullptr) path_->remove();
}

// --- UnixDatagram -------------------------------------------------------

absl::StatusOr<UnixDatagram> UnixDatagram::bind(std::string path, const Handle& handle) {
  absl::Status error;
  executor::Executor* e = detail::RuntimeFor(&handle, "UnixDatagram::bind", &error);
  if (e == nullptr) return error;
  if (absl::Status valid = sys::CheckUnixPath(path); !valid.ok()) return valid;
  absl::StatusOr<int> fd = sys::OpenUnixSocket(sys::SocketType::kDatagram);
  if (!fd.ok()) return fd.status();
  if (absl::Status s = detail::BindPath(*fd, path, /*replace_stale=*/false); !s.ok()) {
    sys::Close(*fd);
    return s;
  }
  std::shared_ptr<detail::SocketPath> owned = detail::OwnPath(path, /*remove_on_close=*/true);
  absl::StatusOr<std::shared_ptr<SocketCore>> core = SocketCore::Register(e, *fd, sys::UnixPathLabel(path));
  if (!core.ok()) return core.status();
  return UnixDatagram(*std::move(core), std::move(owned));
}

absl::StatusOr<UnixDatagram> UnixDatagram::unbound(const Handle& handle) {
  absl::Status error;
  executor::Executor* e = detail::RuntimeFor(&handle, "UnixDatagram::unbound", &error);
  if (e == nullptr) return error;
  absl::StatusOr<int> fd = sys::OpenUnixSocket(sys::SocketType::kDatagram);
  if (!fd.ok()) return fd.status();
  absl::StatusOr<std::shared_ptr<SocketCore>> core = SocketCore::Register(e, *fd, "an unbound datagram socket");
  if (!core.ok()) return core.status();
  return UnixDatagram(*std::move(core), nullptr);
}

absl::StatusOr<std::pair<UnixDatagram, UnixDatagram>> UnixDatagram::pair(const Handle& handle) {
  auto cores = RegisterPair(handle, sys::SocketType::kDatagram, "UnixDatagram::pair");
  if (!cores.ok()) return cores.status();
  return std::make_pair(UnixDatagram(std::move(cores->first), nullptr),
                        UnixDatagram(std::move(cores->second), nullptr));
}

absl::StatusOr<UnixDatagram> UnixDatagram::from_native(int fd, const Handle& handle) {
  auto core = Adopt(fd, sys::SocketRole::kDatagram, handle, "UnixDatagram::from_native");
  if (!core.ok()) return core.status();
  return UnixDatagram(*std::move(core), nullptr);
}

absl::Status UnixDatagram::connect(const std::string& path) const {
  if (core_ == nullptr) return detail::EmptySocket("UnixDatagram::connect");
  if (absl::Status valid = sys::CheckUnixPath(path); !valid.ok()) return valid;
  int err = sys::StartConnectUnix(core_->fd(), path);
  if (err != 0) return sys::ErrnoStatus(err, absl::StrCat("connect ", sys::UnixPathLabel(path)));
  return absl::OkStatus();
}

Future<size_t> UnixDatagram::send(absl::Span<const char> data) const {
  return IoOp<size_t>(core_, Direction::kWrite, "send", true, [data](SocketCore& c) {
    sys::IoResult r = sys::Write(c.fd(), data.data(), data.size());
    if (r.would_block) return Step<size_t>::would_block();
    if (r.err != 0) return Step<size_t>::done(c.errno_error(r.err, "send on"));
    return Step<size_t>::done(static_cast<size_t>(r.n));
  });
}

Future<size_t> UnixDatagram::recv(absl::Span<char> buf) const {
  return IoOp<size_t>(core_, Direction::kRead, "recv", true, [buf](SocketCore& c) {
    sys::IoResult r = sys::Read(c.fd(), buf.data(), buf.size());
    if (r.would_block) return Step<size_t>::would_block();
    if (r.err != 0) return Step<size_t>::done(c.errno_error(r.err, "recv on"));
    return Step<size_t>::done(static_cast<size_t>(r.n));
  });
}

Future<size_t> UnixDatagram::send_to(absl::Span<const char> data, std::string path) const {
  if (absl::Status valid = sys::CheckUnixPath(path); !valid.ok()) {
    return make_error_future<size_t>(valid);
  }
  absl::Duration retry = detail::kFirstConnectRetry;
  return IoOp<size_t>(core_, Direction::kWrite, "send_to", true,
                      [data, path = std::move(path), retry](SocketCore& c) mutable -> Step<size_t> {
                        sys::IoResult r = sys::SendToUnix(c.fd(), data.data(), data.size(), path);
                        if (r.would_block) {
                          // No edge comes for another socket's queue: poll.
                          absl::Duration wait = retry;
                          retry = std::min(retry * 2, detail::kLongestSendRetry);
                          return Step<size_t>::retry_after(wait);
                        }
                        if (r.err != 0) {
                          return Step<size_t>::done(sys::ErrnoStatus(
                              r.err, absl::StrCat("send_to ", sys::UnixPathLabel(path), " from ", c.label())));
                        }
                        return Step<size_t>::done(static_cast<size_t>(r.n));
                      });
}

Future<std::pair<size_t, std::string>> UnixDatagram::recv_from(absl::Span<char> buf) const {
  using Received = std::pair<size_t, std::string>;
  return IoOp<Received>(core_, Direction::kRead, "recv_from", true, [buf](SocketCore& c) {
    std::string from;
    sys::IoResult r = sys::RecvFromUnix(c.fd(), buf.data(), buf.size(), &from);
    if (r.would_block) return Step<Received>::would_block();
    if (r.err != 0) return Step<Received>::done(c.errno_error(r.err, "recv_from on"));
    return Step<Received>::done(Received(static_cast<size_t>(r.n), std::move(from)));
  });
}

absl::StatusOr<std::string> UnixDatagram::local_path() const { return detail::PathOf(core_, false, "local_path"); }

void UnixDatagram::close() const {
  if (core_ != nullptr) core_->close();
  if (path_ != nullptr) path_->remove();
}

}  // namespace net
}  // namespace v0
}  // namespace nanorun
