// The network workloads of WORKLOADS.md (tcp_echo, tcp_accept), measured
// side by side in one invocation: the same neutral load client (plain
// epoll, one thread, verifying every echoed byte) drives a raw epoll echo
// server (the physical baseline: one thread, no runtime) and then nanorun's
// echo server (docs/examples/echo.cc, --workers workers, default 2). All on 127.0.0.1.
// Built as net_bench_uv (NANORUN_BENCH_LIBUV defined, links libuv), each run
// also drives a libuv echo server between the two: a third peer, measured
// by the same client in the same run. Built as net_bench_uring
// (NANORUN_BENCH_LIBURING, links liburing), a raw liburing echo server too
// (the io_uring ceiling). Where io_uring can run, nanorun is measured on
// both of its Linux reactors: "nanorun" (the default, epoll) and
// "nanorun_uring".
//
//   tools/bazel run -c opt //tools/bench:net_bench -- [--quick] [--runs N] [--only NAME]
//   tools/bazel run -c opt //tools/bench:net_bench_uv -- ...     (needs libuv1-dev)
//   tools/bazel run -c opt //tools/bench:net_bench_uring -- ...  (needs liburing-dev)
//       [--client uring]: tcp_echo's load from an io_uring client, cheaper
//       than the servers (the epoll client bounds them all on two cores)
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(NANORUN_BENCH_LIBUV)
#include <uv.h>
#endif
#if defined(NANORUN_BENCH_LIBURING)
#include <liburing.h>
#include <sys/mman.h>
#endif

#include "docs/examples/echo.h"
#include "nanorun/nanorun.h"
#include "tools/bench/report.h"

namespace {

using bench::Check;
using bench::Clock;
using bench::Seconds;
int g_scale = 1;

void Die(const char* what) {
  std::fprintf(stderr, "net_bench: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}


sockaddr_in Loopback(uint16_t port) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return sin;
}

int ListenOnFreePort(uint16_t* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in sin = Loopback(0);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) != 0) Die("bind");
  if (listen(fd, 1024) != 0) Die("listen");
  socklen_t len = sizeof(sin);
  getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len);
  *port = ntohs(sin.sin_port);
  return fd;
}

// The physical baseline: one thread, edge-triggered epoll, read what is
// there and write it straight back. A pipe stops it.
class RawEchoServer {
 public:
  RawEchoServer() {
    listen_fd_ = ListenOnFreePort(&port_);
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) Die("pipe2");
    stop_read_ = fds[0];
    stop_write_ = fds[1];
    Add(listen_fd_);
    Add(stop_read_);
    thread_ = std::thread([this] { Run(); });
  }
  ~RawEchoServer() {
    char one = 1;
    (void)!write(stop_write_, &one, 1);
    thread_.join();
    for (int fd : {listen_fd_, epoll_fd_, stop_read_, stop_write_}) close(fd);
  }
  uint16_t port() const { return port_; }

 private:
  void Add(int fd) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLET;
    ev.data.fd = fd;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) Die("epoll_ctl");
  }
  void Run() {
    epoll_event events[256];
    char buf[16384];
    for (;;) {
      int n = epoll_wait(epoll_fd_, events, 256, -1);
      for (int i = 0; i < n; ++i) {
        int fd = events[i].data.fd;
        if (fd == stop_read_) return;
        if (fd == listen_fd_) {
          for (;;) {
            int c = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (c < 0) break;
            int one = 1;
            setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            Add(c);
          }
          continue;
        }
        for (;;) {
          ssize_t r = read(fd, buf, sizeof(buf));
          if (r > 0) {
            ssize_t off = 0;
            while (off < r) {  // Small echoes: the send buffer never fills here.
              ssize_t w = send(fd, buf + off, r - off, MSG_NOSIGNAL);
              if (w <= 0) break;
              off += w;
            }
            continue;
          }
          if (r == 0 || errno != EAGAIN) close(fd);
          break;
        }
      }
    }
  }
  int listen_fd_ = -1, epoll_fd_ = -1, stop_read_ = -1, stop_write_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
};

