// TCP reads and writes carried out by the io_uring reactor's ring
// (net/ring_read.h, net/ring_write.h). Reads:
// a read that would wait goes into the ring and gets its bytes; read_some and
// read_exact too; reads pending together complete in order; a stopped read
// loses no byte and reorders none (its late bytes go to the next read); a
// close, a reset and a runtime's destruction settle reads in the ring; a read
// queued by a thread that then exits still completes; more reads at once
// than the ring has receive buffers all complete. Writes: made together they
// leave in order; one larger than the socket's buffers goes out whole; a
// dropped write waiting behind another sends nothing; close fails one in the
// ring. Linux only; each test
// skips where io_uring cannot be used (a seccomp filter, an old kernel).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "nanorun/nanorun.h"
#include "tests/catch.h"
#include "tests/test_util.h"

namespace {

using nanorun::Future;
using nanorun::Runtime;
using nanorun::net::SocketAddr;
using nanorun::net::TcpListener;
using nanorun::net::TcpStream;
using nanorun_test::kSanitized;

// A runtime on the io_uring reactor with its socket operations on (they are
// off by default), or nothing where it cannot run here.
std::optional<Runtime> UringRuntime(size_t workers = 2, const char* ops = "on") {
  setenv("NANORUN_URING_SOCKET_OPS", ops, 1);  // Read when the reactor opens.
  nanorun::RuntimeOptions options;
  options.workers = workers;
  options.reactor = nanorun::ReactorBackend::kUring;
  auto rt = Runtime::create(options);
  if (!rt.ok()) {
    WARN("io_uring is not usable here, skipped: " << rt.status());
    return std::nullopt;
  }
  return std::move(*rt);
}

template <class T>
nanorun::detail::Result<T> BlockWithin(Runtime& rt, Future<T> f) {
  return rt.block_on([&f] { return nanorun::time::timeout(absl::Seconds(10), std::move(f)); });
}

// A plain blocking client socket connected to a nanorun TcpStream.
struct RawPair {
  explicit RawPair(Runtime& rt) {
    auto l = TcpListener::bind(SocketAddr::loopback_v4(0), rt.handle());
    REQUIRE(l.ok());
    listener = *l;
    client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(client >= 0);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(listener.local_addr()->port());
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(connect(client, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) == 0);
    int one = 1;
    setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    auto s = BlockWithin(rt, listener.accept());
    REQUIRE(s.ok());
    server = s->first;
  }
  ~RawPair() {
    if (client >= 0) close(client);
  }
  void send(const std::string& bytes) const {
    REQUIRE(write(client, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
  }
  TcpListener listener;
  TcpStream server;
  int client = -1;
};

uint64_t RingCompletions(Runtime& rt) { return rt.handle().metrics().io_ring_completions; }

void Pause() { std::this_thread::sleep_for(std::chrono::milliseconds(20)); }

TEST_CASE("NANORUN_URING_SOCKET_OPS: off, on and all (the same as on); anything else is refused",
          "[net][uring]") {
  if (!UringRuntime(1, "off")) return;  // io_uring cannot run here (warned).
  for (const char* ops : {"off", "on", "all"}) {
    CAPTURE(ops);
    auto rt = UringRuntime(1, ops);
    REQUIRE(rt);
    bool ring = std::string(ops) != "off";
    // Reads, writes and connects (ring_recv_limit) and accepts together.
    nanorun::reactor::Reactor& reactor =
        nanorun::detail::HandleAccess::executor(rt->handle())->reactor();
    CHECK((reactor.ring_recv_limit() != 0) == ring);
    CHECK(reactor.accepts_by_ring() == ring);
  }
  setenv("NANORUN_URING_SOCKET_OPS", "accepts", 1);
  nanorun::RuntimeOptions options;
  options.reactor = nanorun::ReactorBackend::kUring;
  auto refused = Runtime::create(options);
  unsetenv("NANORUN_URING_SOCKET_OPS");
  REQUIRE(!refused.ok());
  CHECK(refused.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(refused.status().message().find("NANORUN_URING_SOCKET_OPS=accepts") !=
        absl::string_view::npos);
  CHECK(refused.status().message().find("use on (") != absl::string_view::npos);
}

TEST_CASE("ring reads: a read that waits is carried out by the ring and gets its bytes",
          "[net][uring]") {
  auto rt = UringRuntime();
  if (!rt) return;
  RawPair p(*rt);
  uint64_t before = RingCompletions(*rt);
  auto buf = std::make_shared<std::array<char, 64>>();
  Future<size_t> read = p.server.read(absl::MakeSpan(*buf));  // Nothing sent: it waits.
  Pause();
  p.send("hello");
  auto n = BlockWithin(*rt, std::move(read));
  REQUIRE(n.ok());
  CHECK(std::string(buf->data(), *n) == "hello");
  CHECK(RingCompletions(*rt) > before);  // It went through the ring, not read(2).
}

TEST_CASE("ring reads: read_some, large read_some, and read_exact over several arrivals",
          "[net][uring]") {
  auto rt = UringRuntime();
  if (!rt) return;
  RawPair p(*rt);
  Future<std::string> some = p.server.read_some(100);
  Pause();
  p.send("some");
  auto got = BlockWithin(*rt, std::move(some));
  REQUIRE(got.ok());
  CHECK(*got == "some");

  Future<std::string> large = p.server.read_some(1 << 20);  // Over the ring's buffer size.
  Pause();
  p.send(std::string(300, 'L'));
  got = BlockWithin(*rt, std::move(large));
  REQUIRE(got.ok());
  CHECK(*got == std::string(300, 'L'));

  auto exact = std::make_shared<std::array<char, 10>>();
  Future<void> filled = p.server.read_exact(absl::MakeSpan(*exact));
  Pause();
  p.send("abc");
  Pause();
  p.send("defg");
  Pause();
  p.send("hij");
  REQUIRE(BlockWithin(*rt, std::move(filled)).ok());
  CHECK(std::string(exact->data(), 10) == "abcdefghij");

  // The peer's close ends read_exact with OutOfRange, naming what came.
  auto rest = std::make_shared<std::array<char, 8>>();
  Future<void> cut = p.server.read_exact(absl::MakeSpan(*rest));
  Pause();
  p.send("xy");
  Pause();
  shutdown(p.client, SHUT_WR);
  absl::Status ended = BlockWithin(*rt, std::move(cut));
  CHECK(ended.code() == absl::StatusCode::kOutOfRange);
  CHECK(absl::StrContains(ended.message(), "after 2 of 8 bytes"));
}

TEST_CASE("ring reads: reads pending together complete in the order they were made",
          "[net][uring]") {
  auto rt = UringRuntime();
  if (!rt) return;
  RawPair p(*rt);
  std::vector<std::shared_ptr<std::array<char, 8>>> bufs;
  std::vector<Future<size_t>> reads;
  for (int i = 0; i < 4; ++i) {
    bufs.push_back(std::make_shared<std::array<char, 8>>());
    reads.push_back(p.server.read(absl::MakeSpan(*bufs.back())));
  }
  // The second one stops while it waits behind the first: it reads nothing.
  { Future<size_t> dropped = std::move(reads[1]); }
  for (const char* part : {"1", "3", "4"}) {
    Pause();
    p.send(part);
  }
  std::string order;
  for (int i : {0, 2, 3}) {
    auto n = BlockWithin(*rt, std::move(reads[static_cast<size_t>(i)]));
    REQUIRE(n.ok());
    order += std::string(bufs[static_cast<size_t>(i)]->data(), *n);
  }
  CHECK(order == "134");
}

// The race the stash is for: a read is dropped while its recv may be getting
// bytes. Whatever the drop catches it doing, each byte reaches the caller once
// and in order: through the dropped read's own callback (it had completed),
// or through the next read (it had not; its bytes went to the stash, or
// stayed in the socket).
TEST_CASE("ring reads stress: reads dropped while bytes arrive lose no byte and reorder none",
          "[net][uring][stress]") {
  auto rt = UringRuntime();
  if (!rt) return;
  RawPair p(*rt);
  const int kRounds = kSanitized ? 300 : 2000;
  std::mutex mu;
  std::string got;  // Guarded by mu.
  std::string sent;
  std::mt19937 rng(2024);
  auto buf = std::make_shared<std::array<char, 64>>();
  int taken_by_next = 0;
  int dropped_before_send = 0;
  for (int i = 0; i < kRounds; ++i) {
    std::string chunk(1 + rng() % 8, static_cast<char>('a' + i % 26));
    // One round in four drops the read before any byte is sent, so some rounds
    // are sure to leave their bytes to the next read, however the timing of
    // the racing rounds falls on a given machine.
    const bool drop_first = i % 4 == 0;
    {
      Future<void> first = p.server.read(absl::MakeSpan(*buf)).then([&, buf](size_t n) {
        std::lock_guard<std::mutex> lock(mu);
        got.append(buf->data(), n);
      });
      if (rng() % 2) std::this_thread::sleep_for(std::chrono::microseconds(rng() % 200));
      if (drop_first) {
        { Future<void> gone = std::move(first); }
        ++dropped_before_send;
      }
      p.send(chunk);
      sent += chunk;
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 100));
    }  // Dropped: it completed (its callback ran or will), or it read nothing.
    for (int tries = 0; tries < 400; ++tries) {
      {
        std::lock_guard<std::mutex> lock(mu);
        if (got.size() >= sent.size()) break;
      }
      auto more = std::make_shared<std::array<char, 64>>();
      auto n = rt->block_on([&] {
        return nanorun::time::timeout(absl::Milliseconds(5), p.server.read(absl::MakeSpan(*more)));
      });
      if (n.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        got.append(more->data(), *n);
        ++taken_by_next;
      }
    }
    std::lock_guard<std::mutex> lock(mu);
    REQUIRE(got == sent);
  }
  INFO("rounds whose bytes the next read took: " << taken_by_next);
  // Every read dropped before its round's send left those bytes to a next read.
  CHECK(taken_by_next >= dropped_before_send);
}

TEST_CASE("ring reads: close() fails a read in the ring; a reset fails one with the errno text",
          "[net][uring]") {
  auto rt = UringRuntime();
  if (!rt) return;
  {
    RawPair p(*rt);
    auto buf = std::make_shared<std::array<char, 64>>();
    Future<size_t> read = p.server.read(absl::MakeSpan(*buf));
    Pause();
    p.server.close();
    auto n = BlockWithin(*rt, std::move(read));
    CHECK(n.status().code() == absl::StatusCode::kCancelled);
    CHECK(absl::StrContains(n.status().message(), "closed"));
  }
  {
    RawPair p(*rt);
    auto buf = std::make_shared<std::array<char, 64>>();
    Future<size_t> read = p.server.read(absl::MakeSpan(*buf));
    Pause();
    linger hard{1, 0};  // Close with RST.
    setsockopt(p.client, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
    close(p.client);
    p.client = -1;
    auto n = BlockWithin(*rt, std::move(read));
    INFO(n.status());
    CHECK(n.status().code() == absl::StatusCode::kUnavailable);
    CHECK(absl::StrContains(n.status().message(), "reset"));
  }
}

TEST_CASE("ring reads: a read queued by a thread that then exits still completes",
          "[net][uring]") {
  auto rt = UringRuntime();
  if (!rt) return;
  RawPair p(*rt);
  auto buf = std::make_shared<std::array<char, 64>>();
  std::optional<Future<size_t>> read;
  // Off the runtime, the read is submitted by this thread, whose requests the
  // kernel cancels when it exits: the read must ask again, not fail.
  std::thread([&] { read.emplace(p.server.read(absl::MakeSpan(*buf))); }).join();
  Pause();
  p.send("still here");
  auto n = BlockWithin(*rt, std::move(*read));
  INFO(n.status());
  REQUIRE(n.ok());
  CHECK(std::string(buf->data(), *n) == "still here");
}

TEST_CASE("ring reads: more reads at once than the ring has receive buffers all complete",
          "[net][uring][stress]") {
  auto rt = UringRuntime();
  if (!rt) return;
  const int kConnections = 300;  // The reactor has 64 receive buffers.
  std::vector<std::unique_ptr<RawPair>> pairs;
  std::vector<std::shared_ptr<std::array<char, 32>>> bufs;
  std::vector<Future<size_t>> reads;
  for (int i = 0; i < kConnections; ++i) {
    pairs.push_back(std::make_unique<RawPair>(*rt));
    bufs.push_back(std::make_shared<std::array<char, 32>>());
    reads.push_back(pairs.back()->server.read(absl::MakeSpan(*bufs.back())));
  }
  Pause();
  for (int i = 0; i < kConnections; ++i) pairs[static_cast<size_t>(i)]->send("conn " + std::to_string(i));
  for (int i = 0; i < kConnections; ++i) {
    auto n = BlockWithin(*rt, std::move(reads[static_cast<size_t>(i)]));
    REQUIRE(n.ok());
    CHECK(std::string(bufs[static_cast<size_t>(i)]->data(), *n) == "conn " + std::to_string(i));
  }
}

TEST_CASE("ring reads: a runtime destroyed with reads in the ring fails them, leaking nothing",
          "[net][uring]") {
  std::vector<Future<size_t>> reads;
  std::vector<std::shared_ptr<std::array<char, 16>>> bufs;
  std::vector<int> clients;
  {
    auto rt = UringRuntime();
    if (!rt) return;
    for (int i = 0; i < 50; ++i) {
      RawPair p(*rt);
      bufs.push_back(std::make_shared<std::array<char, 16>>());
      reads.push_back(p.server.read(absl::MakeSpan(*bufs.back())));
      clients.push_back(std::exchange(p.client, -1));  // Kept open: the reads wait.
    }
    Pause();
  }  // The runtime goes with 50 reads in its ring.
  for (Future<size_t>& read : reads) {
    auto n = std::move(read).take_result();
    CHECK(n.status().code() == absl::StatusCode::kCancelled);
  }
  for (int fd : clients) close(fd);
}

// Reads exactly `n` bytes from the raw client socket (blocking).
std::string ReadRaw(int fd, size_t n) {
  std::string out(n, '\0');
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, &out[got], n - got);
    if (r <= 0) break;
    got += static_cast<size_t>(r);
  }
  out.resize(got);
  return out;
}

TEST_CASE("ring writes: writes made together leave in order, through the ring", "[net][uring]") {
  auto rt = UringRuntime();
  if (!rt) return;
  RawPair p(*rt);
  uint64_t before = RingCompletions(*rt);
  std::string expected;
  std::vector<Future<void>> writes;
  std::vector<std::string> keep;  // The span writes' buffers (copied anyway).
  for (int i = 0; i < 200; ++i) {
    std::string part = "[" + std::to_string(i) + "]";
    expected += part;
    switch (i % 3) {
      case 0:
        writes.push_back(p.server.write_all(part));
        break;
      case 1:
        keep.push_back(part);
        writes.push_back(p.server.write_all(absl::MakeConstSpan(keep.back())));
        break;
      default:
        writes.push_back(p.server.write_all_vectored(
            std::vector<std::string>{part.substr(0, 1), part.substr(1)}));
    }
  }
  for (Future<void>& w : writes) REQUIRE(BlockWithin(*rt, std::move(w)).ok());
  CHECK(ReadRaw(p.client, expected.size()) == expected);
  CHECK(RingCompletions(*rt) >= before + 200);
}

TEST_CASE("ring writes: a write larger than the socket's buffers goes out whole, in order",
          "[net][uring]") {
  auto rt = UringRuntime();
  if (!rt) return;
  RawPair p(*rt);
  std::string big(8 << 20, '\0');
  std::mt19937 rng(7);
  for (char& c : big) c = static_cast<char>(rng());
  Future<void> first = p.server.write_all(big);
  Future<size_t> second = p.server.write(absl::MakeConstSpan("tail", 4));
  Pause();  // The first is in the ring, short of space; the second waits behind it.
  std::string got = ReadRaw(p.client, big.size() + 4);
  REQUIRE(BlockWithin(*rt, std::move(first)).ok());
  auto n = BlockWithin(*rt, std::move(second));
  REQUIRE(n.ok());
  CHECK(*n == 4);
  CHECK(got.size() == big.size() + 4);
  CHECK((got.substr(0, big.size()) == big));
  CHECK(got.substr(big.size()) == "tail");
}

TEST_CASE("ring writes: stopped while waiting, a write sends nothing; close fails one in the ring",
          "[net][uring]") {
  auto rt = UringRuntime();
  if (!rt) return;
  RawPair p(*rt);
  // The client reads nothing yet: the first write fills the socket's buffers
  // and waits in the ring (32 MiB: more than they hold, autotuned); the
  // second waits behind it and is dropped.
  std::string big(32 << 20, 'a');
  Future<void> first = p.server.write_all(big);
  { Future<void> dropped = p.server.write_all(std::string(1000, 'b')); }
  Pause();
  Future<void> third = p.server.write_all(std::string("c"));
  std::string got = ReadRaw(p.client, big.size() + 1);
  REQUIRE(BlockWithin(*rt, std::move(first)).ok());
  REQUIRE(BlockWithin(*rt, std::move(third)).ok());
  CHECK(got.size() == big.size() + 1);
  CHECK(got.find('b') == std::string::npos);  // The dropped write sent nothing.
  CHECK(got.back() == 'c');

  // More than the socket's buffers can hold even grown (the reads above let
  // autotuning grow them), with nobody reading: it waits in the ring.
  Future<void> stuck = p.server.write_all(std::string(64 << 20, 'd'));
  Pause();
  p.server.close();
  absl::Status closed = BlockWithin(*rt, std::move(stuck));
  INFO(closed);
  CHECK(closed.code() == absl::StatusCode::kCancelled);
}

// Writes stopped while their sends are in the ring, against a slow reader:
// whatever each stop catches, the peer sees each write's bytes as a prefix
// of them (all of them if it succeeded, none if it wrote nothing), in the
// order the writes were made. Each write's bytes have their own value, so
// the stream splits back into writes unambiguously.
TEST_CASE("ring writes stress: writes stopped mid-send leave a prefix each, in order",
          "[net][uring][stress]") {
  auto rt = UringRuntime();
  if (!rt) return;
  RawPair p(*rt);
  const int kWrites = kSanitized ? 150 : 600;
  std::string got;
  std::thread reader([&] {
    char buf[4096];
    for (;;) {
      ssize_t r = read(p.client, buf, sizeof(buf));
      if (r <= 0) return;
      got.append(buf, static_cast<size_t>(r));
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  });
  std::mt19937 rng(99);
  std::vector<size_t> sizes;
  std::vector<bool> whole;
  int stopped = 0;
  for (int i = 0; i < kWrites; ++i) {
    size_t size = 1 + rng() % (256 * 1024);
    sizes.push_back(size);
    Future<void> w = p.server.write_all(std::string(size, static_cast<char>(1 + i % 250)));
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 300));
    w.request_stop();
    absl::Status s = BlockWithin(*rt, std::move(w));
    INFO(s);
    REQUIRE((s.ok() || s.code() == absl::StatusCode::kCancelled));
    whole.push_back(s.ok());
    stopped += s.ok() ? 0 : 1;
  }
  REQUIRE(p.server.shutdown_write().ok());
  reader.join();
  size_t at = 0;
  for (int i = 0; i < kWrites; ++i) {
    char value = static_cast<char>(1 + i % 250);
    size_t run = 0;
    while (at + run < got.size() && got[at + run] == value) ++run;
    INFO("write " << i << ": " << sizes[static_cast<size_t>(i)] << " bytes, " << run << " arrived");
    REQUIRE(run <= sizes[static_cast<size_t>(i)]);
    if (whole[static_cast<size_t>(i)]) REQUIRE(run == sizes[static_cast<size_t>(i)]);
    at += run;
  }
  CHECK(at == got.size());  // Nothing else arrived.
  CHECK(stopped > 0);       // The stops did catch sends.
}


