// nanorun::net's Unix-domain sockets over real sockets in a temporary
// directory: UnixListener/UnixStream round trips, abstract names, paths too
// long for sun_path, the socket file's life (stale files, removal, a newer
// server's file left alone), a full backlog, pairs, vectored writes,
// UnixDatagram, adopting inherited fds, cancellation and teardown. Linux only.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "nanorun/nanorun.h"
#include "tests/catch.h"
#include "tests/test_util.h"

namespace {

using nanorun::Future;
using nanorun::Runtime;
using nanorun::net::UnixDatagram;
using nanorun::net::UnixListener;
using nanorun::net::UnixListenOptions;
using nanorun::net::UnixStream;
namespace ntime = nanorun::time;
using nanorun_test::kSanitized;

// A fresh directory for one test's socket files, removed with them after.
struct TempDir {
  TempDir() {
    const char* base = getenv("TEST_TMPDIR");
    std::string pattern = absl::StrCat(base != nullptr ? base : "/tmp", "/unixXXXXXX");
    // TEST_TMPDIR can be long: sun_path holds 107 bytes.
    if (pattern.size() > 60) pattern = "/tmp/nanorun-unixXXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    REQUIRE(mkdtemp(buf.data()) != nullptr);
    path = buf.data();
  }
  ~TempDir() {
    std::string cmd = absl::StrCat("rm -rf '", path, "'");
    int rc = system(cmd.c_str());  // Best effort: a leftover temp dir is harmless.
    (void)rc;
  }
  std::string file(const std::string& name) const { return absl::StrCat(path, "/", name); }
  std::string path;
};

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

std::string Abstract(const std::string& name) { return std::string("\0", 1) + name; }

// Echoes every connection on `listener` until it closes.
void ServeEcho(Runtime& rt, UnixListener listener) {
  (void)rt.handle().spawn([listener] {
    return nanorun::repeat([listener] {
      return listener.accept().then_result([](absl::StatusOr<UnixStream> conn) {
        if (!conn.ok()) return true;
        UnixStream c = *conn;
        (void)nanorun::spawn([c] {
          return nanorun::repeat([c] {
            return c.read_some(4096).then([c](std::string data) -> Future<bool> {
              if (data.empty()) return nanorun::make_ready_future(true);
              return c.write_all(std::move(data)).then([] { return false; });
            });
          });
        });  // Dropping the JoinHandle detaches the task.
        return false;
      });
    });
  });
}

TEST_CASE("Unix: connect, accept, a round trip each way; paths and peer credentials") {
  Runtime rt = Runtime::with_workers(2);
  TempDir dir;
  std::string path = dir.file("echo.sock");
  auto listener = UnixListener::bind(path, rt.handle());
  REQUIRE(listener.ok());
  CHECK(Exists(path));
  CHECK(*listener->local_path() == path);
  Future<UnixStream> accepted = listener->accept();
  auto client = rt.block_on(UnixStream::connect(path, rt.handle()));
  REQUIRE(client.ok());
  auto server = rt.block_on(std::move(accepted));
  REQUIRE(server.ok());
  CHECK(*server->local_path() == path);
  CHECK(client->local_path()->empty());  // The connecting end is unnamed.
  CHECK(*client->peer_path() == path);
  auto creds = server->peer_credentials();
  REQUIRE(creds.ok());
  CHECK(creds->pid == getpid());
  CHECK(creds->uid == getuid());

  REQUIRE(rt.block_on(client->write_all(std::string("ping"))).ok());
  CHECK(*rt.block_on(server->read_some(100)) == "ping");
  REQUIRE(rt.block_on(server->write_all(std::string("pong"))).ok());
  char buf[4];
  REQUIRE(rt.block_on(client->read_exact(absl::MakeSpan(buf, 4))).ok());
  CHECK(std::string(buf, 4) == "pong");
  REQUIRE(client->shutdown_write().ok());
  CHECK(rt.block_on(server->read_some(100))->empty());  // End of stream.
}

TEST_CASE("Unix: an abstract name makes no file and works like a path") {
  Runtime rt = Runtime::with_workers(2);
  std::string name = Abstract(absl::StrCat("nanorun-test-", getpid()));
  auto listener = UnixListener::bind(name, rt.handle());
  REQUIRE(listener.ok());
  CHECK(*listener->local_path() == name);
  ServeEcho(rt, *listener);
  auto client = rt.block_on(UnixStream::connect(name, rt.handle()));
  REQUIRE(client.ok());
  REQUIRE(rt.block_on(client->write_all(std::string("abstract"))).ok());
  char buf[8];
  REQUIRE(rt.block_on(client->read_exact(absl::MakeSpan(buf, 8))).ok());
  CHECK(std::string(buf, 8) == "abstract");
  // A second bind of the same live name is refused, naming it as "@...".
  auto again = UnixListener::bind(name, rt.handle());
  CHECK(again.status().code() == absl::StatusCode::kAlreadyExists);
  CHECK(absl::StrContains(again.status().message(), "@nanorun-test-"));
}

TEST_CASE("Unix: bad paths get InvalidArgument before any syscall, saying why") {
  Runtime rt = Runtime::with_workers(1);
  std::string long_path = "/tmp/" + std::string(200, 'x') + ".sock";
  auto too_long = UnixListener::bind(long_path, rt.handle());
  INFO(too_long.status().ToString());
  CHECK(too_long.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(absl::StrContains(too_long.status().message(), "sun_path holds at most 107"));
  CHECK(absl::StrContains(too_long.status().message(), "210 bytes"));
  // 107 bytes is the limit for a file path; 108 is one too many.
  CHECK(UnixListener::bind("/tmp/" + std::string(103, 'y'), rt.handle()).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(rt.block_on(UnixStream::connect(long_path, rt.handle())).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(UnixListener::bind("", rt.handle()).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(UnixListener::bind(std::string("/tmp/a\0b", 8), rt.handle()).status().code() ==
        absl::StatusCode::kInvalidArgument);
  UnixListenOptions zero;
  zero.backlog = 0;
  CHECK(UnixListener::bind("/tmp/x.sock", zero, rt.handle()).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(UnixListener::bind("/tmp/x.sock").status().code() == absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("Unix: connect to nothing is NotFound, to a dead socket Unavailable") {
  Runtime rt = Runtime::with_workers(1);
  TempDir dir;
  auto missing = rt.block_on(UnixStream::connect(dir.file("none.sock"), rt.handle()));
  CHECK(missing.status().code() == absl::StatusCode::kNotFound);
  CHECK(absl::StrContains(missing.status().message(), "none.sock"));
  UnixListenOptions keep;
  keep.remove_on_close = false;
  { auto l = UnixListener::bind(dir.file("dead.sock"), keep, rt.handle()); REQUIRE(l.ok()); }
  CHECK(Exists(dir.file("dead.sock")));
  auto refused = rt.block_on(UnixStream::connect(dir.file("dead.sock"), rt.handle()));
  CHECK(refused.status().code() == absl::StatusCode::kUnavailable);
}

TEST_CASE("Unix: an existing file is never removed silently; a stale socket only when asked") {
  Runtime rt = Runtime::with_workers(2);
  TempDir dir;
  std::string path = dir.file("s.sock");
  UnixListenOptions keep;
  keep.remove_on_close = false;
  { REQUIRE(UnixListener::bind(path, keep, rt.handle()).ok()); }  // Leaves a stale file.

  auto refused = UnixListener::bind(path, rt.handle());
  CHECK(refused.status().code() == absl::StatusCode::kAlreadyExists);
  CHECK(absl::StrContains(refused.status().message(), "replace_stale_socket"));
  CHECK(Exists(path));

  UnixListenOptions replace;
  replace.replace_stale_socket = true;
  auto live = UnixListener::bind(path, replace, rt.handle());
  REQUIRE(live.ok());
  // A live listener's file is not stale: even with the option, no.
  auto second = UnixListener::bind(path, replace, rt.handle());
  CHECK(second.status().code() == absl::StatusCode::kAlreadyExists);
  CHECK(absl::StrContains(second.status().message(), "listening"));
  ServeEcho(rt, *live);
  auto client = rt.block_on(UnixStream::connect(path, rt.handle()));
  CHECK(client.ok());  // The first listener still has its file.

  // Not a socket: never removed, whatever the options.
  std::string plain = dir.file("plain.txt");
  FILE* f = fopen(plain.c_str(), "w");
  REQUIRE(f != nullptr);
  fputs("keep me", f);
  fclose(f);
  auto not_socket = UnixListener::bind(plain, replace, rt.handle());
  CHECK(not_socket.status().code() == absl::StatusCode::kAlreadyExists);
  CHECK(absl::StrContains(not_socket.status().message(), "not a socket"));
  CHECK(Exists(plain));
}

TEST_CASE("Unix: the listener removes its file on close or drop, but not a newer server's") {
  Runtime rt = Runtime::with_workers(2);
  TempDir dir;
  std::string path = dir.file("r.sock");
  {
    auto l = UnixListener::bind(path, rt.handle());
    REQUIRE(l.ok());
    CHECK(Exists(path));
  }
  CHECK_FALSE(Exists(path));  // Dropped.
  auto closed = UnixListener::bind(path, rt.handle());
  REQUIRE(closed.ok());
  Future<UnixStream> pending = closed->accept();
  closed->close();
  CHECK_FALSE(Exists(path));
  CHECK(rt.block_on(std::move(pending)).status().code() == absl::StatusCode::kCancelled);

  // An old listener whose file was replaced by a newer server leaves the
  // newer one's file alone when it goes.
  auto old_server = UnixListener::bind(path, rt.handle());
  REQUIRE(old_server.ok());
  REQUIRE(unlink(path.c_str()) == 0);
  auto new_server = UnixListener::bind(path, rt.handle());
  REQUIRE(new_server.ok());
  *old_server = UnixListener();
  CHECK(Exists(path));
  ServeEcho(rt, *new_server);
  CHECK(rt.block_on(UnixStream::connect(path, rt.handle())).ok());
}

TEST_CASE("Unix: a full backlog makes connect wait, not fail; a timeout abandons it") {
  Runtime rt = Runtime::with_workers(2);
  TempDir dir;
  std::string path = dir.file("b.sock");
  UnixListenOptions small;
  small.backlog = 1;
  auto listener = UnixListener::bind(path, small, rt.handle());
  REQUIRE(listener.ok());
  // Linux queues backlog + 1 connections; the rest get EAGAIN and retry.
  constexpr int kClients = 6;
  std::vector<Future<UnixStream>> connects;
  for (int i = 0; i < kClients; ++i) connects.push_back(UnixStream::connect(path, rt.handle()));
  REQUIRE(rt.block_on([] { return ntime::sleep(absl::Milliseconds(30)); }).ok());
  int waiting = 0;
  for (auto& c : connects) waiting += c.is_ready() ? 0 : 1;
  CHECK(waiting >= kClients - 3);
  auto timed_out = rt.block_on(
      [&] { return ntime::timeout(absl::Milliseconds(20), UnixStream::connect(path, rt.handle())); });
  CHECK(timed_out.status().code() == absl::StatusCode::kDeadlineExceeded);
  ServeEcho(rt, *listener);
  for (auto& c : connects) {
    auto stream = rt.block_on(std::move(c));
    REQUIRE(stream.ok());
    REQUIRE(rt.block_on(stream->write_all(std::string("x"))).ok());
    CHECK(*rt.block_on(stream->read_some(1)) == "x");
  }
}

TEST_CASE("Unix: pair, a stopped read takes nothing, vectored writes, large and small read_some") {
  Runtime rt = Runtime::with_workers(2);
  auto ends = UnixStream::pair(rt.handle());
  REQUIRE(ends.ok());
  UnixStream a = ends->first, b = ends->second;
  { Future<std::string> dropped = b.read_some(10); }
  auto timed_out = rt.block_on([&] { return ntime::timeout(absl::Milliseconds(5), b.read_some(10)); });
  CHECK(timed_out.status().code() == absl::StatusCode::kDeadlineExceeded);

  std::string head = "HEAD ", body(100000, 'b'), tail = " TAIL";
  std::vector<absl::Span<const char>> parts = {absl::MakeConstSpan(head), absl::MakeConstSpan(body),
                                               absl::Span<const char>(), absl::MakeConstSpan(tail)};
  Future<void> written = a.write_all_vectored(parts);
  std::string got;
  while (got.size() < head.size() + body.size() + tail.size()) {
    auto chunk = rt.block_on(b.read_some(64 * 1024));  // The heap path.
    REQUIRE(chunk.ok());
    REQUIRE_FALSE(chunk->empty());
    got += *chunk;
  }
  REQUIRE(rt.block_on(std::move(written)).ok());
  CHECK(got == head + body + tail);

  // Owned parts, more of them than one syscall takes (64).
  std::vector<std::string> many;
  std::string expected;
  for (int i = 0; i < 200; ++i) {
    many.push_back(absl::StrCat(i, ","));
    expected += many.back();
  }
  REQUIRE(rt.block_on(a.write_all_vectored(std::move(many))).ok());
  std::string small;
  while (small.size() < expected.size()) {
    auto chunk = rt.block_on(b.read_some(7));  // The stack path.
    REQUIRE(chunk.ok());
    CHECK(chunk->size() <= 7);
    small += *chunk;
  }
  CHECK(small == expected);
  a.close();
  CHECK(rt.block_on(a.write_all_vectored(std::vector<std::string>{"x"})).code() ==
        absl::StatusCode::kCancelled);
}

TEST_CASE("UnixDatagram: messages keep their boundaries and say who sent them") {
  Runtime rt = Runtime::with_workers(2);
  TempDir dir;
  auto server = UnixDatagram::bind(dir.file("server.sock"), rt.handle());
  auto client = UnixDatagram::bind(dir.file("client.sock"), rt.handle());
  REQUIRE(server.ok());
  REQUIRE(client.ok());
  REQUIRE(rt.block_on(client->send_to(absl::MakeConstSpan("hello", 5), dir.file("server.sock"))).value() == 5);
  REQUIRE(rt.block_on(client->send_to(absl::MakeConstSpan("hi", 2), dir.file("server.sock"))).value() == 2);
  char buf[16];
  auto first = rt.block_on(server->recv_from(absl::MakeSpan(buf)));
  REQUIRE(first.ok());
  CHECK(std::string(buf, first->first) == "hello");
  CHECK(first->second == dir.file("client.sock"));
  auto second = rt.block_on(server->recv_from(absl::MakeSpan(buf)));
  CHECK(std::string(buf, second->first) == "hi");

  auto anonymous = UnixDatagram::unbound(rt.handle());
  REQUIRE(anonymous.ok());
  REQUIRE(anonymous->connect(dir.file("server.sock")).ok());
  REQUIRE(rt.block_on(anonymous->send(absl::MakeConstSpan("anon", 4))).ok());
  auto third = rt.block_on(server->recv_from(absl::MakeSpan(buf)));
  CHECK(std::string(buf, third->first) == "anon");
  CHECK(third->second.empty());

  auto nobody = rt.block_on(client->send_to(absl::MakeConstSpan("x", 1), dir.file("nobody.sock")));
  CHECK(nobody.status().code() == absl::StatusCode::kNotFound);
  CHECK(absl::StrContains(nobody.status().message(), "nobody.sock"));
  CHECK(UnixDatagram::bind(dir.file("server.sock"), rt.handle()).status().code() ==
        absl::StatusCode::kAlreadyExists);
  *server = UnixDatagram();
  CHECK_FALSE(Exists(dir.file("server.sock")));
}

TEST_CASE("UnixDatagram: a full receiver makes the sender wait; nothing is lost") {
  Runtime rt = Runtime::with_workers(2);
  auto ends = UnixDatagram::pair(rt.handle());
  REQUIRE(ends.ok());
  UnixDatagram sender = ends->first, receiver = ends->second;
  constexpr int kMessages = 3000;  // Far past the default queue (~ hundreds).
  auto sent = rt.handle().spawn([sender] {
    auto i = std::make_shared<int>(0);
    return nanorun::repeat([sender, i] {
      auto text = std::make_shared<std::string>(absl::StrCat("m", *i));
      return sender.send(absl::MakeConstSpan(*text)).then([i, text](size_t) { return ++*i == kMessages; });
    });
  });
  std::vector<char> buf(64);
  for (int i = 0; i < kMessages; ++i) {
    auto n = rt.block_on(receiver.recv(absl::MakeSpan(buf)));
    REQUIRE(n.ok());
    REQUIRE(std::string(buf.data(), *n) == absl::StrCat("m", i));
  }
  CHECK(rt.block_on(std::move(sent)).ok());
}

TEST_CASE("from_native: adopts inherited Unix sockets; anything else stays the caller's") {
  Runtime rt = Runtime::with_workers(2);
  int fds[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);  // Blocking, as inherited ones are.
  auto adopted = UnixStream::from_native(fds[0], rt.handle());
  REQUIRE(adopted.ok());
  CHECK(adopted->native_handle() == fds[0]);
  CHECK((fcntl(fds[0], F_GETFL) & O_NONBLOCK) != 0);
  CHECK((fcntl(fds[0], F_GETFD) & FD_CLOEXEC) != 0);
  REQUIRE(write(fds[1], "raw", 3) == 3);
  CHECK(*rt.block_on(adopted->read_some(10)) == "raw");

  // A listening socket made by hand, as systemd would pass it.
  TempDir dir;
  std::string path = dir.file("activated.sock");
  int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  REQUIRE(bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  REQUIRE(listen(lfd, 16) == 0);
  CHECK(UnixStream::from_native(lfd, rt.handle()).status().code() == absl::StatusCode::kInvalidArgument);
  auto listener = UnixListener::from_native(lfd, rt.handle());
  REQUIRE(listener.ok());
  ServeEcho(rt, *listener);
  auto client = rt.block_on(UnixStream::connect(path, rt.handle()));
  REQUIRE(client.ok());
  REQUIRE(rt.block_on(client->write_all(std::string("sd"))).ok());
  CHECK(*rt.block_on(client->read_some(2)) == "sd");
  listener->close();
  CHECK(Exists(path));  // An adopted listener's file is not nanorun's to remove.

  // Wrong kinds: InvalidArgument, and the fd is still open and unchanged.
  int file = open("/dev/null", O_RDONLY);
  auto not_socket = UnixStream::from_native(file, rt.handle());
  CHECK(not_socket.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(absl::StrContains(not_socket.status().message(), "not a socket"));
  CHECK(fcntl(file, F_GETFD) != -1);
  close(file);
  int dgram = socket(AF_UNIX, SOCK_DGRAM, 0);
  CHECK(UnixListener::from_native(dgram, rt.handle()).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK((fcntl(dgram, F_GETFL) & O_NONBLOCK) == 0);
  CHECK(UnixDatagram::from_native(dgram, rt.handle()).ok());
  int tcp = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(absl::StrContains(UnixListener::from_native(tcp, rt.handle()).status().message(),
                          "not a Unix-domain socket"));
  close(tcp);
  CHECK(UnixStream::from_native(-1, rt.handle()).status().code() == absl::StatusCode::kInvalidArgument);
  close(fds[1]);
}

TEST_CASE("Unix stress: 100 clients x 50 round trips, every byte back in order") {
  Runtime rt = Runtime::with_workers(2);
  TempDir dir;
  std::string path = dir.file("stress.sock");
  auto listener = UnixListener::bind(path, rt.handle());
  REQUIRE(listener.ok());
  ServeEcho(rt, *listener);
  constexpr int kClients = kSanitized ? 30 : 100;
  constexpr int kRounds = 50;
  std::vector<Future<bool>> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.push_back(UnixStream::connect(path, rt.handle()).then([c](UnixStream s) {
      auto round = std::make_shared<int>(0);
      auto ok = std::make_shared<bool>(true);
      return nanorun::repeat([s, c, round, ok] {
                auto msg = std::make_shared<std::string>(absl::StrCat("client ", c, " round ", *round, ";"));
                auto back = std::make_shared<std::string>(msg->size(), '\0');
                return s.write_all(absl::MakeConstSpan(*msg))
                    .then([s, back] { return s.read_exact(absl::MakeSpan(*back)); })
                    .then([msg, back, round, ok] {
                      if (*msg != *back) *ok = false;
                      return ++*round == kRounds;
                    });
              })
          .then([ok] { return *ok; });
    }));
  }
  auto all = rt.block_on(nanorun::when_all(std::move(clients)));
  REQUIRE(all.ok());
  for (bool ok : *all) CHECK(ok);
}

TEST_CASE("Unix teardown: sockets and pending operations outlive their runtime safely") {
  UnixListener listener;
  UnixStream end, other_end;  // Both kept: a dropped other end would end the read.
  Future<UnixStream> pending_accept;
  Future<std::string> pending_read;
  TempDir dir;
  {
    Runtime rt = Runtime::with_workers(2);
    auto l = UnixListener::bind(dir.file("t.sock"), rt.handle());
    REQUIRE(l.ok());
    listener = *l;
    auto ends = UnixStream::pair(rt.handle());
    REQUIRE(ends.ok());
    end = ends->first;
    other_end = ends->second;
    pending_accept = listener.accept();
    pending_read = end.read_some(10);
  }
  CHECK(pending_accept.take_result().status().code() == absl::StatusCode::kCancelled);
  CHECK(pending_read.take_result().status().code() == absl::StatusCode::kCancelled);
  CHECK(listener.accept().take_result().status().code() == absl::StatusCode::kCancelled);
  CHECK(end.write_all(std::string("late")).take_result().code() == absl::StatusCode::kCancelled);
}

}  // namespace