#if defined(NANORUN_BENCH_LIBUV)
// The libuv peer: an echo server written as libuv intends, one thread
// running a uv_loop_t; uv_listen on 127.0.0.1, uv_accept, TCP_NODELAY
// (uv_tcp_nodelay, as the other servers set it), uv_read_start and a
// uv_write of what was read. --workers does not apply: a loop is one thread,
// like the raw epoll server.
//
// uv_write needs its buffer until the write callback, so each read lands in
// a write request of its own (its uv_write_t and a 16 KiB buffer, the raw
// server's read size); a connection keeps finished ones for its next reads,
// so the steady state allocates nothing, like the raw server.
class LibuvEchoServer {
 public:
  LibuvEchoServer() {
    Check(uv_loop_init(&loop_) == 0, "uv_loop_init");
    uv_tcp_init(&loop_, &server_);
    server_.data = nullptr;  // Not a connection (see CloseAll).
    sockaddr_in sin = Loopback(0);
    Check(uv_tcp_bind(&server_, reinterpret_cast<const sockaddr*>(&sin), 0) == 0, "uv_tcp_bind");
    Check(uv_listen(reinterpret_cast<uv_stream_t*>(&server_), 1024, OnConnection) == 0, "uv_listen");
    int len = sizeof(sin);
    uv_tcp_getsockname(&server_, reinterpret_cast<sockaddr*>(&sin), &len);
    port_ = ntohs(sin.sin_port);
    // The one libuv call that is safe from another thread: how the
    // destructor asks the loop to close everything and return.
    uv_async_init(&loop_, &stop_, CloseAll);
    stop_.data = nullptr;
    thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
  }
  ~LibuvEchoServer() {
    uv_async_send(&stop_);
    thread_.join();  // uv_run returned: every handle is closed.
    Check(uv_loop_close(&loop_) == 0, "libuv server: handles left on the loop");
  }
  uint16_t port() const { return port_; }

 private:
  struct Conn;
  struct Write {
    uv_write_t req;  // First: OnWritten gets the Write back from it.
    Conn* conn;
    char data[16384];
  };
  struct Conn {
    uv_tcp_t tcp;
    std::vector<std::unique_ptr<Write>> spare;
    Write* reading = nullptr;  // The buffer handed out by OnAlloc.
  };

  static void OnConnection(uv_stream_t* server, int status) {
    if (status != 0) return;
    Conn* c = new Conn;
    uv_tcp_init(server->loop, &c->tcp);
    c->tcp.data = c;
    auto* stream = reinterpret_cast<uv_stream_t*>(&c->tcp);
    if (uv_accept(server, stream) != 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), OnClosed);
      return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start(stream, OnAlloc, OnRead);
  }
  static void OnAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
    Conn* c = static_cast<Conn*>(h->data);
    if (c->spare.empty()) {
      c->reading = new Write;
      c->reading->conn = c;
    } else {
      c->reading = c->spare.back().release();
      c->spare.pop_back();
    }
    *buf = uv_buf_init(c->reading->data, sizeof(c->reading->data));
  }
  static void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t*) {
    Conn* c = static_cast<Conn*>(stream->data);
    Write* w = std::exchange(c->reading, nullptr);  // Holds what was read.
    if (nread > 0) {
      uv_buf_t out = uv_buf_init(w->data, static_cast<unsigned>(nread));
      if (uv_write(&w->req, stream, &out, 1, OnWritten) == 0) return;
    }
    if (w != nullptr) c->spare.emplace_back(w);  // Nothing read (EAGAIN), or the write failed.
    if (nread < 0) uv_close(reinterpret_cast<uv_handle_t*>(stream), OnClosed);  // EOF or error.
  }
  // Also called, with UV_ECANCELED, for writes still queued when the
  // connection closes; always before OnClosed, so conn is alive here.
  static void OnWritten(uv_write_t* req, int) {
    static_assert(std::is_standard_layout<Write>::value, "req must start Write");
    Write* w = reinterpret_cast<Write*>(req);
    w->conn->spare.emplace_back(w);
  }
  static void OnClosed(uv_handle_t* h) { delete static_cast<Conn*>(h->data); }
  static void CloseAll(uv_async_t* stop) {
    uv_walk(
        stop->loop,
        [](uv_handle_t* h, void*) {
          if (!uv_is_closing(h)) uv_close(h, h->data != nullptr ? OnClosed : nullptr);
        },
        nullptr);
  }

  uv_loop_t loop_;
  uv_tcp_t server_;
  uv_async_t stop_;
  uint16_t port_ = 0;
  std::thread thread_;
};
#endif  // NANORUN_BENCH_LIBUV