// --- accepts through the ring (ring_accept.h) --------------------------------

// A blocking client connected to `port` on loopback; its local port, which the
// server sees as the peer's, in *local_port.
int ConnectRaw(uint16_t port, uint16_t* local_port = nullptr) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) != 0) {
    int err = errno;
    close(fd);
    errno = err;
    return -1;
  }
  if (local_port != nullptr) {
    sockaddr_in local{};
    socklen_t len = sizeof(local);
    REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0);
    *local_port = ntohs(local.sin_port);
  }
  return fd;
}

TcpListener BindLoopback(Runtime& rt) {
  auto l = TcpListener::bind(SocketAddr::loopback_v4(0), rt.handle());
  REQUIRE(l.ok());
  return *l;
}

uint16_t PortOf(const TcpListener& l) { return l.local_addr()->port(); }

// An accept that waits in vain for a moment: it leaves the ring's request armed.
absl::Status ArmByWaiting(Runtime& rt, const TcpListener& l) {
  return rt.block_on([&] { return nanorun::time::timeout(absl::Milliseconds(5), l.accept()); })
      .status();
}

// Closes the clients; every port they connected from was accepted exactly once.
void ExpectEachOnce(std::vector<uint16_t> want, std::vector<uint16_t> got,
                    const std::vector<int>& clients) {
  for (int fd : clients) close(fd);
  std::sort(want.begin(), want.end());
  std::sort(got.begin(), got.end());
  CHECK(got == want);
}

