// Layer: waker. The manual vtable: clone/wake/wake_by_ref/drop are called
// exactly when Waker's copy, wake, wake_by_ref and destructor say.
#include "nanorun/waker/poll.h"
#include "nanorun/waker/waker.h"
#include "tests/catch.h"

namespace {

struct Counts {
  int clones = 0;
  int wakes = 0;
  int wakes_by_ref = 0;
  int drops = 0;
};

const nanorun::RawWakerVTable kCountingVTable = {
    [](const void* d) {
      static_cast<Counts*>(const_cast<void*>(d))->clones++;
      return nanorun::RawWaker{d, &kCountingVTable};
    },
    [](const void* d) { static_cast<Counts*>(const_cast<void*>(d))->wakes++; },
    [](const void* d) {
      static_cast<Counts*>(const_cast<void*>(d))->wakes_by_ref++;
    },
    [](const void* d) { static_cast<Counts*>(const_cast<void*>(d))->drops++; },
};

nanorun::Waker MakeWaker(Counts* c) {
  return nanorun::Waker::from_raw(nanorun::RawWaker{c, &kCountingVTable});
}

}  // namespace

TEST_CASE("copy clones and destruction drops", "[waker]") {
  Counts c;
  {
    nanorun::Waker w = MakeWaker(&c);
    nanorun::Waker copy = w;
    CHECK(c.clones == 1);
    CHECK(copy.will_wake(w));
  }
  CHECK(c.drops == 2);
}

TEST_CASE("wake consumes; wake_by_ref does not", "[waker]") {
  Counts c;
  {
    nanorun::Waker w = MakeWaker(&c);
    w.wake_by_ref();
    CHECK(c.wakes_by_ref == 1);
    CHECK(c.drops == 0);
    w.wake();
    CHECK(c.wakes == 1);
    CHECK(w.is_noop());
  }
  // wake() consumed the waker, so destruction dropped nothing more.
  CHECK(c.drops == 0);
}

TEST_CASE("move transfers without clone or drop", "[waker]") {
  Counts c;
  {
    nanorun::Waker w = MakeWaker(&c);
    nanorun::Waker moved = std::move(w);
    CHECK(c.clones == 0);
    CHECK(w.is_noop());
    CHECK_FALSE(moved.will_wake(w));
  }
  CHECK(c.drops == 1);
}

TEST_CASE("assignment drops the old waker", "[waker]") {
  Counts a, b;
  nanorun::Waker w = MakeWaker(&a);
  w = MakeWaker(&b);
  CHECK(a.drops == 1);
  nanorun::Waker other = MakeWaker(&a);
  w = other;
  CHECK(b.drops == 1);
  CHECK(a.clones == 1);
}

TEST_CASE("noop waker does nothing and is the default", "[waker]") {
  nanorun::Waker w;
  w.wake_by_ref();
  nanorun::Waker copy = w;
  CHECK(copy.is_noop());
  CHECK(copy.will_wake(nanorun::Waker::noop()));
  nanorun::Context cx(w);
  CHECK(&cx.waker() == &w);
}

TEST_CASE("into_raw gives up ownership", "[waker]") {
  Counts c;
  nanorun::RawWaker raw;
  {
    nanorun::Waker w = MakeWaker(&c);
    raw = std::move(w).into_raw();
  }
  CHECK(c.drops == 0);
  raw.vtable->drop(raw.data);
  CHECK(c.drops == 1);
}

TEST_CASE("Poll holds a value only when ready", "[poll]") {
  auto p = nanorun::Poll<int>::pending();
  CHECK(p.is_pending());
  auto r = nanorun::Poll<int>::ready(7);
  REQUIRE(r.is_ready());
  CHECK(r.value() == 7);
  CHECK(nanorun::Poll<void>::ready().is_ready());
  CHECK(nanorun::Poll<void>::pending().is_pending());
}