// nanorun's echo server: the example's loops on a 2-worker runtime.
#if defined(NANORUN_BENCH_LIBURING)
// The io_uring ceiling: one thread and one ring, written the way liburing's
// examples serve sockets. A multishot accept; per connection, a recv into its
// own 16 KiB buffer (the raw epoll server's read size), then a send of what
// came, then the next recv; everything queued goes to the kernel in the one
// io_uring_submit_and_wait that also waits, so a loop turn makes one syscall
// for all the connections it serves. Shutting its listener down wakes it to
// stop (the accept completes with an error).
//
// With `threads` > 1 (raw_uring_rings: as many as nanorun's workers), a ring
// per thread, each with its own listener on the one port (SO_REUSEPORT: the
// kernel spreads connections over them): what rings owned by one thread each
// can do on these cores, the ceiling of a runtime with a ring per worker.
// With `multishot_recv` (raw_uring_multishot), one multishot recv per
// connection into buffers the kernel picks (a provided-buffer ring), each
// echoed straight from its buffer and given back once sent: no recv request
// per message. It relies on the benchmark's clients, which wait for each
// echo before they send again (one buffer per connection in use at a time).
class RawUringEchoServer {
 public:
  explicit RawUringEchoServer(int threads = 1, bool multishot_recv = false) {
    loops_.resize(static_cast<size_t>(threads));
    for (size_t i = 0; i < loops_.size(); ++i) {
      loops_[i].listen_fd = Listen(threads > 1, &port_);
      loops_[i].multishot = multishot_recv;
    }
    std::atomic<int> ready{0};
    for (Loop& loop : loops_) {
      loop.thread = std::thread([this, &loop, &ready] {
        // The ring belongs to this thread (SINGLE_ISSUER), and the kernel
        // runs completions' task work only when it enters to wait
        // (DEFER_TASKRUN, 6.1+): no interrupts, the setup liburing's authors
        // recommend for a thread-per-ring server.
        io_uring_params params{};
        params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
        Check(io_uring_queue_init_params(1024, &loop.ring, &params) == 0, "io_uring_queue_init");
        if (loop.multishot) loop.ProvideBuffers();
        ready.fetch_add(1);
        loop.Run(stop_);
        io_uring_queue_exit(&loop.ring);
      });
    }
    while (ready.load() != threads) std::this_thread::yield();
  }
  ~RawUringEchoServer() {
    stop_.store(true);
    for (Loop& loop : loops_) {
      shutdown(loop.listen_fd, SHUT_RDWR);  // Its accept completes: the loop wakes.
      loop.thread.join();
      close(loop.listen_fd);
      if (loop.buffers != nullptr) {
        munmap(loop.buffer_ring, Loop::kBuffers * sizeof(io_uring_buf));
        delete[] loop.buffers;
      }
    }
  }
  uint16_t port() const { return port_; }

