// The sys layer: fault injection (armed failures are taken exactly as many
// times as armed, by one operation only, even when threads race for them),
// the coarse monotonic clock, and (Linux) io_uring's socket requests.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nanorun/sys/linux/uring.h"
#include "nanorun/sys/linux/uring_buffers.h"
#endif
#include "nanorun/sys/coarse_clock.h"
#include "nanorun/sys/fault_injection.h"
#include "tests/catch.h"

namespace {

namespace fault = nanorun::sys::fault;

struct FaultScope {
  ~FaultScope() { fault::Reset(); }
};

TEST_CASE("unarmed, no call fails") {
  FaultScope scope;
  for (auto op : {fault::Op::kAccept, fault::Op::kConnect, fault::Op::kRead, fault::Op::kWrite}) {
    CHECK(fault::Take(op) == 0);
    CHECK(fault::Remaining(op) == 0);
  }
}

TEST_CASE("the next N calls of one operation fail with the armed error, then none") {
  FaultScope scope;
  fault::FailNext(fault::Op::kRead, 42, 3);
  CHECK(fault::Remaining(fault::Op::kRead) == 3);
  CHECK(fault::Take(fault::Op::kWrite) == 0);  // Another operation is untouched.
  CHECK(fault::Take(fault::Op::kRead) == 42);
  CHECK(fault::Take(fault::Op::kRead) == 42);
  CHECK(fault::Take(fault::Op::kRead) == 42);
  CHECK(fault::Take(fault::Op::kRead) == 0);
  CHECK(fault::Remaining(fault::Op::kRead) == 0);
}

TEST_CASE("Reset disarms every operation") {
  fault::FailNext(fault::Op::kAccept, 1, 10);
  fault::FailNext(fault::Op::kWrite, 2, 10);
  fault::Reset();
  CHECK(fault::Take(fault::Op::kAccept) == 0);
  CHECK(fault::Take(fault::Op::kWrite) == 0);
}

TEST_CASE("threads racing for armed failures take each exactly once") {
  FaultScope scope;
  constexpr int kArmed = 100000;
  fault::FailNext(fault::Op::kWrite, 7, kArmed);
  std::atomic<int> taken{0};
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kArmed / 2; ++i) {
        int err = fault::Take(fault::Op::kWrite);
        if (err == 7) ++taken;
        if (err != 7 && err != 0) ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(taken == kArmed);  // 200,000 calls for 100,000 failures.
  CHECK(wrong == 0);
  CHECK(fault::Remaining(fault::Op::kWrite) == 0);
}

}  // namespace

TEST_CASE("CoarseMonotonicNanos never goes back and follows real time within its tick", "[sys]") {
  int64_t before = nanorun::sys::CoarseMonotonicNanos();
  auto t0 = std::chrono::steady_clock::now();
  int64_t last = before;
  for (int i = 0; i < 1000; ++i) {
    int64_t now = nanorun::sys::CoarseMonotonicNanos();
    CHECK(now >= last);
    last = now;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  int64_t after = nanorun::sys::CoarseMonotonicNanos();
  int64_t real = std::chrono::duration_cast<std::chrono::nanoseconds>(
                     std::chrono::steady_clock::now() - t0)
                     .count();
  // The coarse clock lags by at most a tick (<= 4 ms on Linux; 10 ms allowed).
  CHECK(after - before >= real - 10'000'000);
  CHECK(after - before <= real + 10'000'000);
}

#if defined(__linux__)
// sys::Uring's socket requests (issue 18's completion operations stand on
// these): a recv and a send complete with their byte counts, and a cancelled
// recv either returns the bytes it got or got none, so cancelling loses no
// byte. Where io_uring cannot run (a seccomp filter: CI's no-uring stage)
// there is nothing to test.
namespace uring_requests {

using nanorun::sys::Uring;
using nanorun::sys::UringCompletion;

bool UringRuns() {
  absl::Status usable = Uring::Probe();
  if (!usable.ok()) WARN("io_uring cannot run here: " << usable.message());
  return usable.ok();
}

struct SocketPair {
  int fd[2];
  SocketPair() { REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fd) == 0); }
  ~SocketPair() {
    close(fd[0]);
    close(fd[1]);
  }
};

