// PrometheusPage (see metrics_page.h).
#include "docs/examples/metrics_page.h"

#include <cstdint>
#include <algorithm>
#include <cstdio>

namespace examples {
namespace {

// snprintf, appended to *out. (Not absl::StrFormat: its headers do not build
// with -Wpedantic -Werror under clang when Abseil is built from source, as
// in the TSan configuration.)
template <class... Args>
void Append(std::string* out, const char* format, Args... args) {
  char line[512];
  int n = std::snprintf(line, sizeof line, format, args...);
  if (n > 0) out->append(line, std::min(static_cast<size_t>(n), sizeof line - 1));
}

// One metric without labels: its HELP and TYPE lines, then the sample.
void Add(std::string* out, const char* name, const char* type, const char* help, double value) {
  Append(out, "# HELP nanorun_%s %s\n# TYPE nanorun_%s %s\nnanorun_%s %.17g\n", name, help, name,
         type, name, value);
}

// One per-worker metric: HELP and TYPE once, then a sample per worker.
template <class Field>
void AddPerWorker(std::string* out, const nanorun::RuntimeMetrics& m, const char* name,
                  const char* type, const char* help, Field field) {
  Append(out, "# HELP nanorun_worker_%s %s\n# TYPE nanorun_worker_%s %s\n", name, help, name, type);
  for (size_t i = 0; i < m.per_worker.size(); ++i) {
    // %llu, not %zu: the Windows (mingw) C runtime's printf may not know %zu.
    Append(out, "nanorun_worker_%s{worker=\"%llu\"} %.17g\n", name,
           static_cast<unsigned long long>(i), static_cast<double>(field(m.per_worker[i])));
  }
}

}  // namespace

std::string PrometheusPage(const nanorun::RuntimeMetrics& m) {
  using W = nanorun::WorkerMetrics;
  std::string out;
  auto d = [](uint64_t v) { return static_cast<double>(v); };
  Add(&out, "workers", "gauge", "Worker threads.", d(m.workers));
  Add(&out, "uptime_seconds", "gauge", "Seconds since the runtime started.",
      absl::ToDoubleSeconds(m.uptime));
  Add(&out, "tasks_spawned_total", "counter", "Tasks spawned.", d(m.tasks_spawned));
  Add(&out, "tasks_completed_total", "counter", "Tasks whose body finished.", d(m.tasks_completed));
  Add(&out, "tasks_aborted_total", "counter", "Tasks that ended unfinished.", d(m.tasks_aborted));
  Add(&out, "tasks_alive", "gauge", "Tasks spawned and not yet ended.", d(m.tasks_alive));
  Add(&out, "polls_total", "counter", "Task polls.", d(m.polls));
  Add(&out, "steals_total", "counter", "Steals from a peer's queue.", d(m.steals));
  Add(&out, "tasks_stolen_total", "counter", "Tasks moved by steals.", d(m.tasks_stolen));
  Add(&out, "parks_total", "counter", "Times a worker went to sleep.", d(m.parks));
  Add(&out, "budget_forced_yields_total", "counter", "Times a budget made work wait.",
      d(m.budget_forced_yields));
  Add(&out, "busy_seconds_total", "counter", "Worker time spent awake, summed.",
      absl::ToDoubleSeconds(m.busy));
  Add(&out, "injector_depth", "gauge", "Tasks in the shared queue.", d(m.injector_depth));
  Add(&out, "blocking_threads", "gauge", "Blocking pool threads.", d(m.blocking_threads));
  Add(&out, "blocking_busy", "gauge", "Blocking pool threads running a job.", d(m.blocking_busy));
  Add(&out, "blocking_queued", "gauge", "Blocking jobs waiting for a thread.", d(m.blocking_queued));
  Add(&out, "timers_pending", "gauge", "Timers waiting.", d(m.timers_pending));
  Add(&out, "timers_fired_total", "counter", "Timers fired.", d(m.timers_fired));
  Add(&out, "io_registrations", "gauge", "Sockets registered with the reactor.",
      d(m.io_registrations));
  Add(&out, "io_events_total", "counter", "Readiness events delivered.", d(m.io_events));
  Add(&out, "io_ring_completions_total", "counter",
      "Socket operations completed through the io_uring ring.", d(m.io_ring_completions));
  AddPerWorker(&out, m, "polls_total", "counter", "Task polls on this worker.",
               [](const W& w) { return w.polls; });
  AddPerWorker(&out, m, "tasks_spawned_total", "counter", "Tasks spawned from this worker.",
               [](const W& w) { return w.tasks_spawned; });
  AddPerWorker(&out, m, "steals_total", "counter", "Steals by this worker.",
               [](const W& w) { return w.steals; });
  AddPerWorker(&out, m, "parks_total", "counter", "Times this worker slept.",
               [](const W& w) { return w.parks; });
  AddPerWorker(&out, m, "busy_seconds_total", "counter", "Time this worker was awake.",
               [](const W& w) { return absl::ToDoubleSeconds(w.busy); });
  AddPerWorker(&out, m, "local_queue_depth", "gauge", "Tasks in this worker's queue.",
               [](const W& w) { return w.local_queue_depth; });
  return out;
}

}  // namespace examples
