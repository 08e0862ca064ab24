// SocketAddr::parse on arbitrary text: never crashes; whatever it accepts
// prints back to text that parses to the same address.
#include <cstdint>
#include <string>

#include "nanorun/net/socket_addr.h"
#include "tests/fuzz/check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto addr = nanorun::net::SocketAddr::parse(text);
  if (!addr.ok()) {
    FUZZ_CHECK(addr.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  auto again = nanorun::net::SocketAddr::parse(addr->ToString());
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == *addr);
  return 0;
}
