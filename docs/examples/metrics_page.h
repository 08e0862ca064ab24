// A runtime's metrics as a Prometheus text page (exposition format 0.0.4),
// and its task dump as plain text: what http_hello serves at /metrics and
// /debug/tasks, and what tools/top reads. Copy it into a service of yours.
#ifndef NANORUN_DOCS_EXAMPLES_METRICS_PAGE_H_
#define NANORUN_DOCS_EXAMPLES_METRICS_PAGE_H_

#include <string>

#include "nanorun/nanorun.h"

namespace examples {

// Every field of RuntimeMetrics as a metric named nanorun_<field>: counters
// end in _total (busy time in _seconds_total), gauges do not, and the
// per-worker fields carry a worker="N" label.
std::string PrometheusPage(const nanorun::RuntimeMetrics& m);

}  // namespace examples

#endif  // NANORUN_DOCS_EXAMPLES_METRICS_PAGE_H_
