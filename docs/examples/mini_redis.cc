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
#include "docs/examples/resp.h"

namespace {

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
          resp::Parse p = resp::ParseCommand(input.substr(used), &args, &size);
          if (p == resp::Parse::kIncomplete) break;
          if (p == resp::Parse::kBad) {
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