// Accepts with a short timeout until `want` connections came or one waited
// in vain `idle_limit` times in a row; returns the peers' ports in order.
std::vector<uint16_t> AcceptPorts(Runtime& rt, const TcpListener& l, size_t want,
                                  std::vector<TcpStream>* keep = nullptr) {
  std::vector<uint16_t> ports;
  int idle = 0;
  while (ports.size() < want && idle < 200) {
    auto a = rt.block_on(
        [&] { return nanorun::time::timeout(absl::Milliseconds(10), l.accept()); });
    if (!a.ok()) {
      REQUIRE(a.status().code() == absl::StatusCode::kDeadlineExceeded);
      ++idle;
      continue;
    }
    idle = 0;
    ports.push_back(a->second.port());
    if (keep != nullptr) keep->push_back(a->first);
  }
  return ports;
}

TEST_CASE("ring accepts: connections come through the ring, each usable, with its peer",
          "[net][uring]") {
  // `all` is another name for `on` (it named the set with accepts while they
  // were apart): both accept through the ring.
  for (const char* ops : {"all", "on"}) {
    CAPTURE(ops);
    auto rt = UringRuntime(2, ops);
    if (!rt) return;
    TcpListener l = BindLoopback(*rt);
    // An accept that waits arms the ring's request.
    Future<std::pair<TcpStream, SocketAddr>> first = l.accept();
    Pause();
    uint64_t before = RingCompletions(*rt);
    uint16_t client_port = 0;
    int client = ConnectRaw(PortOf(l), &client_port);
    REQUIRE(client >= 0);
    auto accepted = BlockWithin(*rt, std::move(first));
    REQUIRE(accepted.ok());
    // The ring accepted it, not accept4.
    CHECK(RingCompletions(*rt) > before);
    CHECK(accepted->second.port() == client_port);
    CHECK(accepted->second.ToString() == "127.0.0.1:" + std::to_string(client_port));
    // The stream works both ways.
    REQUIRE(write(client, "ping", 4) == 4);
    auto buf = std::make_shared<std::array<char, 4>>();
    REQUIRE(BlockWithin(*rt, accepted->first.read_exact(absl::MakeSpan(*buf))).ok());
    CHECK(std::string(buf->data(), 4) == "ping");
    REQUIRE(BlockWithin(*rt, accepted->first.write_all(std::string("pong"))).ok());
    char back[4];
    REQUIRE(read(client, back, 4) == 4);
    CHECK(std::string(back, 4) == "pong");
    close(client);

    // Many at once, from a thread, while an accept loop runs: each exactly once.
    constexpr int kClients = 200;
    std::vector<uint16_t> want;
    std::vector<int> clients;
    std::thread connector([&] {
      for (int i = 0; i < kClients; ++i) {
        uint16_t port = 0;
        int fd = ConnectRaw(PortOf(l), &port);
        REQUIRE(fd >= 0);
        clients.push_back(fd);
        want.push_back(port);
      }
    });
    std::vector<uint16_t> got = AcceptPorts(*rt, l, kClients);
    connector.join();
    ExpectEachOnce(std::move(want), std::move(got), clients);
  }
}

