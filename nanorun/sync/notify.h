// nanorun::sync::Notify: wakes tasks waiting for "something happened", without
// a value (tokio's Notify). notified() returns a Future<void> that settles at
// the next notification:
//   notify_one(): the first waiter (FIFO) is woken; if none waits, one permit is
//     kept, and the next notified() completes at once (several notify_one()s
//     with nobody waiting keep one permit, not several);
//   notify_all(): every current waiter is woken; nothing is kept for later ones.
//
// The usual pattern, with the state it guards checked after each wake:
//   return repeat([=] {
//     if (queue->has_work()) return make_ready_future(true);
//     return notify.notified().then([] { return false; });
//   });
// Set the state before notifying, so a waiter that registers after the check
// still sees it (notify_one's permit covers the moment in between).
//
// Cancel rules: a notified() that is stopped (dropped, timed out, its task
// aborted) leaves the queue and takes no notification. If a notify_one picked it
// at that moment and its consumer had already gone, the notification passes on
// to the next waiter (or becomes the permit). A notification that reached a
// future (it is ready) is consumed, even if the future is then dropped unread.
//
// Notify is a cheap copyable handle; copies share one notifier, and waiters
// keep it alive.
#ifndef NANORUN_SYNC_NOTIFY_H_
#define NANORUN_SYNC_NOTIFY_H_

#include <memory>

#include "nanorun/future/future.h"
#include "nanorun/sync/wait_list.h"
#include "nanorun/sys/spin_lock.h"

namespace nanorun {
inline namespace v0 {
namespace sync {

namespace detail {
class NotifyCore;
}

// Wakes tasks waiting for "something happened" (see the file's comment).
// A cheap copyable handle: copies share one notifier.
class Notify {
 public:
  // A notifier with nobody waiting and no permit kept.
  Notify();
  // Wakes the first waiter, or keeps one permit for the next notified().
  void notify_one() const;
  // Wakes every current waiter; keeps nothing for later ones.
  void notify_all() const;
  // Settles at the next notification (or at once, taking the kept permit).
  // Stopped: it leaves the queue and takes no notification.
  Future<void> notified() const;

 private:
  std::shared_ptr<detail::NotifyCore> core_;
};

namespace detail {

class NotifyCore : public std::enable_shared_from_this<NotifyCore> {
 public:
  void notify_one();
  void notify_all();
  Future<void> notified();

 private:
  using NotifyWaiter = Waiter<void, NotifyCore>;
  static nanorun::detail::StopStep OnStop(nanorun::detail::StateBase* state);

  mutable sys::SpinLock mu_;
  bool permit_ = false;  // Guarded by mu_: a notify_one nobody waited for.
  WaitList waiters_;     // Guarded by mu_.
};

}  // namespace detail
}  // namespace sync
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_SYNC_NOTIFY_H_
