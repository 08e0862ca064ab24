// The RESP request parser of mini_redis (and of its fuzz target): arrays of
// bulk strings ("*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n") and inline commands
// ("PING\r\n"), with limits so a peer cannot make it hold unbounded input.
#ifndef NANORUN_DOCS_EXAMPLES_RESP_H_
#define NANORUN_DOCS_EXAMPLES_RESP_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace resp {

constexpr size_t kMaxArgs = 1024;
constexpr size_t kMaxBulk = 512 << 10;

enum class Parse { kComplete, kIncomplete, kBad };

// One request at the start of `in`: on kComplete, its arguments are
// appended to *args and its length stored in *size (<= in.size()).
Parse ParseCommand(absl::string_view in, std::vector<std::string>* args, size_t* size);

// The RESP array of bulk strings for `args` (what redis-cli sends).
std::string Encode(const std::vector<std::string>& args);

}  // namespace resp

#endif  // NANORUN_DOCS_EXAMPLES_RESP_H_
