// nanorun_top HOST:PORT: shows a running nanorun service's runtime the way
// top shows processes, from the Prometheus page it serves at /metrics (as
// docs/examples/http_hello does; see docs/observability.md). Every interval
// it fetches the page and redraws: tasks, polls, parks, queues, timers, I/O
// and the blocking pool, with rates from the previous fetch, then one row
// per worker (busy %, polls/s, queue depth, parks/s, steals).
//
//   nanorun_top 127.0.0.1:8080 [--interval SECONDS] [--iterations N]
//
// It is itself a nanorun program: one runtime, a TcpStream per fetch.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "nanorun/nanorun.h"

namespace {

using nanorun::Future;
using nanorun::net::TcpStream;

// Samples by metric name with its labels, e.g. `nanorun_polls_total` or
// `nanorun_worker_polls_total{worker="1"}`.
using Samples = std::map<std::string, double>;

Samples Parse(absl::string_view page) {
  Samples out;
  for (absl::string_view line : absl::StrSplit(page, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    size_t space = line.rfind(' ');
    if (space == absl::string_view::npos) continue;
    double value = 0;
    if (absl::SimpleAtod(line.substr(space + 1), &value)) {
      out[std::string(line.substr(0, space))] = value;
    }
  }
  return out;
}

// GET /metrics over one connection ("Connection: close": read to EOF).
Future<std::string> Fetch(std::string host, uint16_t port) {
  return TcpStream::connect(host, port).then([host](TcpStream stream) {
    std::string request = "GET /metrics HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n";
    auto body = std::make_shared<std::string>();
    auto buf = std::make_shared<std::vector<char>>(16384);
    return stream.write_all(std::move(request)).then([stream, body, buf] {
      return nanorun::repeat([stream, body, buf] {
        return stream.read(absl::MakeSpan(*buf)).then([body, buf](size_t n) {
          body->append(buf->data(), n);
          return n == 0;  // The server closed: the whole reply is in.
        });
      }).then([body] {
        size_t head_end = body->find("\r\n\r\n");
        return head_end == std::string::npos ? std::string() : body->substr(head_end + 4);
      });
    });
  });
}

double Get(const Samples& s, const std::string& name) {
  auto it = s.find("nanorun_" + name);
  return it == s.end() ? 0 : it->second;
}
// snprintf, appended to *out. (Not absl::StrFormat: its headers do not build
// with -Wpedantic -Werror under clang when Abseil is built from source, as
// in the TSan configuration.)
template <class... Args>
void Append(std::string* out, const char* format, Args... args) {
  char line[512];
  int n = std::snprintf(line, sizeof line, format, args...);
  if (n > 0) out->append(line, std::min(static_cast<size_t>(n), sizeof line - 1));
}

double Worker(const Samples& s, const std::string& name, int w) {
  std::string key;
  Append(&key, "worker_%s{worker=\"%d\"}", name.c_str(), w);
  return Get(s, key);
}

// Per second since `before`, or 0 on the first screen.
double Rate(const Samples& now, const Samples* before, double seconds, const std::string& name) {
  if (before == nullptr || seconds <= 0) return 0;
  return (Get(now, name) - Get(*before, name)) / seconds;
}

std::string Screen(const std::string& target, const Samples& s, const Samples* before,
                   double seconds) {
  auto r = [&](const char* name) { return Rate(s, before, seconds, name); };
  std::string out;
  Append(&out, "nanorun top - %s   up %.1fs   %d workers\n\n", target.c_str(),
         Get(s, "uptime_seconds"), static_cast<int>(Get(s, "workers")));
  Append(&out,
                        "Tasks:  %8.0f alive %10.0f spawned (%8.0f/s) %10.0f completed "
                        "%6.0f aborted\n",
                        Get(s, "tasks_alive"), Get(s, "tasks_spawned_total"),
                        r("tasks_spawned_total"), Get(s, "tasks_completed_total"),
                        Get(s, "tasks_aborted_total"));
  Append(&out,
                        "Polls:  %10.0f (%8.0f/s)   steals %6.0f   parks %8.0f (%6.0f/s)   "
                        "yields %6.0f\n",
                        Get(s, "polls_total"), r("polls_total"), Get(s, "steals_total"),
                        Get(s, "parks_total"), r("parks_total"),
                        Get(s, "budget_forced_yields_total"));
  Append(&out, "Timers: %8.0f pending %10.0f fired (%8.0f/s)   injector %6.0f\n",
                        Get(s, "timers_pending"), Get(s, "timers_fired_total"),
                        r("timers_fired_total"), Get(s, "injector_depth"));
  Append(&out, "I/O:    %8.0f sockets %10.0f events (%8.0f/s)\n",
                        Get(s, "io_registrations"), Get(s, "io_events_total"),
                        r("io_events_total"));
  Append(&out, "Blocking: %6.0f threads %6.0f busy %6.0f queued\n\n",
                        Get(s, "blocking_threads"), Get(s, "blocking_busy"),
                        Get(s, "blocking_queued"));
  Append(&out, "%6s %7s %10s %7s %9s %8s\n", "WORKER", "BUSY%", "POLLS/s", "QUEUE",
                        "PARKS/s", "STEALS");
  int workers = static_cast<int>(Get(s, "workers"));
  for (int w = 0; w < workers; ++w) {
    double busy = 0, polls = 0, parks = 0;
    if (before != nullptr && seconds > 0) {
      busy = 100 * (Worker(s, "busy_seconds_total", w) - Worker(*before, "busy_seconds_total", w)) /
             seconds;
      polls = (Worker(s, "polls_total", w) - Worker(*before, "polls_total", w)) / seconds;
      parks = (Worker(s, "parks_total", w) - Worker(*before, "parks_total", w)) / seconds;
    }
    Append(&out, "%6d %7.1f %10.0f %7.0f %9.0f %8.0f\n", w, busy, polls,
                          Worker(s, "local_queue_depth", w), parks, Worker(s, "steals_total", w));
  }
  return out;
}

int Usage() {
  std::fprintf(stderr, "usage: nanorun_top HOST:PORT [--interval SECONDS] [--iterations N]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return Usage();
  std::string target = argv[1];
  size_t colon = target.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(target.substr(colon + 1), &port) ||
      port <= 0 || port > 65535) {
    return Usage();
  }
  std::string host = target.substr(0, colon);
  double interval = 1;
  long iterations = -1;  // Forever.
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--interval" && absl::SimpleAtod(argv[i + 1], &interval) && interval > 0) continue;
    if (flag == "--iterations" && absl::SimpleAtoi(argv[i + 1], &iterations)) continue;
    return Usage();
  }
  bool tty = isatty(STDOUT_FILENO) != 0;
  nanorun::Runtime rt = nanorun::Runtime::with_workers(1);
  std::unique_ptr<Samples> before;
  absl::Time last;
  for (long n = 0; iterations < 0 || n < iterations; ++n) {
    if (n > 0) absl::SleepFor(absl::Seconds(interval));
    auto page = rt.block_on([host, port] {
      return nanorun::time::timeout(absl::Seconds(5), Fetch(host, static_cast<uint16_t>(port)));
    });
    absl::Time now = absl::Now();
    if (!page.ok()) {
      std::fprintf(stderr, "nanorun_top: %s: %s\n", target.c_str(), page.status().ToString().c_str());
      return 1;
    }
    auto samples = std::make_unique<Samples>(Parse(*page));
    if (samples->count("nanorun_workers") == 0) {
      std::fprintf(stderr, "nanorun_top: %s/metrics has no nanorun metrics\n", target.c_str());
      return 1;
    }
    std::string screen =
        Screen(target, *samples, before.get(), before ? absl::ToDoubleSeconds(now - last) : 0);
    // On a terminal, redraw in place (home, clear); piped, one screen after another.
    std::printf("%s%s\n", tty ? "\033[H\033[2J" : "", screen.c_str());
    std::fflush(stdout);
    before = std::move(samples);
    last = now;
  }
  return 0;
}
