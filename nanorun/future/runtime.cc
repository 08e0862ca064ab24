// Runtime construction and destruction.
#include "nanorun/future/runtime.h"

#include <cstdio>
#include <cstdlib>
#include <thread>

namespace nanorun {
namespace {

size_t DefaultWorkers() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

executor::Executor* CreateOrDie(size_t workers) {
  executor::Executor* e = nullptr;
  absl::Status status = executor::Executor::Create(workers, &e);
  if (!status.ok()) {
    std::fprintf(stderr,
                 "nanorun: could not create a runtime: %s (use "
                 "Runtime::create() to handle this as a status)\n",
                 status.ToString().c_str());
    std::abort();
  }
  return e;
}

}  // namespace

Runtime::Runtime() : e_(CreateOrDie(DefaultWorkers())) {}

Runtime Runtime::with_workers(size_t n) { return Runtime(CreateOrDie(n)); }

absl::StatusOr<Runtime> Runtime::create(size_t workers) {
  executor::Executor* e = nullptr;
  absl::Status status = executor::Executor::Create(workers, &e);
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

}  // namespace nanorun