// Waits for completions until `want` of them came; returns them.
std::vector<UringCompletion> Reap(Uring& ring, size_t want) {
  std::vector<UringCompletion> got;
  while (got.size() < want) {
    int rc = ring.SubmitAndWait(/*timeout_ns=*/2'000'000'000);
    REQUIRE((rc == 0 || rc == -EINTR));
    UringCompletion batch[8];
    int n;
    while ((n = ring.Harvest(batch, 8)) > 0) got.insert(got.end(), batch, batch + n);
  }
  return got;
}

const UringCompletion* Find(const std::vector<UringCompletion>& all, uint64_t user_data) {
  for (const UringCompletion& c : all) {
    if (c.user_data == user_data) return &c;
  }
  return nullptr;
}

TEST_CASE("uring: a send and a recv complete with their byte counts", "[sys]") {
  if (!UringRuns()) return;
  Uring ring;
  REQUIRE(ring.Open(8, 16).ok());
  SocketPair pair;
  char in[16] = {};
  const char out[] = "hello, ring";
  REQUIRE(ring.QueueRecv(pair.fd[1], in, sizeof(in), /*poll_first=*/true, 1));
  REQUIRE(ring.QueueSend(pair.fd[0], out, sizeof(out), 2));
  std::vector<UringCompletion> done = Reap(ring, 2);
  REQUIRE(Find(done, 1) != nullptr);
  REQUIRE(Find(done, 2) != nullptr);
  CHECK(Find(done, 2)->result == static_cast<int32_t>(sizeof(out)));
  CHECK(Find(done, 1)->result == static_cast<int32_t>(sizeof(out)));
  CHECK(std::string(in) == out);
  // End of stream is a recv of 0; a send to a closed peer is -EPIPE, no signal.
  shutdown(pair.fd[0], SHUT_WR);
  REQUIRE(ring.QueueRecv(pair.fd[1], in, sizeof(in), false, 3));
  done = Reap(ring, 1);
  CHECK(done[0].result == 0);
  close(pair.fd[1]);
  pair.fd[1] = socket(AF_UNIX, SOCK_STREAM, 0);  // Something the destructor may close.
  REQUIRE(ring.QueueSend(pair.fd[0], out, sizeof(out), 4));
  done = Reap(ring, 1);
  CHECK(done[0].result == -EPIPE);
}

// The ring runs a completion's task work cooperatively (COOP_TASKRUN): the
// thread that submitted a request is not interrupted while it runs, but one
// asleep in a blocking syscall is still woken to complete it, and its
// syscall goes on undisturbed (no EINTR).
TEST_CASE("uring: a request whose submitter sleeps elsewhere still completes", "[sys]") {
  if (!UringRuns()) return;
  Uring ring;
  REQUIRE(ring.Open(8, 16).ok());
  CHECK(ring.cooperative_task_work());  // The probe asks for 5.19, which has it.
  SocketPair pair;
  int pipe_fds[2];
  REQUIRE(pipe(pipe_fds) == 0);
  char in[16] = {};
  std::atomic<bool> submitted{false};
  ssize_t slept_read = 0;
  int slept_errno = 0;
  std::thread submitter([&] {
    // Nothing to read yet: the recv waits on an internal poll whose wakeup
    // is this thread's task work.
    if (ring.QueueRecv(pair.fd[1], in, sizeof(in), /*poll_first=*/true, 1)) ring.Submit();
    submitted.store(true, std::memory_order_release);
    char byte;
    slept_read = read(pipe_fds[0], &byte, 1);  // Asleep until the test ends.
    slept_errno = errno;
  });
  while (!submitted.load(std::memory_order_acquire)) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // Let it fall asleep.
  const char out[] = "wake";
  REQUIRE(write(pair.fd[0], out, sizeof(out)) == static_cast<ssize_t>(sizeof(out)));
  std::vector<UringCompletion> got;
  for (int i = 0; i < 3 && got.empty(); ++i) {
    ring.SubmitAndWait(/*timeout_ns=*/2'000'000'000);
    UringCompletion batch[8];
    int n;
    while ((n = ring.Harvest(batch, 8)) > 0) got.insert(got.end(), batch, batch + n);
  }
  REQUIRE(write(pipe_fds[1], "x", 1) == 1);
  submitter.join();
  close(pipe_fds[0]);
  close(pipe_fds[1]);
  REQUIRE(got.size() == 1);
  CHECK(got[0].result == static_cast<int32_t>(sizeof(out)));
  CHECK(std::string(in) == out);
  INFO("errno " << slept_errno);
  CHECK(slept_read == 1);
}

TEST_CASE("uring: a recv cancelled while waiting got nothing; the bytes sent later stay queued",
          "[sys]") {
  if (!UringRuns()) return;
  Uring ring;
  REQUIRE(ring.Open(8, 16).ok());
  SocketPair pair;
  char in[8] = {};
  REQUIRE(ring.QueueRecv(pair.fd[1], in, sizeof(in), /*poll_first=*/true, 1));
  REQUIRE(ring.Submit() == 1);
  UringCompletion none[1];
  REQUIRE(ring.Harvest(none, 1) == 0);  // Waiting for data: nothing came.
  REQUIRE(ring.QueueCancel(1, 2));
  std::vector<UringCompletion> done = Reap(ring, 2);
  REQUIRE(Find(done, 1) != nullptr);
  CHECK(Find(done, 1)->result == -ECANCELED);
  CHECK(Find(done, 2)->result == 0);  // Found and cancelled.
  REQUIRE(write(pair.fd[0], "abc", 3) == 3);
  char later[8] = {};
  CHECK(read(pair.fd[1], later, sizeof(later)) == 3);
  CHECK(std::string(later) == "abc");
  // Cancelling what already completed finds nothing.
  REQUIRE(ring.QueueCancel(1, 3));
  done = Reap(ring, 1);
  CHECK(done[0].result == -ENOENT);
}

TEST_CASE("uring stress: recvs cancelled as bytes arrive lose none and duplicate none",
          "[sys][stress]") {
  if (!UringRuns()) return;
  Uring ring;
  REQUIRE(ring.Open(8, 16).ok());
  SocketPair pair;
  constexpr int kRounds = 2000;
  uint64_t sent = 0, received = 0, cancelled = 0;
  std::vector<unsigned char> stream_in;
  // A writer thread sends byte i when told; this thread, after a spin that
  // varies by round, cancels: sometimes the recv has the byte first. (Written
  // from this thread, the recv would complete, as task work, before write()
  // returned: no race.)
  std::atomic<int> go{-1}, written{-1};
  std::thread writer([&] {
    for (int i = 0; i < kRounds; ++i) {
      while (go.load(std::memory_order_acquire) < i) {
      }
      unsigned char b = static_cast<unsigned char>(i);
      ssize_t w = write(pair.fd[0], &b, 1);
      if (w != 1) {
        std::fprintf(stderr, "uring stress: write of byte %d: %zd (%s)\n", i, w, strerror(errno));
        std::abort();
      }
      written.store(i, std::memory_order_release);
    }
  });
  for (int i = 0; i < kRounds; ++i) {
    unsigned char buf[4] = {};
    uint64_t recv_id = 10 + static_cast<uint64_t>(i) * 2;
    REQUIRE(ring.QueueRecv(pair.fd[1], buf, sizeof(buf), /*poll_first=*/true, recv_id));
    REQUIRE(ring.Submit() == 1);
    go.store(i, std::memory_order_release);
    ++sent;
    for (volatile int spin = 0; spin < (i % 64) * 400; spin = spin + 1) {
    }
    REQUIRE(ring.QueueCancel(recv_id, recv_id + 1));
    std::vector<UringCompletion> done = Reap(ring, 2);
    const UringCompletion* recv = Find(done, recv_id);
    REQUIRE(recv != nullptr);
    if (recv->result > 0) {
      stream_in.insert(stream_in.end(), buf, buf + recv->result);
    } else {
      REQUIRE(recv->result == -ECANCELED);
      ++cancelled;
    }
    // What the recv did not take is still in the socket. (In step: a writer
    // left behind would later fill the socket with a round's bytes at once.)
    while (written.load(std::memory_order_acquire) < i) {
    }
    unsigned char rest[4];
    ssize_t n = read(pair.fd[1], rest, sizeof(rest));
    if (n > 0) stream_in.insert(stream_in.end(), rest, rest + n);
  }
  writer.join();
  received = stream_in.size();
  CHECK(received == sent);
  for (size_t i = 0; i < stream_in.size(); ++i) {
    if (stream_in[i] != static_cast<unsigned char>(i)) {
      FAIL("byte " << i << " is " << int(stream_in[i]));
    }
  }
  // How often each side won (both should, or the race was not exercised;
  // not asserted: a scheduler may make one side win every time).
  WARN("cancelled before the byte came: " << cancelled << " of " << kRounds);
}

TEST_CASE("uring: recvs from a buffer pool name the buffer they filled; an empty pool is ENOBUFS",
          "[sys]") {
  if (!UringRuns()) return;
  Uring ring;
  REQUIRE(ring.Open(8, 16).ok());
  nanorun::sys::UringBufferPool pool;
  CHECK(pool.Open(ring, 1, 3, 64).code() == absl::StatusCode::kInvalidArgument);  // Not 2^n.
  REQUIRE(pool.Open(ring, 1, 2, 64).ok());
  SocketPair pair;
  // Two recvs wait holding no buffer; data picks one each.
  REQUIRE(ring.QueueRecvFromPool(pair.fd[1], pool.group(), 0, /*poll_first=*/true, 1));
  REQUIRE(ring.Submit() == 1);
  REQUIRE(write(pair.fd[0], "first", 5) == 5);
  std::vector<UringCompletion> done = Reap(ring, 1);
  REQUIRE(done[0].result == 5);
  REQUIRE(done[0].buffer >= 0);
  uint16_t a = static_cast<uint16_t>(done[0].buffer);
  CHECK(std::string(pool.data(a), 5) == "first");
  REQUIRE(write(pair.fd[0], "second", 6) == 6);
  REQUIRE(ring.QueueRecvFromPool(pair.fd[1], pool.group(), 0, false, 2));
  done = Reap(ring, 1);
  REQUIRE(done[0].result == 6);
  uint16_t b = static_cast<uint16_t>(done[0].buffer);
  CHECK(b != a);
  CHECK(std::string(pool.data(b), 6) == "second");
  // Both buffers are out: the next recv finds none, and its bytes stay put.
  REQUIRE(write(pair.fd[0], "third", 5) == 5);
  REQUIRE(ring.QueueRecvFromPool(pair.fd[1], pool.group(), 0, false, 3));
  done = Reap(ring, 1);
  CHECK(done[0].result == -ENOBUFS);
  CHECK(done[0].buffer == -1);
  pool.Recycle(a);
  // At most max_length bytes: the rest stays in the socket.
  REQUIRE(ring.QueueRecvFromPool(pair.fd[1], pool.group(), 3, false, 4));
  done = Reap(ring, 1);
  REQUIRE(done[0].result == 3);
  CHECK(done[0].buffer == a);
  CHECK(std::string(pool.data(a), 3) == "thi");
  char rest[8] = {};
  CHECK(read(pair.fd[1], rest, sizeof(rest)) == 2);
  CHECK(std::string(rest) == "rd");
}

}  // namespace uring_requests
#endif  // __linux__
