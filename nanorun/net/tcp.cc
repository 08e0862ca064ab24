// TcpStream and TcpListener: each operation is one non-blocking attempt,
// retried by IoOp on readiness edges (socket_core.h).
#include "nanorun/net/tcp.h"

#include <mutex>

#include "absl/strings/str_cat.h"
#include "nanorun/net/accept.h"
#include "nanorun/net/ring_accept.h"
#include "nanorun/net/ring_connect.h"

namespace nanorun {
inline namespace v0 {
namespace net {
namespace detail {

absl::StatusOr<std::shared_ptr<SocketCore>> SocketCore::Register(executor::Executor* e, int fd,
                                                                 std::string label) {
  if (e->is_shut_down()) {
    sys::Close(fd);
    return absl::CancelledError(absl::StrCat(label, ": the runtime has shut down"));
  }
  absl::StatusOr<reactor::IoRegistration*> r = e->reactor().register_io(fd);
  if (!r.ok()) {
    sys::Close(fd);
    return r.status();
  }
  e->retain();
  return std::shared_ptr<SocketCore>(new SocketCore(e, fd, *r, std::move(label)));
}

SocketCore::~SocketCore() {
  if (ring_accept_ != nullptr) {
    // Dropped without close(): its ring's request still holds the file, so
    // stop the listener now (see ring_accept.h), not when that request ends.
    (void)sys::Shutdown(fd_, 2);
    ring_accept_->close(executor_->reactor());
  }
  // Deregister before closing, so the fd number is free only once no event
  // or waker can refer to it any more.
  executor_->reactor().deregister_io(registration_);
  sys::Close(fd_);
  executor_->drop_ref();  // Last: it may free the reactor.
}

void SocketCore::close() {
  registration_->close();
  // A read or write in the ring sees the close when its cancel completes it. Only the
  // address is passed (a stale one cancels nothing, or a request that then
  // sees an unexpected cancel and retries: ring_read.h).
  if (ring_recv_limit_ != 0) {
    for (RingReadQueue* q : {&ring_queue_, &ring_write_queue_}) {
      reactor::RingOp* active;
      {
        std::lock_guard<sys::SpinLock> lock(q->mu);
        active = q->active;
      }
      if (active != nullptr) executor_->reactor().cancel(active);
    }
  }
  // Wakes the peer and any blocked kernel state; fails harmlessly on an
  // unconnected socket. On Linux it also stops a TCP listener at once
  // (connects are refused from here on), which a listener accepting through
  // the ring needs: the request keeps the file open until it ends.
  (void)sys::Shutdown(fd_, 2);
  if (ring_accept_ != nullptr) ring_accept_->close(executor_->reactor());
}

void SocketCore::accept_by_ring() {
  if (!executor_->reactor().accepts_by_ring()) return;
  ring_accept_ = std::make_shared<RingAccept>();
  // Every connection comes as an edge from the ring; epoll's would double them.
  executor_->reactor().reads_by_ring(registration_);
}

std::string BoundLabel(int fd, const SocketAddr& requested) {
  absl::StatusOr<sys::IpAddress> bound = sys::LocalAddress(fd);
  return bound.ok() ? detail::NetAccess::addr(*bound).ToString() : requested.ToString();
}

executor::Executor* RuntimeFor(const Handle* handle, const char* op, absl::Status* error) {
  if (handle != nullptr && handle->valid()) {
    return nanorun::detail::HandleAccess::executor(*handle);
  }
  executor::Executor* e = executor::Executor::current();
  if (e == nullptr) {
    *error = absl::FailedPreconditionError(absl::StrCat(
        op, " called outside a runtime: call it from a task (inside "
            "Runtime::block_on([] { ... }) or spawn), or pass the Handle of the "
            "runtime the socket should belong to"));
  }
  return e;
}

namespace {

using reactor::Direction;

Future<TcpStream> ConnectOn(executor::Executor* e, const SocketAddr& addr) {
  std::string label = addr.ToString();
  absl::StatusOr<int> fd = sys::OpenSocket(detail::NetAccess::ip(addr), sys::SocketType::kStream);
  if (!fd.ok()) return make_error_future<TcpStream>(fd.status());
  // Socket operations in the ring, and started on one of its workers (see
  // ring_connect.h): one connect request instead of the syscalls below.
  if (e->reactor().ring_recv_limit() != 0 && executor::Executor::current() == e) {
    return RingConnect(e, *fd, detail::NetAccess::ip(addr), std::move(label));
  }
  int err = sys::StartConnect(*fd, detail::NetAccess::ip(addr));
  if (err != 0 && err != sys::kErrInProgress) {
    sys::Close(*fd);
    return make_error_future<TcpStream>(sys::ErrnoStatus(err, "connect " + label));
  }
  // Registered after connect() started: the first edge reports its outcome.
  absl::StatusOr<std::shared_ptr<SocketCore>> core = SocketCore::Register(e, *fd, label);
  if (!core.ok()) return make_error_future<TcpStream>(core.status());
  if (err == 0) return make_ready_future(detail::NetAccess::wrap<TcpStream>(*std::move(core)));
  return IoOp<TcpStream>(*core, Direction::kWrite, "connect", /*try_first=*/false,
                         [](SocketCore& c) -> Step<TcpStream> {
                           int result = sys::ConnectResult(c.fd());
                           if (result != 0) return Step<TcpStream>::done(c.errno_error(result, "connect"));
                           return Step<TcpStream>::done(
                               detail::NetAccess::wrap<TcpStream>(c.shared_from_this()));
                         });
}

}  // namespace
}  // namespace detail

using detail::IoOp;
using detail::SocketCore;
using detail::Step;
using reactor::Direction;

Future<TcpStream> TcpStream::connect(const SocketAddr& addr) {
  absl::Status error;
  executor::Executor* e = detail::RuntimeFor(nullptr, "TcpStream::connect", &error);
  if (e == nullptr) return make_error_future<TcpStream>(error);
  return detail::ConnectOn(e, addr);
}

Future<TcpStream> TcpStream::connect(const SocketAddr& addr, const Handle& handle) {
  absl::Status error;
  executor::Executor* e = detail::RuntimeFor(&handle, "TcpStream::connect", &error);
  if (e == nullptr) return make_error_future<TcpStream>(error);
  return detail::ConnectOn(e, addr);
}

namespace {

absl::StatusOr<SocketAddr> AddressOf(const std::shared_ptr<SocketCore>& core, bool peer,
                                     const char* op) {
  if (core == nullptr) return detail::EmptySocket(op);
  absl::StatusOr<sys::IpAddress> ip = peer ? sys::PeerAddress(core->fd()) : sys::LocalAddress(core->fd());
  if (!ip.ok()) return ip.status();
  return detail::NetAccess::addr(*ip);
}

}  // namespace

absl::StatusOr<SocketAddr> TcpStream::peer_addr() const { return AddressOf(core_, true, "peer_addr"); }
absl::StatusOr<SocketAddr> TcpStream::local_addr() const { return AddressOf(core_, false, "local_addr"); }

absl::StatusOr<TcpListener> TcpListener::bind(const SocketAddr& addr) {
  return bind(addr, TcpListenOptions(), Handle());
}
absl::StatusOr<TcpListener> TcpListener::bind(const SocketAddr& addr, const Handle& handle) {
  return bind(addr, TcpListenOptions(), handle);
}
absl::StatusOr<TcpListener> TcpListener::bind(const SocketAddr& addr, const TcpListenOptions& options) {
  return bind(addr, options, Handle());
}

// An invalid `handle` means the calling worker's runtime.
absl::StatusOr<TcpListener> TcpListener::bind(const SocketAddr& addr, const TcpListenOptions& options,
                                              const Handle& handle) {
  absl::Status error;
  executor::Executor* e = detail::RuntimeFor(&handle, "TcpListener::bind", &error);
  if (e == nullptr) return error;
  if (options.backlog <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("TcpListener::bind ", addr.ToString(), ": backlog ",
                                                   options.backlog, " must be positive"));
  }
  absl::StatusOr<int> fd = sys::OpenSocket(detail::NetAccess::ip(addr), sys::SocketType::kStream);
  if (!fd.ok()) return fd.status();
  absl::Status s = sys::SetReuseAddress(*fd);
  if (s.ok()) {
    s = detail::ApplyBindOptions(*fd, addr, options.reuse_port, options.v6_only, options.send_buffer_size,
                                 options.receive_buffer_size, "TcpListener::bind");
  }
  if (s.ok()) s = sys::Bind(*fd, detail::NetAccess::ip(addr));
  if (s.ok()) s = sys::Listen(*fd, options.backlog);
  if (!s.ok()) {
    sys::Close(*fd);
    return s;
  }
  absl::StatusOr<std::shared_ptr<SocketCore>> core =
      SocketCore::Register(e, *fd, detail::BoundLabel(*fd, addr));
  if (!core.ok()) return core.status();
  (*core)->accept_by_ring();
  return TcpListener(*std::move(core));
}

Future<std::pair<TcpStream, SocketAddr>> TcpListener::accept() const {
  using Accepted = std::pair<TcpStream, SocketAddr>;
  return detail::AcceptNext<Accepted>(
      core_, /*ip_peer=*/true, [](SocketCore& listener, int fd, const sys::IpAddress& peer) {
        SocketAddr peer_addr = detail::NetAccess::addr(peer);
        absl::StatusOr<std::shared_ptr<SocketCore>> core =
            SocketCore::Register(listener.executor(), fd, peer_addr.ToString());
        if (!core.ok()) return Step<Accepted>::done(core.status());
        TcpStream stream = detail::NetAccess::wrap<TcpStream>(*std::move(core));
        return Step<Accepted>::done(Accepted(std::move(stream), peer_addr));
      });
}

absl::StatusOr<SocketAddr> TcpListener::local_addr() const { return AddressOf(core_, false, "local_addr"); }

void TcpListener::close() const {
  if (core_ != nullptr) core_->close();
}

}  // namespace net
}  // namespace v0
}  // namespace nanorun