 private:
  // A listener on *port (0: a free one, stored there), with SO_REUSEPORT
  // when several share it.
  static int Listen(bool reuse_port, uint16_t* port) {
    if (!reuse_port) return ListenOnFreePort(port);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    sockaddr_in sin = Loopback(*port);
    if (bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) != 0) Die("bind");
    if (listen(fd, 1024) != 0) Die("listen");
    socklen_t len = sizeof(sin);
    getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len);
    *port = ntohs(sin.sin_port);
    return fd;
  }

  enum Kind : uint64_t { kAccept = 0, kRecv = 1, kSend = 2 };
  struct Conn {
    int fd;
    char buf[16384];
    size_t len = 0, sent = 0;
    char* data = buf;  // What is being echoed: buf, or a provided buffer.
    int buffer_id = -1;  // That provided buffer's id, or -1.
  };
  static uint64_t Tag(Conn* c, Kind k) { return reinterpret_cast<uint64_t>(c) | k; }

  // One thread's ring, listener and connections.
  struct Loop {
    io_uring ring;
    int listen_fd = -1;
    std::thread thread;
    // multishot: the provided buffers (group 0), kBuffers of kBufferSize.
    static constexpr unsigned kBuffers = 256, kBufferSize = 16384;
    bool multishot = false;
    io_uring_buf_ring* buffer_ring = nullptr;
    char* buffers = nullptr;

    void ProvideBuffers() {
      void* mem = mmap(nullptr, kBuffers * sizeof(io_uring_buf), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      Check(mem != MAP_FAILED, "mmap buffer ring");
      buffer_ring = static_cast<io_uring_buf_ring*>(mem);
      buffers = new char[size_t{kBuffers} * kBufferSize];
      io_uring_buf_reg reg{};
      reg.ring_addr = reinterpret_cast<uint64_t>(buffer_ring);
      reg.ring_entries = kBuffers;
      reg.bgid = 0;
      Check(io_uring_register_buf_ring(&ring, &reg, 0) == 0, "io_uring_register_buf_ring");
      io_uring_buf_ring_init(buffer_ring);
      for (unsigned i = 0; i < kBuffers; ++i) GiveBack(static_cast<int>(i));
    }
    void GiveBack(int id) {
      io_uring_buf_ring_add(buffer_ring, buffers + static_cast<size_t>(id) * kBufferSize,
                            kBufferSize, static_cast<unsigned short>(id),
                            io_uring_buf_ring_mask(kBuffers), 0);
      io_uring_buf_ring_advance(buffer_ring, 1);
    }

    io_uring_sqe* Sqe() {
      io_uring_sqe* sqe = io_uring_get_sqe(&ring);
      if (sqe == nullptr) {  // Full: hand the queue over and take a fresh entry.
        io_uring_submit(&ring);
        sqe = io_uring_get_sqe(&ring);
      }
      Check(sqe != nullptr, "io_uring_get_sqe");
      return sqe;
    }
    void Accept() {
      io_uring_sqe* sqe = Sqe();
      io_uring_prep_multishot_accept(sqe, listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
      io_uring_sqe_set_data64(sqe, kAccept);
    }
    void Recv(Conn* c) {
      io_uring_sqe* sqe = Sqe();
      if (multishot) {
        io_uring_prep_recv_multishot(sqe, c->fd, nullptr, 0, 0);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = 0;
        io_uring_sqe_set_data64(sqe, Tag(c, kRecv));
        return;
      }
      io_uring_prep_recv(sqe, c->fd, c->buf, sizeof(c->buf), 0);
      // The next message comes only after this echo reached the client: wait
      // for data first instead of trying a recv that would find none.
      sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
      io_uring_sqe_set_data64(sqe, Tag(c, kRecv));
    }
    void Send(Conn* c) {
      io_uring_sqe* sqe = Sqe();
      io_uring_prep_send(sqe, c->fd, c->data + c->sent, c->len - c->sent, MSG_NOSIGNAL);
      io_uring_sqe_set_data64(sqe, Tag(c, kSend));
    }
    static void Close(Conn* c) {
      close(c->fd);
      delete c;
    }

    void Run(const std::atomic<bool>& stop) {
      Accept();
      std::vector<Conn*> open;
      while (!stop.load()) {
        io_uring_submit_and_wait(&ring, 1);
        io_uring_cqe* cqe;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&ring, head, cqe) {
          ++seen;
          uint64_t data = io_uring_cqe_get_data64(cqe);
          auto* c = reinterpret_cast<Conn*>(data & ~uint64_t{3});
          switch (static_cast<Kind>(data & 3)) {
            case kAccept:
              if (cqe->res >= 0) {
                auto* conn = new Conn;
                conn->fd = cqe->res;
                int one = 1;
                setsockopt(conn->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                open.push_back(conn);
                Recv(conn);
              }
              // Re-armed unless the listener is shut down (we are stopping).
              if (!(cqe->flags & IORING_CQE_F_MORE) && !stop.load()) Accept();
              break;
            case kRecv:
              if (multishot && cqe->res == -ENOBUFS) {  // Every buffer in use: ask again.
                if (!(cqe->flags & IORING_CQE_F_MORE)) Recv(c);
                break;
              }
              if (cqe->res <= 0) {
                open.erase(std::find(open.begin(), open.end(), c));
                Close(c);
                break;
              }
              c->len = static_cast<size_t>(cqe->res);
              c->sent = 0;
              if (cqe->flags & IORING_CQE_F_BUFFER) {
                c->buffer_id = static_cast<int>(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
                c->data = buffers + static_cast<size_t>(c->buffer_id) * kBufferSize;
              }
              Send(c);
              if (multishot && !(cqe->flags & IORING_CQE_F_MORE)) Recv(c);  // It ended: re-arm.
              break;
            case kSend:
              if (cqe->res <= 0) break;  // The peer went away; its recv ends it.
              c->sent += static_cast<size_t>(cqe->res);
              if (c->sent < c->len) {
                Send(c);
              } else if (c->buffer_id >= 0) {
                GiveBack(std::exchange(c->buffer_id, -1));  // The multishot recv stays armed.
              } else {
                Recv(c);
              }
              break;
          }
        }
        io_uring_cq_advance(&ring, seen);
      }
      for (Conn* c : open) Close(c);
    }
  };

  std::vector<Loop> loops_;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
};
#endif  // NANORUN_BENCH_LIBURING

nanorun::RuntimeOptions EchoRuntime(nanorun::ReactorBackend reactor) {
  nanorun::RuntimeOptions options;
  options.workers = static_cast<size_t>(bench::g_workers);
  options.reactor = reactor;
  return options;
}

// Whether this machine can run nanorun's io_uring reactor at all.
bool UringRuns() {
  static const bool runs = nanorun::Runtime::create(EchoRuntime(nanorun::ReactorBackend::kUring)).ok();
  return runs;
}

class NanorunEchoServer {
 public:
  explicit NanorunEchoServer(nanorun::ReactorBackend reactor = nanorun::ReactorBackend::kDefault)
      : rt_(EchoRuntime(reactor)) {
    auto l = nanorun::net::TcpListener::bind(nanorun::net::SocketAddr::loopback_v4(0), rt_.handle());
    Check(l.ok(), "nanorun bind");
    listener_ = *l;
    port_ = listener_.local_addr()->port();
    // No idle timeout: like the raw server, and what tcp_echo measures is
    // the I/O path (a per-read timeout costs a timer insert and unlink).
    auto serving = rt_.handle().spawn([l = listener_] {
      return echo::Serve(l, absl::InfiniteDuration());
    });
  }
  ~NanorunEchoServer() { listener_.close(); }
  uint16_t port() const { return port_; }

 private:
  nanorun::Runtime rt_;
  nanorun::net::TcpListener listener_;
  uint16_t port_ = 0;
};

int ConnectBlocking(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sin = Loopback(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) != 0) Die("connect");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  fcntl(fd, F_SETFL, O_NONBLOCK);
  return fd;
}

// The neutral client for tcp_echo: 64 connections, each sends a 64-byte
// message (its id and sequence number in every byte pattern), waits for all
// 64 bytes back, checks them, and repeats.
// What both tcp_echo clients share: the load's shape, each connection's
// state, its message pattern, and the report.
namespace echo_load {

constexpr int kConnections = 64;
constexpr size_t kMessage = 64;

struct Conn {
  int fd;
  long done = 0;
  size_t got = 0;
  char sent[kMessage];
  char recv[kMessage];
  Clock::time_point sent_at;

  // The next message: its connection id and sequence number in every byte.
  void fill(int id) {
    for (size_t i = 0; i < kMessage; ++i) sent[i] = static_cast<char>(id * 31 + done * 7 + i);
    got = 0;
    sent_at = Clock::now();
  }
};

long Rounds() { return 20000 / g_scale; }

// Reports round trips/s and the round-trip percentiles (sorts `rtt_ns`).
void Report(const char* impl, std::vector<int64_t>& rtt_ns, Clock::time_point start) {
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(rtt_ns.begin(), rtt_ns.end());
  auto pct = [&](double p) { return rtt_ns[static_cast<size_t>(p * (rtt_ns.size() - 1))] / 1000.0; };
  long n = static_cast<long>(rtt_ns.size());
  char extra[128];
  std::snprintf(extra, sizeof(extra), ", \"rtt_p50_us\": %.1f, \"rtt_p99_us\": %.1f", pct(0.5), pct(0.99));
  bench::g_impl = impl;
  bench::Report("tcp_echo", n, secs, n / secs, "round trips/s", extra);
}

}  // namespace echo_load

void EchoClient(const char* impl, uint16_t port) {
  using namespace echo_load;
  const long rounds = Rounds();
  std::vector<Conn> conns(kConnections);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  std::vector<int64_t> rtt_ns;
  rtt_ns.reserve(static_cast<size_t>(kConnections * rounds));
  auto send_one = [&](Conn& c, int id) {
    c.fill(id);
    Check(send(c.fd, c.sent, kMessage, MSG_NOSIGNAL) == static_cast<ssize_t>(kMessage), "send");
  };
  for (int i = 0; i < kConnections; ++i) {
    conns[i].fd = ConnectBlocking(port);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLET;
    ev.data.u32 = static_cast<uint32_t>(i);
    epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
  }
  auto start = Clock::now();
  for (int i = 0; i < kConnections; ++i) send_one(conns[i], i);
  int active = kConnections;
  epoll_event events[kConnections];
  while (active > 0) {
    int n = epoll_wait(ep, events, kConnections, 10000);
    if (n < 0 && errno == EINTR) continue;
    Check(n > 0, (std::string("tcp_echo: no echo within 10 s from ") + impl).c_str());
    for (int e = 0; e < n; ++e) {
      int id = static_cast<int>(events[e].data.u32);
      Conn& c = conns[id];
      for (;;) {
        ssize_t r = read(c.fd, c.recv + c.got, kMessage - c.got);
        if (r <= 0) {
          Check(r < 0 && errno == EAGAIN, "tcp_echo: connection closed early");
          break;
        }
        c.got += static_cast<size_t>(r);
        if (c.got < kMessage) continue;
        Check(std::memcmp(c.sent, c.recv, kMessage) == 0, "tcp_echo: echoed bytes differ");
        rtt_ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - c.sent_at).count());
        if (++c.done == rounds) {
          --active;
          break;
        }
        send_one(c, id);
      }
    }
  }
  Report(impl, rtt_ns, start);
  for (auto& c : conns) close(c.fd);
  close(ep);
}

