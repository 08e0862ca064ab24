// Layer: future. Allocation guarantees, checked by counting every operator
// new in this test binary: .then on a ready future allocates nothing, and a
// pending link costs exactly one allocation.
#include <atomic>
#include <cstdlib>
#include <new>

#include "nanorun/nanorun.h"
#include "tests/catch.h"

// Sanitizers replace operator new themselves (and check that what their new
// allocated is not freed with free), so the counting only runs without them.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define NANORUN_COUNT_ALLOCATIONS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define NANORUN_COUNT_ALLOCATIONS 0
#endif
#endif
#ifndef NANORUN_COUNT_ALLOCATIONS
#define NANORUN_COUNT_ALLOCATIONS 1
#endif

namespace {
std::atomic<long> g_allocations{0};
}  // namespace

#if NANORUN_COUNT_ALLOCATIONS
void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  std::abort();
}
void* operator new[](std::size_t size) { return operator new(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
#endif

TEST_CASE(".then on a ready future allocates nothing", "[future][alloc]") {
  if (!NANORUN_COUNT_ALLOCATIONS) {
    WARN("allocation counting is off under sanitizers");
    return;
  }
  nanorun::Future<int> f = nanorun::make_ready_future(1);
  long before = g_allocations.load();
  for (int i = 0; i < 1000; ++i) f = std::move(f).then([](int x) { return x + 1; });
  f = std::move(f).then_result([](absl::StatusOr<int> r) { return *r; });
  f = std::move(f).on_error([](absl::Status) { return 0; });
  f = std::move(f).finally([] {});
  long after = g_allocations.load();
  CHECK(after - before == 0);
  auto r = f.take_result();
  REQUIRE(r.ok());
  CHECK(*r == 1001);
}

TEST_CASE("a pending .then link is one allocation", "[future][alloc]") {
  if (!NANORUN_COUNT_ALLOCATIONS) {
    WARN("allocation counting is off under sanitizers");
    return;
  }
  nanorun::Promise<int> p;
  nanorun::Future<int> f = p.get_future();
  long before = g_allocations.load();
  for (int i = 0; i < 1000; ++i) f = std::move(f).then([](int x) { return x + 1; });
  // At most one (the block cache may even supply some without operator new).
  CHECK(g_allocations.load() - before <= 1000);
  p.set_value(0);
  CHECK(*f.take_result() == 1000);
}
