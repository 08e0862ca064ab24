// The tour: nanorun's main demo (README: tools/bazel run //docs/examples:tour).
// A runtime, spawned tasks, .then chains, error handling, combinators, a
// loop without coroutines, timers, and an echo server with a client over
// loopback TCP. Prints what it does; exits 0 only if every step produced
// the expected result.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <tuple>

#include "docs/examples/echo.h"
#include "nanorun/nanorun.h"

namespace {

int failures = 0;

void Expect(bool ok, const char* what) {
  std::printf("  [%s] %s\n", ok ? "ok" : "FAILED", what);
  if (!ok) ++failures;
}

}  // namespace

int main() {
  // 1. A runtime with two worker threads. block_on runs a closure on it and
  //    waits for the result from this (non-worker) thread.
  nanorun::Runtime rt = nanorun::Runtime::with_workers(2);
  std::printf("runtime: %zu workers\n", rt.num_workers());
  absl::StatusOr<int> answer = rt.block_on([] { return 40 + 2; });
  Expect(answer.ok() && *answer == 42, "block_on(closure) -> 42");

  // 2. Spawn tasks from inside the runtime and join them with when_all.
  absl::StatusOr<int> sum = rt.block_on([] {
    auto a = nanorun::spawn([] { return 21 + 21; });
    auto b = nanorun::spawn([] { return 100 - 58; });
    return nanorun::when_all(std::move(a), std::move(b))
        .then([](std::tuple<int, int> t) { return std::get<0>(t) + std::get<1>(t); });
  });
  Expect(sum.ok() && *sum == 84, "spawn + when_all -> 84");

  // 3. A promise fulfilled from another thread drives a .then chain. The
  //    chain was attached on a worker, so it runs on a worker.
  nanorun::Promise<std::string> name;
  nanorun::Future<std::string> greeting =
      rt.handle()
          .spawn([f = name.get_future()]() mutable {
            return std::move(f)
                .then([](std::string n) { return "hello, " + n; })
                .then([](std::string g) { return g + "!"; });
          })
          .into_future();
  std::thread producer([&name] { name.set_value("nanorun"); });
  producer.join();
  absl::StatusOr<std::string> hello = rt.block_on(std::move(greeting));
  Expect(hello.ok() && *hello == "hello, nanorun!", "promise from a thread -> .then chain");
  if (hello.ok()) std::printf("  %s\n", hello->c_str());

  // 4. Errors are absl::Status values: then() is skipped, on_error recovers.
  absl::StatusOr<int> recovered = rt.block_on(
      nanorun::make_error_future<int>(absl::NotFoundError("no such key"))
          .then([](int v) { return v * 2; })
          .on_error([](absl::Status s) {
            std::printf("  recovered from: %s\n", s.ToString().c_str());
            return -1;
          }));
  Expect(recovered.ok() && *recovered == -1, "error skips then, on_error recovers");

  // 5. A loop without coroutines: repeat() calls the step until it says stop.
  //    yield_now() lets other tasks run between iterations.
  absl::StatusOr<int> counted = rt.block_on([] {
    auto count = std::make_shared<int>(0);
    return nanorun::repeat([count] {
             return nanorun::yield_now().then([count] { return ++*count == 1000; });
           })
        .then([count] { return *count; });
  });
  Expect(counted.ok() && *counted == 1000, "repeat + yield_now: 1000 iterations");

  // 6. Abort a task that waits forever: its handle reports CancelledError.
  nanorun::Promise<int> never;
  auto stuck = rt.handle().spawn([f = never.get_future()]() mutable { return std::move(f); });
  stuck.abort();
  absl::StatusOr<int> aborted = rt.block_on(std::move(stuck));
  Expect(absl::IsCancelled(aborted.status()), "abort -> CancelledError");

  // 7. Misuse is an error, not undefined behaviour: block_on on a worker.
  absl::Status nested = rt.block_on([&rt] { return rt.block_on([] {}); });
  Expect(absl::IsFailedPrecondition(nested), "block_on on a worker -> FailedPrecondition");

  // 8. Timers: sleep, and timeout around a reply that never comes. The
  //    runtime's timer wheel fires them from its workers.
  auto start = std::chrono::steady_clock::now();
  absl::Status slept = rt.block_on([] { return nanorun::time::sleep(absl::Milliseconds(20)); });
  auto slept_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  std::printf("  slept %lld ms\n", static_cast<long long>(slept_ms));
  Expect(slept.ok() && slept_ms >= 20, "time::sleep(20ms) waits at least 20 ms");
  nanorun::Promise<int> silent_server;
  absl::StatusOr<int> reply = rt.block_on([&silent_server] {
    return nanorun::time::timeout(absl::Milliseconds(10), silent_server.get_future());
  });
  std::printf("  %s\n", reply.status().ToString().c_str());
  Expect(absl::IsDeadlineExceeded(reply.status()), "time::timeout -> DeadlineExceeded");

  // 9. Tests need not sleep: with a ManualClock, time moves when told to.
  auto clock = std::make_shared<nanorun::time::ManualClock>();
  nanorun::RuntimeOptions options;
  options.workers = 1;
  options.clock = clock;
  nanorun::Runtime test_rt(options);
  nanorun::Promise<void> woke;
  nanorun::Future<void> woke_future = woke.get_future();
  absl::Status armed = test_rt.block_on([&woke] {
    // detach(): nobody holds this future, and a dropped future would stop the sleep.
    nanorun::time::sleep(absl::Hours(24)).then([&woke] { woke.set_value(); }).detach();
  });
  clock->advance(absl::Hours(24));  // A day passes at once.
  Expect(armed.ok() && test_rt.block_on(std::move(woke_future)).ok(),
         "ManualClock: a 24 h sleep completes when the test advances 24 h");

  // 10. TCP: an echo server on a free loopback port (docs/examples/echo.cc:
  //     two repeat() loops), and a client that sends a line and reads it back.
  auto listener = nanorun::net::TcpListener::bind(nanorun::net::SocketAddr::loopback_v4(0),
                                                  rt.handle());
  Expect(listener.ok(), "TcpListener::bind(127.0.0.1:0)");
  if (listener.ok()) {
    nanorun::net::SocketAddr addr = *listener->local_addr();
    std::printf("  echo server on %s\n", addr.ToString().c_str());
    auto serving = rt.handle().spawn([l = *listener] { return echo::Serve(l); });
    auto line = std::make_shared<std::string>("hello over TCP");
    auto back = std::make_shared<std::string>(line->size(), '\0');
    absl::Status echoed = rt.block_on([addr, line, back] {
      return nanorun::net::TcpStream::connect(addr).then([line, back](nanorun::net::TcpStream s) {
        return s.write_all(absl::MakeConstSpan(*line))
            .then([s, back] { return s.read_exact(absl::MakeSpan(*back)); });
      });
    });
    std::printf("  client got back: \"%s\"\n", back->c_str());
    Expect(echoed.ok() && *back == *line, "TCP echo over loopback");
    listener->close();  // The accept loop ends; ~Runtime cancels the rest.
  }

  std::printf(failures == 0 ? "tour: all steps ok\n" : "tour: %d step(s) failed\n", failures);
  return failures == 0 ? 0 : 1;
}