// The race a stopped accept must survive: the ring accepted a connection for
// it as it stopped. Whatever the stop catches, every connection is accepted
// exactly once, by the stopped accept (it had completed) or by a later one.
TEST_CASE("ring accepts stress: accepts stopped while connections arrive lose none",
          "[net][uring][stress]") {
  auto rt = UringRuntime(2);
  if (!rt) return;
  TcpListener l = BindLoopback(*rt);
  const int kRounds = kSanitized ? 100 : 400;
  std::mt19937 rng(7);
  std::mutex mu;
  std::vector<uint16_t> got;  // Guarded by mu.
  std::vector<uint16_t> want;
  std::vector<int> clients;
  for (int i = 0; i < kRounds; ++i) {
    {
      Future<void> pending = l.accept().then([&](std::pair<TcpStream, SocketAddr> a) {
        std::lock_guard<std::mutex> lock(mu);
        got.push_back(a.second.port());
      });
      if (rng() % 2) std::this_thread::sleep_for(std::chrono::microseconds(rng() % 300));
      if (i % 4 == 0) { Future<void> gone = std::move(pending); }  // Stopped first.
      uint16_t port = 0;
      int fd = ConnectRaw(PortOf(l), &port);
      REQUIRE(fd >= 0);
      clients.push_back(fd);
      want.push_back(port);
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 200));
    }  // Dropped: it accepted (its callback ran or will), or it took nothing.
    for (int tries = 0; tries < 400; ++tries) {
      {
        std::lock_guard<std::mutex> lock(mu);
        if (got.size() >= want.size()) break;
      }
      auto a = rt->block_on(
          [&] { return nanorun::time::timeout(absl::Milliseconds(5), l.accept()); });
      if (a.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        got.push_back(a->second.port());
      }
    }
    std::lock_guard<std::mutex> lock(mu);
    REQUIRE(got.size() == want.size());
  }
  ExpectEachOnce(std::move(want), std::move(got), clients);
}

