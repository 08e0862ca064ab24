// Layer: reactor. Parking with a timeout, and wakes from another thread that
// arrive before or during the park, for every backend this machine has (on
// Linux: epoll, and io_uring where it can run); readiness edges, and which
// backend a Choice gets.
#include <atomic>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#ifdef __linux__
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

#include "absl/time/clock.h"
#include "nanorun/reactor/io.h"
#include "nanorun/reactor/reactor.h"
#include "tests/catch.h"

using nanorun::reactor::Backend;
using nanorun::reactor::Choice;
using nanorun::reactor::Direction;
using nanorun::reactor::IoRegistration;
using nanorun::reactor::Reactor;

namespace {

std::unique_ptr<Reactor> Make(Backend backend) {
  Choice choice;
  choice.backend = backend;
  std::unique_ptr<Reactor> r;
  absl::Status s = Reactor::Create(choice, &r);
  INFO(s.ToString());
  REQUIRE(s.ok());
  return r;
}

bool Creates(Backend backend) {
  Choice choice;
  choice.backend = backend;
  std::unique_ptr<Reactor> probe;
  return Reactor::Create(choice, &probe).ok();
}

// The backends to run each test against: the default everywhere (the only
// one off Linux, and with the fallback build), plus epoll and io_uring
// where this build has them and io_uring can run.
std::vector<Backend> Backends() {
  std::vector<Backend> out = {Backend::kDefault};
  for (Backend b : {Backend::kEpoll, Backend::kUring}) {
    if (Creates(b)) out.push_back(b);
  }
  return out;
}

// The same, only those with I/O (not the fallback). Used by the Linux tests.
[[maybe_unused]] std::vector<Backend> IoBackends() {
  std::vector<Backend> out;
  for (Backend b : {Backend::kEpoll, Backend::kUring}) {
    if (Creates(b)) out.push_back(b);
  }
  if (out.empty() && std::string(Make(Backend::kDefault)->name()) != "fallback") {
    out.push_back(Backend::kDefault);  // IOCP.
  }
  return out;
}

}  // namespace

// Each test below runs once per backend (GENERATE), named in its output.
#define FOR_EACH_BACKEND(r)                            \
  Backend backend_ = GENERATE(from_range(Backends())); \
  std::unique_ptr<Reactor> r = Make(backend_);         \
  INFO("backend " << r->name())
// The same over the backends with I/O (none in the fallback build).
#define FOR_EACH_IO_BACKEND(r)                                              \
  std::vector<Backend> io_backends_ = IoBackends();                         \
  if (io_backends_.empty()) return;                                         \
  Backend backend_ = GENERATE_COPY(from_range(io_backends_));               \
  std::unique_ptr<Reactor> r = Make(backend_);                              \
  INFO("backend " << r->name())

TEST_CASE("park returns after its timeout", "[reactor]") {
  FOR_EACH_BACKEND(r);
  // Never early, but for a spurious return (allowed: a signal, or task work
  // the kernel ran for this thread after a ring was torn down); so of three
  // parks, one at least lasts the whole timeout.
  bool lasted = false;
  for (int i = 0; i < 3 && !lasted; ++i) {
    absl::Time start = absl::Now();
    r->park(absl::Milliseconds(20));
    lasted = absl::Now() - start >= absl::Milliseconds(19);
  }
  CHECK(lasted);
  r->park(absl::ZeroDuration());  // Just looks; returns.
}

TEST_CASE("a wake before park is not lost", "[reactor]") {
  FOR_EACH_BACKEND(r);
  r->wake();
  absl::Time start = absl::Now();
  r->park(absl::Seconds(30));
  CHECK(absl::Now() - start < absl::Seconds(10));
}

TEST_CASE("a wake from another thread ends a park", "[reactor]") {
  FOR_EACH_BACKEND(r);
  for (int i = 0; i < 100; ++i) {
    std::atomic<bool> returned{false};
    std::thread parker([&] {
      r->park(absl::InfiniteDuration());
      returned = true;
    });
    r->wake();
    parker.join();  // Hangs (and the test times out) if the wake was lost.
    CHECK(returned.load());
  }
  CHECK(std::string(r->name()).size() > 0);
}

