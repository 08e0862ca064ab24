// Consumer smoke test: a program outside nanorun's workspace, built against
// @nanorun//nanorun. Exits 0 only if block_on returns the right value.
#include <cstdio>
#include <string>

#include "absl/status/statusor.h"
#include "nanorun/nanorun.h"

int main() {
  nanorun::Runtime rt;
  absl::StatusOr<int> r = rt.block_on([] { return 42; });
  if (!r.ok()) {
    std::fprintf(stderr, "consumer: block_on failed: %s\n", r.status().ToString().c_str());
    return 1;
  }
  if (*r != 42) {
    std::fprintf(stderr, "consumer: block_on returned %d, expected 42\n", *r);
    return 1;
  }
  std::printf("consumer: block_on returned %d\n", *r);
  return 0;
}
