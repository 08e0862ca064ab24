// Shared by the benchmark programs (bench.cc for nanorun, asio_baseline.cc
// for the peer): heap measurement, and the JSON lines of WORKLOADS.md with
// the median of several runs.
#ifndef NANORUN_TOOLS_BENCH_REPORT_H_
#define NANORUN_TOOLS_BENCH_REPORT_H_

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace bench {

inline const char* g_impl = "nanorun";  // The "impl" field of every line.
// Memory figures come from the first run only (they do not vary).
inline bool g_first_run = true;
inline std::string g_memory_extra;  // Appended to the workload's printed line.

// Heap bytes in use, chunk headers included (glibc's main arena: the memory
// workloads allocate from the main thread). Elsewhere: resident set size,
// which undercounts when freed memory is reused.
inline long HeapBytes() {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  return static_cast<long>(mallinfo2().uordblks);
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
  long n;
  double seconds;
  double rate;
  std::string unit;
  std::string extra;
};
inline std::vector<Sample> g_samples;

inline void Report(const char* workload, long n, double seconds, double rate,
            const char* unit, const std::string& extra = "") {
  g_samples.push_back(Sample{workload, n, seconds, rate, unit, extra});
}

inline void PrintMedians() {
  std::vector<std::string> names;
  for (const Sample& s : g_samples) {
    if (std::find(names.begin(), names.end(), s.workload) == names.end()) {
      names.push_back(s.workload);
    }
  }
  for (const std::string& name : names) {
    std::vector<Sample> runs;
    for (const Sample& s : g_samples) {
      if (s.workload == name) runs.push_back(s);
    }
    std::sort(runs.begin(), runs.end(),
              [](const Sample& a, const Sample& b) { return a.rate < b.rate; });
    const Sample& m = runs[runs.size() / 2];
    std::printf(
        "{\"workload\": \"%s\", \"impl\": \"%s\", \"n\": %ld, "
        "\"seconds\": %.6f, \"rate\": %.6g, \"unit\": \"%s\", "
        "\"runs\": %zu, \"rate_min\": %.6g, \"rate_max\": %.6g%s}\n",
        m.workload.c_str(), g_impl, m.n, m.seconds, m.rate, m.unit.c_str(), runs.size(),
        runs.front().rate, runs.back().rate,
        (m.extra + g_memory_extra).c_str());
  }
  std::fflush(stdout);
  g_samples.clear();
  g_memory_extra.clear();
}

}  // namespace bench

#endif  // NANORUN_TOOLS_BENCH_REPORT_H_