TEST_CASE("a registration made after close_all starts closed", "[reactor][io]") {
  // Shutdown closes every registration; a socket registered while it runs must
  // not slip past and leave its operations waiting forever.
  nanorun::reactor::IoSlab slab;
  nanorun::reactor::IoRegistration* before = slab.allocate(100);
  REQUIRE(before != nullptr);
  CHECK(!before->is_closed());
  slab.close_all();
  CHECK(before->is_closed());
  nanorun::reactor::IoRegistration* after = slab.allocate(101);
  REQUIRE(after != nullptr);
  CHECK(after->is_closed());
  slab.release(before);
  slab.release(after);
}

namespace {

// Sets (or with null, removes) an environment variable, on POSIX and Windows.
void SetEnv(const char* name, const char* value) {
#ifdef _WIN32
  _putenv_s(name, value != nullptr ? value : "");
#else
  if (value != nullptr) {
    setenv(name, value, 1);
  } else {
    unsetenv(name);
  }
#endif
}

}  // namespace

TEST_CASE("an unknown NANORUN_REACTOR is refused, naming the known ones", "[reactor]") {
  const char* before = std::getenv("NANORUN_REACTOR");
  std::string saved = before != nullptr ? before : "";
  SetEnv("NANORUN_REACTOR", "kqueue");
  std::unique_ptr<Reactor> r;
  absl::Status s = Reactor::Create(&r);
  SetEnv("NANORUN_REACTOR", before != nullptr ? saved.c_str() : nullptr);
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK(s.message().find("epoll, uring or auto") != absl::string_view::npos);
  CHECK(r == nullptr);
}

#ifdef __linux__
namespace {

// Parks (briefly) until `r`'s sequence in `dir` passes `seen`; false if it
// does not within five seconds.
bool ParkUntilEdge(Reactor& reactor, IoRegistration& r, Direction dir, uint64_t seen) {
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (r.ready_seq(dir) == seen) {
    if (absl::Now() > deadline) return false;
    reactor.park(absl::Milliseconds(10));
  }
  return true;
}

struct SocketPair {
  int fd[2] = {-1, -1};
  SocketPair() { REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fd) == 0); }
  ~SocketPair() {
    for (int f : fd) {
      if (f >= 0) close(f);
    }
  }
};

}  // namespace

TEST_CASE("readiness edges reach a registration", "[reactor][io]") {
  FOR_EACH_IO_BACKEND(r);
  SocketPair pair;
  absl::StatusOr<IoRegistration*> reg = r->register_io(pair.fd[0]);
  REQUIRE(reg.ok());
  IoRegistration& io = **reg;
  CHECK(r->io_registrations() == 1);
  // A fresh socket is writable: its first report says so.
  CHECK(ParkUntilEdge(*r, io, Direction::kWrite, 0));
  // Each byte the peer writes is an edge for reads (edge-triggered: read or
  // not, the next write brings another).
  for (int i = 0; i < 3; ++i) {
    uint64_t seen = io.ready_seq(Direction::kRead);
    REQUIRE(write(pair.fd[1], "x", 1) == 1);
    CHECK(ParkUntilEdge(*r, io, Direction::kRead, seen));
  }
  // Nothing new: no edge (an idle socket costs nothing).
  uint64_t read_seq = io.ready_seq(Direction::kRead);
  r->park(absl::Milliseconds(30));
  CHECK(io.ready_seq(Direction::kRead) == read_seq);
  // The peer's close is a persistent readable condition.
  close(pair.fd[1]);
  pair.fd[1] = -1;
  CHECK(ParkUntilEdge(*r, io, Direction::kRead, read_seq));
  CHECK(!io.edges_cover_reads());
  r->deregister_io(&io);
  CHECK(r->io_registrations() == 0);
}