TEST_CASE("ring accepts: more connections than wait in the listener's queue are all accepted",
          "[net][uring]") {
  auto rt = UringRuntime(2);
  if (!rt) return;
  TcpListener l = BindLoopback(*rt);
  // Arm the request, then let three times its queue's worth arrive with no
  // accept running: it stops at the limit and the kernel's backlog keeps the rest.
  REQUIRE(ArmByWaiting(*rt, l).code() == absl::StatusCode::kDeadlineExceeded);
  constexpr int kClients = 192;
  std::vector<uint16_t> want;
  std::vector<int> clients;
  for (int i = 0; i < kClients; ++i) {
    uint16_t port = 0;
    int fd = ConnectRaw(PortOf(l), &port);
    REQUIRE(fd >= 0);
    clients.push_back(fd);
    want.push_back(port);
  }
  Pause();
  std::vector<uint16_t> got = AcceptPorts(*rt, l, kClients);
  ExpectEachOnce(std::move(want), std::move(got), clients);
}

// A peer of a connection the listener never accepted sees it end: a reset or
// an end of stream, as for a connection left in the kernel's backlog.
bool PeerSeesEnd(int fd) {
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  char c;
  ssize_t r = read(fd, &c, 1);
  return r == 0 || (r < 0 && errno == ECONNRESET);
}

