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
#endif  // __linux__