TEST_CASE("a registration made on a thread that has exited still gets edges", "[reactor][io]") {
  // io_uring runs a poll's wakeup on the thread that submitted it; the
  // io_uring reactor lets only parkers submit, so a short-lived thread's
  // registration (this one, and the one made by a parker that then exited)
  // must still be delivered.
  FOR_EACH_IO_BACKEND(r);
  SocketPair a, b;
  IoRegistration* from_plain_thread = nullptr;
  IoRegistration* from_parker = nullptr;
  std::thread([&] {
    absl::StatusOr<IoRegistration*> reg = r->register_io(a.fd[0]);
    REQUIRE(reg.ok());
    from_plain_thread = *reg;
  }).join();
  std::thread([&] {
    r->park(absl::ZeroDuration());  // Now a parker, as a worker is.
    absl::StatusOr<IoRegistration*> reg = r->register_io(b.fd[0]);
    REQUIRE(reg.ok());
    from_parker = *reg;
  }).join();
  for (IoRegistration* io : {from_plain_thread, from_parker}) {
    uint64_t seen = io->ready_seq(Direction::kRead);
    REQUIRE(write(io == from_parker ? b.fd[1] : a.fd[1], "y", 1) == 1);
    CHECK(ParkUntilEdge(*r, *io, Direction::kRead, seen));
  }
  r->deregister_io(from_plain_thread);
  r->deregister_io(from_parker);
}

TEST_CASE("after deregister and close, the peer sees the end of the stream", "[reactor][io]") {
  // A poll still pending would hold the file open, and the peer would wait.
  FOR_EACH_IO_BACKEND(r);
  SocketPair pair;
  absl::StatusOr<IoRegistration*> reg = r->register_io(pair.fd[0]);
  REQUIRE(reg.ok());
  r->park(absl::Milliseconds(1));
  r->deregister_io(*reg);
  close(pair.fd[0]);
  pair.fd[0] = -1;
  char byte;
  CHECK(read(pair.fd[1], &byte, 1) == 0);  // EOF now, not EAGAIN.
}

TEST_CASE("many registrations, edges and removals", "[reactor][io][stress]") {
  // More edges in one park than one harvest takes, registrations released
  // with edges in flight, and slots reused: no edge reaches the wrong one.
  FOR_EACH_IO_BACKEND(r);
  constexpr int kPairs = 200;
  std::vector<std::unique_ptr<SocketPair>> pairs;
  std::vector<IoRegistration*> regs;
  for (int i = 0; i < kPairs; ++i) {
    pairs.push_back(std::make_unique<SocketPair>());
    absl::StatusOr<IoRegistration*> reg = r->register_io(pairs.back()->fd[0]);
    REQUIRE(reg.ok());
    regs.push_back(*reg);
  }
  for (int round = 0; round < 5; ++round) {
    std::vector<uint64_t> seen;
    for (int i = 0; i < kPairs; ++i) {
      seen.push_back(regs[i]->ready_seq(Direction::kRead));
      REQUIRE(write(pairs[i]->fd[1], "z", 1) == 1);
    }
    for (int i = 0; i < kPairs; ++i) {
      CHECK(ParkUntilEdge(*r, *regs[i], Direction::kRead, seen[i]));
    }
    // Replace every other registration while its last edge may be in flight.
    for (int i = round % 2; i < kPairs; i += 2) {
      REQUIRE(write(pairs[i]->fd[1], "w", 1) == 1);
      r->deregister_io(regs[i]);
      pairs[i] = std::make_unique<SocketPair>();
      absl::StatusOr<IoRegistration*> reg = r->register_io(pairs[i]->fd[0]);
      REQUIRE(reg.ok());
      regs[i] = *reg;
    }
    // Fresh sockets have nothing to read, so any read edge they got was
    // meant for the socket whose slot (or fd number) they reuse.
    std::vector<uint64_t> fresh;
    for (int i = round % 2; i < kPairs; i += 2) fresh.push_back(regs[i]->ready_seq(Direction::kRead));
    r->park(absl::Milliseconds(5));
    r->park(absl::Milliseconds(5));
    for (int i = round % 2, k = 0; i < kPairs; i += 2, ++k) {
      CHECK(regs[i]->ready_seq(Direction::kRead) == fresh[k]);
    }
  }
  for (IoRegistration* io : regs) r->deregister_io(io);
  CHECK(r->io_registrations() == 0);
}
// Completion operations (RingOp): only io_uring has them; they complete in
// park() with their bytes, a cancel leaves unread bytes in the socket, and
// shutdown completes every one still queued before it returns.
namespace {

struct Recorder : nanorun::reactor::RingOp {
  int calls = 0;
  int32_t result = 0;
  std::string data;
  // Set once the completion is recorded, for a thread other than the
  // harvester to wait on; `total` (if set) counts completions.
  std::atomic<int> finished{0};
  std::atomic<int>* total = nullptr;
  Recorder() {
    done = [](RingOp* op, int32_t result, const char* data) {
      auto* self = static_cast<Recorder*>(op);
      ++self->calls;
      self->result = result;
      if (data != nullptr && result > 0) self->data.assign(data, static_cast<size_t>(result));
      if (self->total != nullptr) self->total->fetch_add(1);
      self->finished.store(1, std::memory_order_release);
    };
  }
};

// Parks (briefly) until `op` completed; false if it does not within 5 s.
bool ParkUntilDone(Reactor& reactor, const Recorder& op) {
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (op.calls == 0) {
    if (absl::Now() > deadline) return false;
    reactor.park(absl::Milliseconds(10));
  }
  return true;
}

}  // namespace

