// mini_redis PORT: a RESP server on 127.0.0.1:PORT with PING, ECHO, SET,
// GET and DEL over an in-memory map, enough for redis-cli and
// `redis-benchmark -t ping,set,get` (pipelining included). Requests are RESP
// arrays of bulk strings, or inline commands ("PING\r\n"). Unknown commands
// get "-ERR unknown command"; a malformed request gets an error and a close.
//
//   tools/bazel run //docs/examples:mini_redis -- 6379 &  redis-cli -p 6379 ping
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "docs/examples/request_loop.h"

namespace {

constexpr size_t kMaxArgs = 1024;
constexpr size_t kMaxBulk = 512 << 10;

class Store {
 public:
  void Set(std::string key, std::string value) {
    absl::MutexLock lock(&mu_);
    map_[std::move(key)] = std::move(value);
  }
  bool Get(const std::string& key, std::string* value) {
    absl::MutexLock lock(&mu_);
    auto it = map_.find(key);
    if (it == map_.end()) return false;
    *value = it->second;
    return true;
  }
  int Del(const std::string& key) {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(map_.erase(key));
  }

 private:
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::string> map_ ABSL_GUARDED_BY(mu_);
};

enum class Parse { kComplete, kIncomplete, kBad };

// A line ending in \r\n at `pos`: its end, or npos.
size_t LineEnd(absl::string_view in, size_t pos) { return in.find("\r\n", pos); }

// One request at the start of `in`: its arguments and size.
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

void Bulk(std::string* out, absl::string_view s) { absl::StrAppend(out, "$", s.size(), "\r\n", s, "\r\n"); }

void Execute(Store& store, std::vector<std::string>& args, std::string* out) {
  if (args.empty()) return;
  std::string cmd = absl::AsciiStrToUpper(args[0]);
  auto arity_error = [&] {
    absl::StrAppend(out, "-ERR wrong number of arguments for '", absl::AsciiStrToLower(cmd),
                    "' command\r\n");
  };
  if (cmd == "PING") {
    if (args.size() == 1) {
      out->append("+PONG\r\n");
    } else if (args.size() == 2) {
      Bulk(out, args[1]);
    } else {
      arity_error();
    }
  } else if (cmd == "ECHO") {
    if (args.size() != 2) return arity_error();
    Bulk(out, args[1]);
  } else if (cmd == "SET") {
    if (args.size() < 3) return arity_error();
    store.Set(std::move(args[1]), std::move(args[2]));
    out->append("+OK\r\n");
  } else if (cmd == "GET") {
    if (args.size() != 2) return arity_error();
    std::string value;
    if (store.Get(args[1], &value)) {
      Bulk(out, value);
    } else {
      out->append("$-1\r\n");
    }
  } else if (cmd == "DEL") {
    if (args.size() < 2) return arity_error();
    int removed = 0;
    for (size_t i = 1; i < args.size(); ++i) removed += store.Del(args[i]);
    absl::StrAppend(out, ":", removed, "\r\n");
  } else if (cmd == "CONFIG") {
    out->append("*0\r\n");  // redis-benchmark asks; nothing to report.
  } else {
    absl::StrAppend(out, "-ERR unknown command '", args[0], "'\r\n");
  }
}

}  // namespace

int main(int argc, char** argv) {
  auto store = std::make_shared<Store>();
  auto handler = std::make_shared<const examples::Handler>(
      [store](absl::string_view input, std::string* out, bool* close) {
        size_t used = 0;
        while (used < input.size()) {
          std::vector<std::string> args;
          size_t size = 0;
          Parse p = ParseCommand(input.substr(used), &args, &size);
          if (p == Parse::kIncomplete) break;
          if (p == Parse::kBad) {
            out->append("-ERR Protocol error\r\n");
            *close = true;
            return input.size();
          }
          Execute(*store, args, out);
          used += size;
        }
        return used;
      });
  return examples::RunServer("mini_redis", argc, argv, handler);
}
