// Runtime construction and destruction.
#include "nanorun/future/runtime.h"

#include <cstdio>
#include <cstdlib>
#include <thread>

namespace nanorun {
inline namespace v0 {
namespace {

size_t DefaultWorkers() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

blocking::PoolOptions PoolOptionsOf(const RuntimeOptions& options) {
  blocking::PoolOptions pool;
  pool.max_threads = options.max_blocking_threads == 0 ? 1 : options.max_blocking_threads;
  pool.keep_alive = options.blocking_keep_alive;
  return pool;
}

executor::ObserveOptions ObserveOf(const RuntimeOptions& options) {
  executor::ObserveOptions observe;
  observe.hooks = options.hooks;
  observe.trace_tasks = options.trace_tasks;
  observe.stall = options.stall_detector;
  return observe;
}

reactor::Choice ReactorOf(const RuntimeOptions& options) {
  reactor::Choice choice;
  choice.backend = options.reactor;
  choice.log = options.log;
  return choice;
}

executor::Executor* CreateOrDie(const RuntimeOptions& options) {
  executor::Executor* e = nullptr;
  absl::Status status = executor::Executor::Create(
      options.workers == 0 ? DefaultWorkers() : options.workers,
      time::Clock(options.clock), &e, PoolOptionsOf(options), ObserveOf(options),
      ReactorOf(options));
  if (!status.ok()) {
    std::fprintf(stderr,
                 "nanorun: could not create a runtime: %s (use "
                 "Runtime::create() to handle this as a status)\n",
                 status.ToString().c_str());
    std::abort();
  }
  return e;
}

RuntimeOptions WithWorkers(size_t n) {
  RuntimeOptions options;
  options.workers = n == 0 ? 1 : n;
  return options;
}

}  // namespace

Runtime::Runtime() : e_(CreateOrDie(RuntimeOptions())) {}

Runtime::Runtime(const RuntimeOptions& options) : e_(CreateOrDie(options)) {}

Runtime Runtime::with_workers(size_t n) { return Runtime(CreateOrDie(WithWorkers(n))); }

absl::StatusOr<Runtime> Runtime::create(size_t workers) {
  return create(WithWorkers(workers));
}

absl::StatusOr<Runtime> Runtime::create(const RuntimeOptions& options) {
  executor::Executor* e = nullptr;
  absl::Status status = executor::Executor::Create(
      options.workers == 0 ? DefaultWorkers() : options.workers,
      time::Clock(options.clock), &e, PoolOptionsOf(options), ObserveOf(options),
      ReactorOf(options));
  if (!status.ok()) return status;
  return Runtime(e);
}

Runtime& Runtime::operator=(Runtime&& other) noexcept {
  if (this != &other) {
    this->~Runtime();
    e_ = std::exchange(other.e_, nullptr);
  }
  return *this;
}

ShutdownReport Runtime::shutdown(absl::Duration grace) {
  ShutdownReport report;
  if (e_ == nullptr) return report;
  executor::Executor::DrainReport d = e_->drain(absl::Now() + grace);
  report.tasks_finished = d.tasks_finished;
  report.tasks_cancelled = d.tasks_cancelled;
  report.blocking_finished = d.blocking.finished;
  report.blocking_cancelled = d.blocking.dropped;
  report.blocking_detached = d.blocking.detached;
  report.finished = report.tasks_finished + report.blocking_finished;
  report.cancelled = report.tasks_cancelled + report.blocking_cancelled;
  return report;
}

Runtime::~Runtime() {
  if (e_ == nullptr) return;
  e_->shutdown();
  std::exchange(e_, nullptr)->drop_ref();
}

}  // namespace v0
}  // namespace nanorun
