// mini_redis's RESP parser on arbitrary bytes: never reads past its input,
// never claims more than it was given, and a parsed array re-encodes to a
// request that parses to the same arguments.
#include <cstdint>
#include <string>
#include <vector>

#include "docs/examples/resp.h"
#include "tests/fuzz/check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A copy of exactly `size` bytes, so ASan catches any read past the end.
  std::vector<char> owned(data, data + size);
  absl::string_view in(owned.data(), owned.size());
  size_t used = 0;
  while (used < in.size()) {
    std::vector<std::string> args;
    size_t n = 0;
    resp::Parse p = resp::ParseCommand(in.substr(used), &args, &n);
    if (p != resp::Parse::kComplete) break;
    FUZZ_CHECK(n > 0 && n <= in.size() - used);
    FUZZ_CHECK(args.size() <= resp::kMaxArgs);
    std::string encoded = resp::Encode(args);
    std::vector<std::string> again;
    size_t m = 0;
    FUZZ_CHECK(resp::ParseCommand(encoded, &again, &m) == resp::Parse::kComplete);
    FUZZ_CHECK(m == encoded.size());
    FUZZ_CHECK(again == args);
    used += n;
  }
  return 0;
}
