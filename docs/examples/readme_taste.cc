// The README's "A taste" snippet, verbatim inside main(), so the README's
// code cannot rot: README.md and this file must stay in sync (readme_test
// checks that every line of this snippet appears in README.md).
#include <cstdio>
#include <string>
#include <tuple>

#include "nanorun/nanorun.h"

int main() {
// BEGIN README
  nanorun::Runtime rt = nanorun::Runtime::with_workers(2);

  // Run a closure on the runtime and wait for it.
  absl::StatusOr<int> v = rt.block_on([] { return 40 + 2; });

  // Spawn tasks and combine them.
  absl::StatusOr<int> sum = rt.block_on([] {
    auto a = nanorun::spawn([] { return 21 + 21; });
    auto b = nanorun::spawn([] { return 100 - 58; });
    return nanorun::when_all(std::move(a), std::move(b))
        .then([](std::tuple<int, int> t) { return std::get<0>(t) + std::get<1>(t); });
  });

  // A promise fulfilled anywhere; the chain runs on the runtime it was attached on.
  nanorun::Promise<std::string> p;
  auto greeting = rt.handle().spawn([f = p.get_future()]() mutable {
    return std::move(f).then([](std::string n) { return "hello, " + n; });
  });
  p.set_value("nanorun");
  absl::StatusOr<std::string> g = rt.block_on(std::move(greeting));

  // Errors skip .then and can be recovered.
  auto r = nanorun::make_error_future<int>(absl::NotFoundError("k"))
               .then([](int x) { return x * 2; })
               .on_error([](absl::Status) { return -1; });
// END README
  bool ok = v.ok() && *v == 42 && sum.ok() && *sum == 84 && g.ok() &&
            *g == "hello, nanorun" && r.is_ready() && *r.take_result() == -1;
  std::printf(ok ? "readme example: all steps ok\n" : "readme example: FAILED\n");
  return ok ? 0 : 1;
}
