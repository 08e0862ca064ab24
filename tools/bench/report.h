// Shared by the benchmark programs (bench.cc for nanorun, asio_baseline.cc
// for the peer): heap measurement, and the JSON lines of WORKLOADS.md with
// the median of several runs.
#ifndef NANORUN_TOOLS_BENCH_REPORT_H_
#define NANORUN_TOOLS_BENCH_REPORT_H_

#include <malloc.h>
#if !defined(_WIN32)
#include <unistd.h>
#endif

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace bench {

using Clock = std::chrono::steady_clock;

inline double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

inline const char* g_impl = "nanorun";  // The "impl" field of every line.
// Memory figures come from the first run only (they do not vary).
inline bool g_first_run = true;
// Threads of the runtime or pool under test (--workers; 2, the cores here).
inline int g_workers = 2;
inline std::string g_memory_extra;  // Appended to the workload's printed line.

// Heap bytes in use, chunk headers included (glibc's main arena: the memory
// workloads allocate from the main thread). Elsewhere: resident set size,
// which undercounts when freed memory is reused.
inline long HeapBytes() {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  return static_cast<long>(mallinfo2().uordblks);
#elif defined(_WIN32)
  return 0;  // No heap counter here: memory workloads report 0 (unknown).
#else
  std::ifstream statm("/proc/self/statm");
  long pages_total = 0, pages_resident = 0;
  if (!(statm >> pages_total >> pages_resident)) return 0;
  return pages_resident * sysconf(_SC_PAGESIZE);
#endif
}

// One run's figure. Each workload runs several times (--runs, default 5) in
// this process; the line printed is the run with the median rate, plus the
// min and max rates, because these machines are noisy (2 shared cores).
struct Sample {
  std::string workload;
  std::string impl;
  long n;
  double seconds;
  double rate;
  std::string unit;
  std::string extra;
};
inline std::vector<Sample> g_samples;

inline void Report(const char* workload, long n, double seconds, double rate,
            const char* unit, const std::string& extra = "") {
  g_samples.push_back(Sample{workload, g_impl, n, seconds, rate, unit, extra});
}

// timer_fire's line: its rate, and the p50, p99 and max of how long after
// its deadline each timer's code ran, in microseconds. Sorts `lateness_ns`.
inline void ReportTimerFire(long n, double seconds, std::vector<int64_t>& lateness_ns) {
  std::sort(lateness_ns.begin(), lateness_ns.end());
  auto pct = [&](double p) {
    return lateness_ns[static_cast<size_t>(p * static_cast<double>(n - 1))] / 1000.0;
  };
  char extra[160];
  std::snprintf(extra, sizeof(extra),
                ", \"lateness_p50_us\": %.0f, \"lateness_p99_us\": %.0f, \"lateness_max_us\": %.0f",
                pct(0.5), pct(0.99), lateness_ns.back() / 1000.0);
  Report("timer_fire", n, seconds, n / seconds, "timers/s", extra);
}

// One line per (workload, impl) seen since the last call, in first-seen
// order: a run may measure several implementations back to back.
inline void PrintMedians() {
  std::vector<std::pair<std::string, std::string>> keys;
  for (const Sample& s : g_samples) {
    auto key = std::make_pair(s.workload, s.impl);
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
  }
  for (const auto& key : keys) {
    std::vector<Sample> runs;
    for (const Sample& s : g_samples) {
      if (s.workload == key.first && s.impl == key.second) runs.push_back(s);
    }
    std::sort(runs.begin(), runs.end(),
              [](const Sample& a, const Sample& b) { return a.rate < b.rate; });
    const Sample& m = runs[runs.size() / 2];
    std::printf(
        "{\"workload\": \"%s\", \"impl\": \"%s\", \"n\": %ld, "
        "\"seconds\": %.6f, \"rate\": %.6g, \"unit\": \"%s\", "
        "\"runs\": %zu, \"rate_min\": %.6g, \"rate_max\": %.6g, \"workers\": %d%s}\n",
        m.workload.c_str(), m.impl.c_str(), m.n, m.seconds, m.rate, m.unit.c_str(), runs.size(),
        runs.front().rate, runs.back().rate, g_workers,
        (m.extra + g_memory_extra).c_str());
  }
  std::fflush(stdout);
  g_samples.clear();
  g_memory_extra.clear();
}

// A workload whose result is wrong measured nothing: say what and exit.
inline void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "bench (%s): check failed: %s\n", g_impl, what);
    std::exit(1);
  }
}

struct Workload {
  const char* name;
  std::function<void()> run;  // One run: measures and calls Report().
};

// The programs' main(): parses [--quick] [--runs N] [--only NAME] (--quick
// sets *scale to 10: every size / 10), runs each selected workload N times
// (default 5) and prints its median line. Returns the exit status.
inline int RunMain(int argc, char** argv, const char* impl, int* scale,
                   const std::vector<Workload>& workloads) {
  g_impl = impl;
  const char* default_impl = impl;
  std::string only;
  int runs = 5;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      *scale = 10;
    } else if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else if (std::strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
      only = argv[++i];
    } else if (std::strcmp(argv[i], "--workers") == 0 && i + 1 < argc) {
      g_workers = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: %s [--quick] [--runs N] [--only WORKLOAD] [--workers N]\n",
                   argv[0]);
      return 2;
    }
  }
  bool found = only.empty();
  for (const Workload& w : workloads) {
    // "--only tcp_echo" also selects "tcp_echo/raw_epoll" and "tcp_echo/nanorun".
    std::string name = w.name;
    if (!only.empty() && only != name && name.rfind(only + "/", 0) != 0) continue;
    found = true;
    for (int r = 0; r < runs; ++r) {
      g_first_run = (r == 0);
      g_impl = default_impl;
      w.run();
    }
    PrintMedians();
  }
  if (!found) {
    std::fprintf(stderr, "%s: no workload named '%s'\n", argv[0], only.c_str());
    return 2;
  }
  return 0;
}

}  // namespace bench

#endif  // NANORUN_TOOLS_BENCH_REPORT_H_