#if defined(NANORUN_BENCH_LIBURING)
// The same tcp_echo load from a client that costs less than any server here
// (--client uring): each connection's send and its recv are ring requests,
// and one io_uring_submit_and_wait per turn submits and reaps them all. The
// epoll client makes three syscalls per round trip (send, the read, the read
// that finds EAGAIN), more than the servers make, so on two cores it bounds
// every server alike; this one shows the servers' own ceiling.
void UringEchoClient(const char* impl, uint16_t port) {
  using namespace echo_load;
  const long rounds = Rounds();
  std::vector<Conn> conns(kConnections);
  io_uring ring;
  io_uring_params params{};
  params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  Check(io_uring_queue_init_params(256, &ring, &params) == 0, "client io_uring_queue_init");
  std::vector<int64_t> rtt_ns;
  rtt_ns.reserve(static_cast<size_t>(kConnections * rounds));
  // user_data: the connection's index, shifted, and 1 for a send.
  auto recv_rest = [&](int id) {
    Conn& c = conns[id];
    io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    Check(sqe != nullptr, "client io_uring_get_sqe");
    io_uring_prep_recv(sqe, c.fd, c.recv + c.got, kMessage - c.got, 0);
    io_uring_sqe_set_data64(sqe, static_cast<uint64_t>(id) << 1);
  };
  auto send_one = [&](int id) {
    Conn& c = conns[id];
    c.fill(id);
    io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    Check(sqe != nullptr, "client io_uring_get_sqe");
    io_uring_prep_send(sqe, c.fd, c.sent, kMessage, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, (static_cast<uint64_t>(id) << 1) | 1);
    recv_rest(id);  // Queued behind the send, in the same submission.
  };
  for (int i = 0; i < kConnections; ++i) conns[i].fd = ConnectBlocking(port);
  auto start = Clock::now();
  for (int i = 0; i < kConnections; ++i) send_one(i);
  int active = kConnections;
  while (active > 0) {
    __kernel_timespec ten_s{10, 0};
    io_uring_cqe* cqe = nullptr;
    int rc = io_uring_submit_and_wait_timeout(&ring, &cqe, 1, &ten_s, nullptr);
    if (rc == -EINTR) continue;
    Check(rc >= 0 || rc == -ETIME, "client io_uring_submit_and_wait_timeout");
    Check(rc != -ETIME, (std::string("tcp_echo: no echo within 10 s from ") + impl).c_str());
    unsigned head;
    unsigned seen = 0;
    io_uring_for_each_cqe(&ring, head, cqe) {
      ++seen;
      int id = static_cast<int>(cqe->user_data >> 1);
      Conn& c = conns[id];
      if (cqe->user_data & 1) {
        Check(cqe->res == static_cast<int>(kMessage), "tcp_echo: client send");
        continue;
      }
      Check(cqe->res > 0, "tcp_echo: connection closed early");
      c.got += static_cast<size_t>(cqe->res);
      if (c.got < kMessage) {
        recv_rest(id);
        continue;
      }
      Check(std::memcmp(c.sent, c.recv, kMessage) == 0, "tcp_echo: echoed bytes differ");
      rtt_ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - c.sent_at).count());
      if (++c.done == rounds) {
        --active;
      } else {
        send_one(id);
      }
    }
    io_uring_cq_advance(&ring, seen);
  }
  Report(impl, rtt_ns, start);
  io_uring_queue_exit(&ring);
  for (auto& c : conns) close(c.fd);
}
#endif  // NANORUN_BENCH_LIBURING

