// A user program outside nanorun's workspace, built against @nanorun//nanorun the
// way a strict project builds its own code: -Wall -Wextra -Wpedantic -Werror on this
// file (BUILD.bazel), -std=c++17 -fno-exceptions -fno-rtti on everything (.bazelrc),
// with g++ and with clang (CI builds it both ways). It instantiates the public
// templates a service would (futures, tasks, combinators, timers, TCP), so a warning
// in any of nanorun's headers, or in a third-party header they include, fails it.
// Exits 0 only if every step gave the expected result.
#include <cstdio>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "nanorun/nanorun.h"

namespace {

int failures = 0;

void Expect(bool ok, const char* what) {
  std::printf("consumer: [%s] %s\n", ok ? "ok" : "FAILED", what);
  if (!ok) ++failures;
}

}  // namespace

int main() {
  std::printf("consumer: nanorun %s\n", NANORUN_VERSION_STRING);
  nanorun::Runtime rt = nanorun::Runtime::with_workers(2);

  absl::StatusOr<int> r = rt.block_on([] { return 42; });
  Expect(r.ok() && *r == 42, "block_on(closure) -> 42");

  // Tasks, chaining on a task, combinators over tasks and futures.
  absl::StatusOr<int> sum = rt.block_on([] {
    std::vector<nanorun::JoinHandle<int>> tasks;
    for (int i = 1; i <= 4; ++i) tasks.push_back(nanorun::spawn([i] { return i; }));
    auto doubled = nanorun::spawn([] { return 5; }).then([](int x) { return 2 * x; });
    return nanorun::when_all(nanorun::when_all(std::move(tasks)), std::move(doubled))
        .then([](std::tuple<std::vector<int>, int> t) {
          int total = std::get<1>(t);
          for (int v : std::get<0>(t)) total += v;
          return total;
        });
  });
  Expect(sum.ok() && *sum == 20, "spawn + when_all over tasks -> 20");

  // Errors skip then; on_error recovers; finally always runs.
  auto ran_finally = std::make_shared<bool>(false);
  absl::StatusOr<int> recovered = rt.block_on(
      nanorun::make_error_future<int>(absl::NotFoundError("key"))
          .then([](int x) { return x + 1; })
          .on_error([](absl::Status s) { return s.code() == absl::StatusCode::kNotFound ? 7 : 0; })
          .finally([ran_finally] { *ran_finally = true; }));
  Expect(recovered.ok() && *recovered == 7 && *ran_finally, "on_error + finally");

  // A loop without coroutines, timers, a timeout on a task.
  absl::Status looped = rt.block_on([] {
    auto n = std::make_shared<int>(0);
    return nanorun::repeat([n] {
      return nanorun::time::sleep(absl::Milliseconds(1)).then([n] { return ++*n == 3; });
    });
  });
  Expect(looped.ok(), "repeat + time::sleep, three rounds");
  absl::StatusOr<int> cut = rt.block_on([] {
    return nanorun::time::timeout(absl::Milliseconds(5), nanorun::spawn([] {
                                    return nanorun::time::sleep(absl::Seconds(30)).then([] { return 1; });
                                  }));
  });
  Expect(cut.status().code() == absl::StatusCode::kDeadlineExceeded,
         "time::timeout on a task -> DeadlineExceeded");

#if defined(NANORUN_HAS_NET)
  // TCP over loopback: one accepted connection echoes what it reads once.
  auto listener =
      nanorun::net::TcpListener::bind(nanorun::net::SocketAddr::loopback_v4(0), rt.handle());
  Expect(listener.ok(), "TcpListener::bind(127.0.0.1:0)");
  if (listener.ok()) {
    nanorun::net::SocketAddr addr = *listener->local_addr();
    auto server = rt.handle().spawn([l = *listener] {
      return l.accept().then([](std::pair<nanorun::net::TcpStream, nanorun::net::SocketAddr> c) {
        nanorun::net::TcpStream s = c.first;
        return s.read_some(64).then([s](std::string data) { return s.write_all(std::move(data)); });
      });
    });
    auto back = std::make_shared<std::string>(5, '\0');
    absl::Status echoed = rt.block_on([addr, back] {
      return nanorun::net::TcpStream::connect(addr).then([back](nanorun::net::TcpStream s) {
        return s.write_all(std::string("hello"))
            .then([s, back] { return s.read_exact(absl::MakeSpan(*back)); });
      });
    });
    Expect(echoed.ok() && *back == "hello" && rt.block_on(std::move(server)).ok(),
           "TCP echo over loopback");
  }
#endif

  std::printf(failures == 0 ? "consumer: all steps ok\n" : "consumer: %d step(s) failed\n",
              failures);
  return failures == 0 ? 0 : 1;
}
