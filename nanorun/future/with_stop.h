// nanorun::with_stop: a StopToken that reaches a future. When the token's
// source requests stop, the future is asked to stop, exactly as if its
// consumer had dropped it or a timeout had passed (docs/cancellation.md): a
// sleep leaves the wheel, a socket operation waiting for data is disarmed, a
// chain stops at its next step. One StopSource can so stop a whole tree of
// work, across tasks.
#ifndef NANORUN_FUTURE_WITH_STOP_H_
#define NANORUN_FUTURE_WITH_STOP_H_

#include <memory>
#include <optional>
#include <utility>

#include "nanorun/cancel/stop_token.h"
#include "nanorun/future/combinators.h"
#include "nanorun/future/future.h"

namespace nanorun {
inline namespace v0 {

// `f`'s result; if `token` is stopped first, `f` is asked to stop (and the
// result is what it then settles with: CancelledError if it stopped, its value
// if it was completing; a future that cannot stop, such as a Promise's, is
// unaffected). A token already stopped asks at once. Dropping the returned
// future stops `f` too.
template <class T>
Future<T> with_stop(const StopToken& token, Future<T> f) {
  if (!token.stop_possible() || !f.valid()) return f;
  // Owned by the input's continuation; the callback holds it only while it
  // runs (a weak reference otherwise: no cycle through the callback).
  struct Shared : detail::CombinatorBase<T> {
    Shared() : detail::CombinatorBase<T>(1) {}
    std::optional<StopCallback> on_stop;  // Deregistered when Shared goes.
  };
  auto shared = std::make_shared<Shared>();
  Future<T> out = shared->future();
  shared->stopper.add(std::move(f).then_result(
      [link = detail::InputLink<Shared>(shared)](detail::Result<T> r) mutable {
        link.ran().try_settle(std::move(r));
      }));
  shared->stopper.attached();
  std::weak_ptr<Shared> weak = shared;
  shared->on_stop.emplace(token, [weak] {
    if (std::shared_ptr<Shared> s = weak.lock()) (void)s->stopper.stop_now();
  });
  return out;
}

}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_FUTURE_WITH_STOP_H_