// The neutral client for tcp_accept: 20,000 connections, 32 open at a
// time; each connects, sends 16 bytes, waits for their echo, closes.
void AcceptClient(const char* impl, uint16_t port) {
  constexpr int kParallel = 32;
  constexpr size_t kMessage = 16;
  const long total = 20000 / g_scale;
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct Slot {
    int fd = -1;
    size_t got = 0;
    bool sent = false;
    char recv[kMessage];
  };
  std::vector<Slot> slots(kParallel);
  static const char kHello[kMessage + 1] = "0123456789abcdef";
  long started = 0, finished = 0;
  auto open_one = [&](int i) {
    Slot& s = slots[i];
    s = Slot();
    s.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in sin = Loopback(port);
    int r = connect(s.fd, reinterpret_cast<sockaddr*>(&sin), sizeof(sin));
    Check(r == 0 || errno == EINPROGRESS, "tcp_accept: connect");
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
    ev.data.u32 = static_cast<uint32_t>(i);
    epoll_ctl(ep, EPOLL_CTL_ADD, s.fd, &ev);
    ++started;
  };
  auto start = Clock::now();
  for (int i = 0; i < kParallel && started < total; ++i) open_one(i);
  epoll_event events[kParallel];
  while (finished < total) {
    int n = epoll_wait(ep, events, kParallel, 10000);
    if (n < 0 && errno == EINTR) continue;
    Check(n > 0, (std::string("tcp_accept: stalled for 10 s on ") + impl).c_str());
    for (int e = 0; e < n; ++e) {
      int i = static_cast<int>(events[e].data.u32);
      Slot& s = slots[i];
      if (s.fd < 0) continue;
      if (!s.sent && (events[e].events & EPOLLOUT)) {
        Check(send(s.fd, kHello, kMessage, MSG_NOSIGNAL) == static_cast<ssize_t>(kMessage), "tcp_accept: send");
        s.sent = true;
      }
      for (;;) {
        ssize_t r = read(s.fd, s.recv + s.got, kMessage - s.got);
        if (r <= 0) break;
        s.got += static_cast<size_t>(r);
      }
      if (s.got == kMessage) {
        Check(std::memcmp(s.recv, kHello, kMessage) == 0, "tcp_accept: echoed bytes differ");
        close(s.fd);
        s.fd = -1;
        ++finished;
        if (started < total) open_one(i);
      }
    }
  }
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  close(ep);
  bench::g_impl = impl;
  bench::Report("tcp_accept", total, secs, total / secs, "connections/s");
}