TEST_CASE("ring accepts: close() refuses connects at once and ends the connections waiting",
          "[net][uring]") {
  auto rt = UringRuntime(2);
  if (!rt) return;
  TcpListener l = BindLoopback(*rt);
  uint16_t port = PortOf(l);
  REQUIRE(ArmByWaiting(*rt, l).code() == absl::StatusCode::kDeadlineExceeded);
  std::vector<int> waiting;
  std::vector<uint16_t> ports;
  for (int i = 0; i < 3; ++i) {
    uint16_t local = 0;
    int fd = ConnectRaw(port, &local);
    REQUIRE(fd >= 0);
    waiting.push_back(fd);
    ports.push_back(local);
  }
  Pause();  // The ring has accepted them: they wait in the listener's queue.
  auto first = BlockWithin(*rt, l.accept());
  REQUIRE(first.ok());  // One is taken; two still wait.
  l.close();
  int late = ConnectRaw(port);
  int late_errno = errno;
  if (late >= 0) close(late);
  CHECK(late < 0);
  CHECK(late_errno == ECONNREFUSED);
  auto after = BlockWithin(*rt, l.accept());
  CHECK(after.status().code() == absl::StatusCode::kCancelled);
  // The two never accepted end; the accepted one is still open.
  int ended = 0;
  for (size_t i = 0; i < waiting.size(); ++i) {
    if (ports[i] != first->second.port()) ended += PeerSeesEnd(waiting[i]) ? 1 : 0;
    close(waiting[i]);
  }
  CHECK(ended == 2);
}

