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

executor::Executor* CreateOrDie(const RuntimeOptions& options) {
  executor::Executor* e = nullptr;
  absl::Status status = executor::Executor::Create(
      options.workers == 0 ? DefaultWorkers() : options.workers,
      time::Clock(options.clock), &e);
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
      time::Clock(options.clock), &e);
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

Runtime::~Runtime() {
  if (e_ == nullptr) return;
  e_->shutdown();
  std::exchange(e_, nullptr)->drop_ref();
}

}  // namespace v0
}  // namespace nanorun