TEST_CASE("ring ops: only io_uring queues them; the others say no", "[reactor][io]") {
  FOR_EACH_IO_BACKEND(r);
  SocketPair pair;
  Recorder op;
  bool queued = r->queue_recv(pair.fd[0], 16, /*poll_first=*/false, &op);
  CHECK(queued == (std::string(r->name()) == "io_uring"));
  if (queued) r->cancel(&op);
  r->close_all_io();
  CHECK(r->ring_ops_in_flight() == 0);
  CHECK(op.calls == (queued ? 1 : 0));
}

TEST_CASE("ring ops: a send and a recv complete in park with their bytes", "[reactor][io]") {
  if (!Creates(Backend::kUring)) return;
  std::unique_ptr<Reactor> r = Make(Backend::kUring);
  SocketPair pair;
  Recorder recv, send;
  const std::string message = "ring ops";
  REQUIRE(r->queue_recv(pair.fd[1], 64, /*poll_first=*/false, &recv));
  REQUIRE(r->queue_send(pair.fd[0], message.data(), message.size(), &send));
  CHECK(r->ring_ops_in_flight() == 2);
  CHECK(ParkUntilDone(*r, send));
  CHECK(ParkUntilDone(*r, recv));
  CHECK(send.result == static_cast<int32_t>(message.size()));
  CHECK(recv.result == static_cast<int32_t>(message.size()));
  CHECK(recv.data == message);
  CHECK(r->ring_ops_in_flight() == 0);
  // At most `max` bytes; the rest stays for the next read.
  REQUIRE(write(pair.fd[0], "abcdef", 6) == 6);
  Recorder small;
  REQUIRE(r->queue_recv(pair.fd[1], 4, /*poll_first=*/false, &small));
  CHECK(ParkUntilDone(*r, small));
  CHECK(small.data == "abcd");
  char rest[8] = {};
  CHECK(read(pair.fd[1], rest, sizeof(rest)) == 2);
  // End of stream is a result of 0.
  shutdown(pair.fd[0], SHUT_WR);
  Recorder eof;
  REQUIRE(r->queue_recv(pair.fd[1], 4, /*poll_first=*/false, &eof));
  CHECK(ParkUntilDone(*r, eof));
  CHECK(eof.result == 0);
  CHECK(eof.calls == 1);
}

TEST_CASE("ring ops: a cancelled recv read nothing, and the bytes stay in the socket",
          "[reactor][io]") {
  if (!Creates(Backend::kUring)) return;
  std::unique_ptr<Reactor> r = Make(Backend::kUring);
  SocketPair pair;
  Recorder recv;
  REQUIRE(r->queue_recv(pair.fd[1], 64, /*poll_first=*/false, &recv));
  r->submit_queued();
  r->park(absl::ZeroDuration());
  CHECK(recv.calls == 0);  // Waiting for data.
  r->cancel(&recv);
  CHECK(ParkUntilDone(*r, recv));
  CHECK(recv.result == -ECANCELED);
  CHECK(recv.calls == 1);
  REQUIRE(write(pair.fd[0], "kept", 4) == 4);
  char later[8] = {};
  CHECK(read(pair.fd[1], later, sizeof(later)) == 4);
  CHECK(std::string(later) == "kept");
}