TEST_CASE("ring accepts: a listener dropped while its request is armed stops listening",
          "[net][uring]") {
  auto rt = UringRuntime(2);
  if (!rt) return;
  uint16_t port;
  {
    TcpListener l = BindLoopback(*rt);
    port = PortOf(l);
    CHECK(ArmByWaiting(*rt, l).code() == absl::StatusCode::kDeadlineExceeded);
  }  // The last handle goes, without close().
  int late = ConnectRaw(port);
  int late_errno = errno;
  if (late >= 0) close(late);
  CHECK(late < 0);
  CHECK(late_errno == ECONNREFUSED);
}

TEST_CASE("ring accepts: a runtime destroyed with an accept armed and connections waiting",
          "[net][uring]") {
  std::vector<int> clients;
  {
    auto rt = UringRuntime(2);
    if (!rt) return;
    TcpListener l = BindLoopback(*rt);
    Future<std::pair<TcpStream, SocketAddr>> pending = l.accept();
    Pause();
    for (int i = 0; i < 4; ++i) {
      int fd = ConnectRaw(PortOf(l));
      REQUIRE(fd >= 0);
      clients.push_back(fd);
    }
    Pause();
    rt.reset();  // The runtime goes first; the listener and the pending accept after.
  }
  // Each connection ends: those waiting in the listener's queue closed with
  // it, the one `pending` may have accepted dropped with it.
  int ended = 0;
  for (int fd : clients) {
    ended += PeerSeesEnd(fd) ? 1 : 0;
    close(fd);
  }
  CHECK(ended == 4);
}

}  // namespace

// --- connects through the ring (ring_connect.h) ------------------------------

// A connect made inside a task, so on one of the runtime's workers: the ring
// carries it out where socket operations are on.
Future<TcpStream> ConnectInTask(Runtime& rt, SocketAddr addr) {
  return rt.handle().spawn([addr] { return TcpStream::connect(addr); }).into_future();
}

// How many descriptors this process has open (a connect's socket must not
// outlive a failed or stopped connect).
size_t OpenFdCount() {
  size_t n = 0;
  for (int fd = 0; fd < 4096; ++fd) {
    if (fcntl(fd, F_GETFD) != -1) ++n;
  }
  return n;
}

// A raw listener that takes no more connections: its backlog of 0 is full
// once one waits, so the kernel drops later handshakes' SYNs and a connect
// to it waits (for the SYN's retry, a second away).
struct FullListener {
  FullListener() {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) == 0);
    REQUIRE(listen(fd, 0) == 0);
    socklen_t len = sizeof(sin);
    REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len) == 0);
    port = ntohs(sin.sin_port);
    waiting = ConnectRaw(port);  // Fills the backlog.
    REQUIRE(waiting >= 0);
  }
  ~FullListener() {
    close(waiting);
    close(fd);
  }
  int fd = -1;
  int waiting = -1;
  uint16_t port = 0;
};

TEST_CASE("ring connects: a connect in a task is the ring's; a refused one names its errno",
          "[net][uring]") {
  auto rt = UringRuntime();
  if (!rt) return;
  TcpListener l = BindLoopback(*rt);
  uint64_t before = RingCompletions(*rt);
  auto s = BlockWithin(*rt, ConnectInTask(*rt, SocketAddr::loopback_v4(PortOf(l))));
  REQUIRE(s.ok());
  CHECK(RingCompletions(*rt) > before);
  auto a = BlockWithin(*rt, l.accept());
  REQUIRE(a.ok());
  CHECK(a->second.port() == s->local_addr()->port());
  // The stream is registered and works both ways.
  REQUIRE(BlockWithin(*rt, s->write_all(std::string("ping"))).ok());
  auto buf = std::make_shared<std::array<char, 4>>();
  REQUIRE(BlockWithin(*rt, a->first.read_exact(absl::MakeSpan(*buf))).ok());
  CHECK(std::string(buf->data(), 4) == "ping");
  REQUIRE(BlockWithin(*rt, a->first.write_all(std::string("pong"))).ok());
  REQUIRE(BlockWithin(*rt, s->read_exact(absl::MakeSpan(*buf))).ok());
  CHECK(std::string(buf->data(), 4) == "pong");

  // Refused: nobody listens on the port any more. The socket is closed.
  uint16_t port = PortOf(l);
  l.close();
  size_t fds = OpenFdCount();
  auto refused = BlockWithin(*rt, ConnectInTask(*rt, SocketAddr::loopback_v4(port)));
  REQUIRE(!refused.ok());
  INFO(refused.status());
  CHECK(absl::StrContains(refused.status().message(), "connect 127.0.0.1:" + std::to_string(port)));
  CHECK(absl::StrContains(refused.status().message(), "refused"));
  CHECK(OpenFdCount() == fds);
}