// NANORUN_BENCH_SERVERS=name,name (raw_epoll, libuv, raw_uring, raw_uring_multishot, raw_uring_rings, nanorun,
// nanorun_uring, nanorun_uring_ring): only those servers, to profile one (strace -c, perf);
// unset, all of them.
bool Wanted(const char* server) {
  static const char* only = getenv("NANORUN_BENCH_SERVERS");
  if (only == nullptr) return true;
  std::string list = std::string(",") + only + ",";
  return list.find(std::string(",") + server + ",") != std::string::npos;
}

// One run: the client against a fresh raw server, (in net_bench_uv) a fresh
// libuv server, then a fresh nanorun server, back to back, so noise hits all
// alike.
template <void (*Client)(const char*, uint16_t)>
void BothAgainst() {
  if (Wanted("raw_epoll")) {
    RawEchoServer raw;
    Client("raw_epoll", raw.port());
  }
#if defined(NANORUN_BENCH_LIBUV)
  if (Wanted("libuv")) {
    LibuvEchoServer uv;
    Client("libuv", uv.port());
  }
#endif
#if defined(NANORUN_BENCH_LIBURING)
  if (Wanted("raw_uring")) {
    RawUringEchoServer uring;
    Client("raw_uring", uring.port());
  }
  if (Wanted("raw_uring_multishot")) {
    RawUringEchoServer multishot(1, /*multishot_recv=*/true);
    Client("raw_uring_multishot", multishot.port());
  }
  if (Wanted("raw_uring_rings")) {
    RawUringEchoServer rings(bench::g_workers);
    Client("raw_uring_rings", rings.port());
  }
#endif
  if (Wanted("nanorun")) {
    NanorunEchoServer nanorun_server;
    Client("nanorun", nanorun_server.port());
  }
  if (Wanted("nanorun_uring") && UringRuns()) {
    NanorunEchoServer nanorun_uring(nanorun::ReactorBackend::kUring);
    Client("nanorun_uring", nanorun_uring.port());
  }
  if (Wanted("nanorun_uring_ring") && UringRuns()) {
    // Stage two: TCP reads, writes and accepts as ring requests
    // (NANORUN_URING_SOCKET_OPS=on; until session 18 accepts needed =all,
    // measured as nanorun_uring_all).
    setenv("NANORUN_URING_SOCKET_OPS", "on", 1);
    NanorunEchoServer ring(nanorun::ReactorBackend::kUring);
    unsetenv("NANORUN_URING_SOCKET_OPS");
    Client("nanorun_uring_ring", ring.port());
  }
}

}  // namespace