TEST_CASE("ring ops: shutdown completes every queued one before it returns", "[reactor][io]") {
  if (!Creates(Backend::kUring)) return;
  std::unique_ptr<Reactor> r = Make(Backend::kUring);
  constexpr int kOps = 100;
  std::vector<std::unique_ptr<SocketPair>> pairs;
  std::vector<Recorder> ops(kOps);
  for (int i = 0; i < kOps; ++i) {
    pairs.push_back(std::make_unique<SocketPair>());
    REQUIRE(r->queue_recv(pairs.back()->fd[1], 16, /*poll_first=*/false, &ops[static_cast<size_t>(i)]));
    if (i % 3 == 0) r->submit_queued();  // Some handed over, some still queued.
  }
  CHECK(r->ring_ops_in_flight() == static_cast<size_t>(kOps));
  r->close_all_io();
  CHECK(r->ring_ops_in_flight() == 0);
  for (const Recorder& op : ops) {
    CHECK(op.calls == 1);
    CHECK(op.result == -ECANCELED);
  }
  // Destroying a reactor with operations queued completes them too.
  std::unique_ptr<Reactor> other = Make(Backend::kUring);
  Recorder left;
  SocketPair pair;
  REQUIRE(other->queue_recv(pair.fd[1], 16, /*poll_first=*/false, &left));
  other.reset();
  CHECK(left.calls == 1);
}

TEST_CASE("ring ops stress: threads queue while one parks; every op completes once, bytes intact",
          "[reactor][io][stress]") {
  if (!Creates(Backend::kUring)) return;
  std::unique_ptr<Reactor> r = Make(Backend::kUring);
  constexpr int kThreads = 2;
  constexpr int kRounds = 2000;
  std::atomic<bool> stop{false};
  std::atomic<int> completed{0};
  // The parker harvests; the queueing threads wait for their own ops.
  std::thread parker([&] {
    while (!stop.load(std::memory_order_acquire)) r->park(absl::Milliseconds(5));
  });
  std::atomic<int> bad{0};
  // Made here: SocketPair REQUIREs, and Catch's assertions are not thread-safe.
  SocketPair pairs[kThreads];
  std::vector<std::thread> threads;
  // io_uring ties a request to the thread whose syscall handed it to the
  // kernel, and cancels it if that thread exits first. One thread's
  // submit_queued() hands over the other's entries too, so the thread that
  // finishes its rounds first can leave the other's ops -ECANCELED, having
  // done nothing; like net's reads and writes, they are queued again.
  std::atomic<int> requeued{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      SocketPair& pair = pairs[t];
      auto wait = [](const Recorder& op) {
        absl::Time deadline = absl::Now() + absl::Seconds(5);
        while (!op.finished.load(std::memory_order_acquire)) {
          // An op that never completes would dangle in the ring.
          if (absl::Now() > deadline) std::abort();
          std::this_thread::yield();
        }
      };
      for (int i = 0; i < kRounds; ++i) {
        std::string message = "t" + std::to_string(t) + "-" + std::to_string(i);
        Recorder send, recv;
        send.total = recv.total = &completed;
        auto queue_recv = [&] { return r->queue_recv(pair.fd[1], 64, false, &recv); };
        auto queue_send = [&] {
          return r->queue_send(pair.fd[0], message.data(), message.size(), &send);
        };
        if (!queue_recv() || !queue_send()) {
          ++bad;
          return;
        }
        r->submit_queued();
        wait(send);
        wait(recv);
        for (Recorder* op : {&send, &recv}) {
          while (op->result == -ECANCELED) {
            ++requeued;
            op->finished.store(0, std::memory_order_relaxed);
            if (!(op == &send ? queue_send() : queue_recv())) {
              ++bad;
              return;
            }
            r->submit_queued();
            wait(*op);
          }
        }
        if (send.result != static_cast<int32_t>(message.size()) || recv.data != message) ++bad;
      }
    });
  }
  for (auto& t : threads) t.join();
  stop.store(true, std::memory_order_release);
  r->wake();
  parker.join();
  CHECK(bad == 0);
  CHECK(completed == kThreads * kRounds * 2 + requeued);
  CHECK(r->ring_ops_in_flight() == 0);
}
#endif  // __linux__
