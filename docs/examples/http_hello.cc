// http_hello PORT: an HTTP/1.1 server on 127.0.0.1:PORT that answers every
// request with "hello, world". Keep-alive and pipelining work (curl, wrk);
// "Connection: close" and HTTP/1.0 close after the reply; request bodies
// (Content-Length) are skipped; malformed requests get 400 and a close.
// Two paths show the runtime itself (docs/observability.md): /metrics, its
// Handle::metrics() in Prometheus text format, and /debug/tasks, its
// Handle::dump() (each connection's task is named after its peer).
//
//   tools/bazel run //docs/examples:http_hello -- 8080 &  curl http://127.0.0.1:8080/
//   curl http://127.0.0.1:8080/metrics   # or: tools/top/nanorun_top.py 127.0.0.1:8080
#include <memory>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "docs/examples/metrics_page.h"
#include "docs/examples/request_loop.h"

namespace {

constexpr absl::string_view kHello =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 13\r\n"
    "\r\n"
    "hello, world\n";
constexpr absl::string_view kBadRequest =
    "HTTP/1.1 400 Bad Request\r\n"
    "Content-Length: 0\r\n"
    "Connection: close\r\n"
    "\r\n";
constexpr size_t kMaxBody = 1 << 20;

// A 200 reply carrying `body`.
void AppendOk(std::string* out, absl::string_view content_type, absl::string_view body) {
  absl::StrAppend(out, "HTTP/1.1 200 OK\r\nContent-Type: ", content_type,
                  "\r\nContent-Length: ", body.size(), "\r\n\r\n", body);
}

// The reply to a GET of `path`. The handler runs on one of the runtime's
// workers, so Handle::current() is the runtime serving this request.
void AppendReply(absl::string_view path, std::string* out) {
  if (path == "/metrics" || path == "/debug/tasks") {
    nanorun::Handle runtime = nanorun::Handle::current();
    if (path == "/metrics") {
      AppendOk(out, "text/plain; version=0.0.4", examples::PrometheusPage(runtime.metrics()));
    } else {
      AppendOk(out, "text/plain", runtime.dump().to_string());
    }
    return;
  }
  out->append(kHello.data(), kHello.size());
}

// One request at the start of `input`: its size (head + body), or 0 if it
// is not all there yet; *bad for a malformed one, *close if the client
// asked to close after it, *path its target.
size_t ParseRequest(absl::string_view input, bool* bad, bool* close, absl::string_view* path) {
  size_t head_end = input.find("\r\n\r\n");
  if (head_end == absl::string_view::npos) return 0;
  absl::string_view head = input.substr(0, head_end);
  std::vector<absl::string_view> lines = absl::StrSplit(head, "\r\n");
  std::vector<absl::string_view> request_line = absl::StrSplit(lines[0], ' ');
  if (request_line.size() != 3 || !absl::StartsWith(request_line[2], "HTTP/1.")) {
    *bad = true;
    return input.size();
  }
  bool keep_alive = request_line[2] == "HTTP/1.1";
  *path = request_line[1];
  size_t body = 0;
  for (size_t i = 1; i < lines.size(); ++i) {
    size_t colon = lines[i].find(':');
    if (colon == absl::string_view::npos) continue;
    absl::string_view name = absl::StripAsciiWhitespace(lines[i].substr(0, colon));
    absl::string_view value = absl::StripAsciiWhitespace(lines[i].substr(colon + 1));
    if (absl::EqualsIgnoreCase(name, "connection")) {
      if (absl::EqualsIgnoreCase(value, "close")) keep_alive = false;
      if (absl::EqualsIgnoreCase(value, "keep-alive")) keep_alive = true;
    } else if (absl::EqualsIgnoreCase(name, "content-length")) {
      if (!absl::SimpleAtoi(value, &body) || body > kMaxBody) {
        *bad = true;
        return input.size();
      }
    }
  }
  size_t total = head_end + 4 + body;
  if (input.size() < total) return 0;
  *close = !keep_alive;
  return total;
}

}  // namespace

int main(int argc, char** argv) {
  auto handler = std::make_shared<const examples::Handler>(
      [](absl::string_view input, std::string* out, bool* close) {
        size_t used = 0;
        while (!*close) {
          bool bad = false;
          absl::string_view path;
          size_t n = ParseRequest(input.substr(used), &bad, close, &path);
          if (bad) {
            out->append(kBadRequest.data(), kBadRequest.size());
            *close = true;
            return input.size();
          }
          if (n == 0) break;
          AppendReply(path, out);
          used += n;
        }
        return used;
      });
  return examples::RunServer("http_hello", argc, argv, handler);
}