int main(int argc, char** argv) {
#if defined(NANORUN_BENCH_LIBURING)
  // --client uring (net_bench_uring only): tcp_echo's load from the io_uring
  // client. Taken out before RunMain sees the arguments.
  bool uring_client = false;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--client") == 0) {
      Check(std::strcmp(argv[i + 1], "uring") == 0 || std::strcmp(argv[i + 1], "epoll") == 0,
            "--client takes epoll or uring");
      uring_client = std::strcmp(argv[i + 1], "uring") == 0;
      for (int j = i; j + 2 < argc + 1; ++j) argv[j] = argv[j + 2];
      argc -= 2;
      break;
    }
  }
  if (uring_client) {
    return bench::RunMain(argc, argv, "nanorun", &g_scale,
                          {
                              {"tcp_echo", BothAgainst<UringEchoClient>},
                              {"tcp_accept", BothAgainst<AcceptClient>},
                          });
  }
#endif
  // Each run measures the raw baseline (and libuv, in net_bench_uv), then
  // nanorun; the medians of each are printed, and tools/bench/run.sh prints
  // nanorun's ratio to the best of them.
  return bench::RunMain(argc, argv, "nanorun", &g_scale,
                        {
                            {"tcp_echo", BothAgainst<EchoClient>},
                            {"tcp_accept", BothAgainst<AcceptClient>},
                        });
}
