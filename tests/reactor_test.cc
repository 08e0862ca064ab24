// Layer: reactor. Parking with a timeout, and wakes from another thread that
// arrive before or during the park.
#include <atomic>
#include <memory>
#include <thread>

#include "absl/time/clock.h"
#include "nanorun/reactor/io.h"
#include "nanorun/reactor/reactor.h"
#include "tests/catch.h"

using nanorun::reactor::Reactor;

TEST_CASE("park returns after its timeout", "[reactor]") {
  std::unique_ptr<Reactor> r;
  REQUIRE(Reactor::Create(&r).ok());
  absl::Time start = absl::Now();
  r->park(absl::Milliseconds(20));
  // Never early (a spurious return is allowed, but not here in practice).
  CHECK(absl::Now() - start >= absl::Milliseconds(19));
  r->park(absl::ZeroDuration());  // Just looks; returns.
}

TEST_CASE("a wake before park is not lost", "[reactor]") {
  std::unique_ptr<Reactor> r;
  REQUIRE(Reactor::Create(&r).ok());
  r->wake();
  absl::Time start = absl::Now();
  r->park(absl::Seconds(30));
  CHECK(absl::Now() - start < absl::Seconds(10));
}

TEST_CASE("a wake from another thread ends a park", "[reactor]") {
  std::unique_ptr<Reactor> r;
  REQUIRE(Reactor::Create(&r).ok());
  for (int i = 0; i < 100; ++i) {
    std::atomic<bool> returned{false};
    std::thread parker([&] {
      r->park(absl::InfiniteDuration());
      returned = true;
    });
    r->wake();
    parker.join();  // Hangs (and the test times out) if the wake was lost.
    CHECK(returned.load());
  }
  CHECK(std::string(r->name()).size() > 0);
}

TEST_CASE("a registration made after close_all starts closed", "[reactor][io]") {
  // Shutdown closes every registration; a socket registered while it runs must
  // not slip past and leave its operations waiting forever.
  nanorun::reactor::IoSlab slab;
  nanorun::reactor::IoRegistration* before = slab.allocate(100);
  REQUIRE(before != nullptr);
  CHECK(!before->is_closed());
  slab.close_all();
  CHECK(before->is_closed());
  nanorun::reactor::IoRegistration* after = slab.allocate(101);
  REQUIRE(after != nullptr);
  CHECK(after->is_closed());
  slab.release(before);
  slab.release(after);
}
