// The RESP parser (see resp.h).
#include "docs/examples/resp.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace resp {
namespace {

// A line ending in \r\n at `pos`: its end, or npos.
size_t LineEnd(absl::string_view in, size_t pos) { return in.find("\r\n", pos); }

}  // namespace

Parse ParseCommand(absl::string_view in, std::vector<std::string>* args, size_t* size) {
  size_t end = LineEnd(in, 0);
  if (end == absl::string_view::npos) return in.size() > kMaxBulk ? Parse::kBad : Parse::kIncomplete;
  if (in[0] != '*') {  // Inline command: words on one line.
    for (absl::string_view w : absl::StrSplit(in.substr(0, end), ' ', absl::SkipEmpty())) {
      args->emplace_back(w);
    }
    *size = end + 2;
    return Parse::kComplete;
  }
  size_t count = 0;
  if (!absl::SimpleAtoi(in.substr(1, end - 1), &count) || count > kMaxArgs) return Parse::kBad;
  size_t pos = end + 2;
  for (size_t i = 0; i < count; ++i) {
    size_t line = LineEnd(in, pos);
    if (line == absl::string_view::npos) return Parse::kIncomplete;
    size_t len = 0;
    if (in[pos] != '$' || !absl::SimpleAtoi(in.substr(pos + 1, line - pos - 1), &len) ||
        len > kMaxBulk) {
      return Parse::kBad;
    }
    pos = line + 2;
    if (in.size() < pos + len + 2) return Parse::kIncomplete;
    if (in.substr(pos + len, 2) != "\r\n") return Parse::kBad;
    args->emplace_back(in.substr(pos, len));
    pos += len + 2;
  }
  *size = pos;
  return Parse::kComplete;
}

std::string Encode(const std::vector<std::string>& args) {
  std::string out = absl::StrCat("*", args.size(), "\r\n");
  for (const std::string& a : args) absl::StrAppend(&out, "$", a.size(), "\r\n", a, "\r\n");
  return out;
}

}  // namespace resp