TEST_CASE("ring connects: a connect stopped while its handshake waits closes its socket",
          "[net][uring]") {
  auto rt = UringRuntime();
  if (!rt) return;
  FullListener full;
  size_t fds = OpenFdCount();
  SocketAddr addr = SocketAddr::loopback_v4(full.port);
  auto start = std::chrono::steady_clock::now();
  auto stopped = BlockWithin(*rt, rt->handle()
                                      .spawn([addr] {
                                        return nanorun::time::timeout(absl::Milliseconds(50),
                                                                      TcpStream::connect(addr));
                                      })
                                      .into_future());
  auto waited = std::chrono::steady_clock::now() - start;
  REQUIRE(!stopped.ok());
  INFO(stopped.status());
  CHECK(stopped.status().code() == absl::StatusCode::kDeadlineExceeded);
  // The stop did not wait for the SYN's retry (a second): the cancel ended it.
  CHECK(waited < std::chrono::milliseconds(900));
  // The request completed and the socket is closed.
  for (int i = 0; i < 100 && OpenFdCount() != fds; ++i) Pause();
  CHECK(OpenFdCount() == fds);
  // The runtime still connects.
  TcpListener l = BindLoopback(*rt);
  CHECK(BlockWithin(*rt, ConnectInTask(*rt, SocketAddr::loopback_v4(PortOf(l)))).ok());
}

TEST_CASE("ring connects: a runtime destroyed with connects waiting fails them, leaking nothing",
          "[net][uring]") {
  FullListener full;
  size_t fds = OpenFdCount();
  std::vector<Future<TcpStream>> connects;
  {
    auto rt = UringRuntime();
    if (!rt) return;
    for (int i = 0; i < 8; ++i) {
      connects.push_back(ConnectInTask(*rt, SocketAddr::loopback_v4(full.port)));
    }
    Pause();
  }  // The runtime goes with the connects in its ring.
  for (Future<TcpStream>& c : connects) {
    auto s = std::move(c).take_result();
    INFO(s.status());
    CHECK(s.status().code() == absl::StatusCode::kCancelled);
  }
  CHECK(OpenFdCount() == fds);
}

// Stops racing completions: connects that a timeout of a few microseconds
// stops, some before the kernel answers and some after. Each settles once
// (connected, or DeadlineExceeded) and no socket outlives its connect.
TEST_CASE("ring connects stress: connects stopped as they complete leave no socket behind",
          "[net][uring][stress]") {
  size_t fds = OpenFdCount();
  {
    auto rt = UringRuntime();
    if (!rt) return;
    auto l = TcpListener::bind(SocketAddr::loopback_v4(0), rt->handle());
    REQUIRE(l.ok());
    SocketAddr addr = SocketAddr::loopback_v4(PortOf(*l));
    constexpr int kConnects = 300;
    std::vector<Future<TcpStream>> outcomes;
    for (int i = 0; i < kConnects; ++i) {
      absl::Duration limit = absl::Microseconds(i % 7 == 0 ? 0 : (i * 37) % 150);
      outcomes.push_back(rt->handle()
                             .spawn([addr, limit] {
                               return nanorun::time::timeout(limit, TcpStream::connect(addr));
                             })
                             .into_future());
      // Keep the backlog from filling: take what has arrived now and then.
      if (i % 50 == 49) {
        while (BlockWithin(*rt, nanorun::time::timeout(absl::Milliseconds(2), l->accept())).ok()) {
        }
      }
    }
    int settled = 0;
    for (Future<TcpStream>& f : outcomes) {
      auto s = BlockWithin(*rt, std::move(f));
      INFO(s.status());
      // Connected, or stopped: nothing else.
      CHECK((s.ok() || s.status().code() == absl::StatusCode::kDeadlineExceeded));
      ++settled;
    }
    CHECK(settled == kConnects);
    l->close();
  }
  CHECK(OpenFdCount() == fds);
}
