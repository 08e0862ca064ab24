// nanorun::JoinSet<T>: a group of tasks to wait for, in the order they
// finish, or to cancel together (tokio's JoinSet).
//
//   nanorun::JoinSet<Reply> calls(handle);
//   for (auto& backend : backends) calls.spawn([backend] { return backend.ask(q); });
//   // join_next(): the next task to finish; nullopt once none is left.
//
// Each task's result (its value, its error, or CancelledError if it was
// aborted) is kept until join_next() hands it out, so none is lost: a
// join_next() that is stopped (dropped, timed out) takes no result, and the
// next join_next() gets it (the results travel through an unbounded
// channel, whose recv has that rule).
//
// Lifetimes: ~JoinSet aborts every task still in it (their results are
// dropped); abort_all() aborts them and keeps the set, so join_next() then
// returns each one's result (CancelledError for the ones that had not
// finished). A task already running finishes its current step first
// (docs/cancellation.md). Tasks keep what they need alive themselves; the set
// may go before them.
//
// A JoinSet is used by one owner at a time, like a Receiver: spawn, size and
// join_next are not for concurrent calls, and one join_next waits at a time.
#ifndef NANORUN_SYNC_JOIN_SET_H_
#define NANORUN_SYNC_JOIN_SET_H_

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "nanorun/future/future.h"
#include "nanorun/future/runtime.h"
#include "nanorun/sync/channel.h"

namespace nanorun {
inline namespace v0 {

template <class T>
// A group of tasks to wait for in the order they finish, or to cancel
// together (see the file's comment). Move-only.
class JoinSet {
 public:
  using Result = detail::Result<T>;  // absl::StatusOr<T>; absl::Status for void.

  // Tasks go to the runtime of the worker that calls spawn().
  JoinSet() : JoinSet(std::optional<Handle>()) {}
  // Tasks go to `handle`'s runtime (spawn may then be called from anywhere).
  explicit JoinSet(Handle handle) : JoinSet(std::optional<Handle>(std::move(handle))) {}
  JoinSet(JoinSet&&) noexcept = default;
  JoinSet& operator=(JoinSet&& other) noexcept {
    if (this != &other) {
      abort_all();
      handle_ = std::move(other.handle_);
      aborts_ = std::move(other.aborts_);
      channel_ = std::move(other.channel_);
      spawned_ = std::exchange(other.spawned_, 0);
      joined_ = std::move(other.joined_);
    }
    return *this;
  }
  JoinSet(const JoinSet&) = delete;
  JoinSet& operator=(const JoinSet&) = delete;
  ~JoinSet() { abort_all(); }

  // Runs f() as a task in this set. F returns what spawn() accepts (T,
  // Future<T>, absl::StatusOr<T>, ...), for this set's T. If it cannot be
  // spawned (no runtime), its result is that error.
  template <class F>
  void spawn(F f) {
    static_assert(std::is_same<detail::SpawnResult<F>, T>::value,
                  "JoinSet<T>::spawn(f): f must produce a T (or Future<T>, StatusOr<T>) for "
                  "this set's T");
    prune_finished();
    Reporter reporter(channel_.first);
    auto body = [f = std::move(f), reporter = std::move(reporter)]() mutable {
      return detail::CallToFuture<T>(f).then_result(
          [reporter = std::move(reporter)](Result r) mutable { reporter.report(std::move(r)); });
    };
    JoinHandle<void> task = handle_.has_value() ? handle_->spawn(std::move(body))
                                                : nanorun::spawn(std::move(body));
    if (!task.is_ready()) aborts_.push_back(task.abort_handle());
    ++spawned_;
    // `task` is dropped: the task is detached; its result comes through the
    // channel.
  }

  // The result of the next task to finish (in finishing order), or nullopt
  // if the set is empty. Stopped, it fails with CancelledError and takes no
  // result: the next join_next() gets it.
  Future<std::optional<Result>> join_next() {
    if (size() == 0) return make_ready_future(std::optional<Result>());
    return channel_.second.recv().then(
        [joined = joined_](std::optional<Outcome> r) -> std::optional<Result> {
          // nullopt only if the set was destroyed meanwhile (its channel closed).
          if (!r.has_value()) return std::nullopt;
          joined->fetch_add(1, std::memory_order_relaxed);
          return std::move(r->result);
        });
  }

  // A result that is ready now, without waiting; nullopt if none is. A
  // long-lived set (a server's in-flight jobs) calls it now and then so that
  // finished results do not pile up.
  std::optional<Result> try_join_next() {
    if (size() == 0) return std::nullopt;
    absl::StatusOr<Outcome> r = channel_.second.try_recv();
    if (!r.ok()) return std::nullopt;
    joined_->fetch_add(1, std::memory_order_relaxed);
    return std::move(r->result);
  }

  // Tasks in the set: spawned and not yet handed out by join_next.
  size_t size() const {
    return joined_ == nullptr ? 0 : spawned_ - joined_->load(std::memory_order_relaxed);
  }
  // True when no task (finished or not) is left to join.
  bool empty() const { return size() == 0; }

  // Aborts every task in the set; each one's result (CancelledError if it had
  // not finished) still comes out of join_next().
  void abort_all() {
    for (const AbortHandle& a : aborts_) a.abort();
    aborts_.clear();
  }

 private:
  // A task's result in the channel. A struct, because for JoinSet<void> the
  // result is an absl::Status, which a StatusOr (try_recv's) would take for
  // its own error.
  struct Outcome {
    Result result;
  };

  // Sends the task's result exactly once: the real one, or, if the task's
  // closure is destroyed before it got one (aborted before it ran, its
  // runtime shut down, or it could not be spawned), CancelledError.
  class Reporter {
   public:
    explicit Reporter(const sync::Sender<Outcome>& tx) : tx_(tx) {}
    Reporter(Reporter&& other) noexcept
        : tx_(std::move(other.tx_)), sent_(std::exchange(other.sent_, true)) {}
    Reporter& operator=(Reporter&&) = delete;
    ~Reporter() {
      if (!sent_) {
        report(Result(absl::CancelledError(
            "JoinSet: the task ended without a result: it was aborted (abort_all), its "
            "runtime shut down, or it could not be spawned (no runtime)")));
      }
    }
    void report(Result r) {
      sent_ = true;
      (void)tx_.try_send(Outcome{std::move(r)});  // Fails only once the set is gone.
    }

   private:
    sync::Sender<Outcome> tx_;
    bool sent_ = false;
  };

  explicit JoinSet(std::optional<Handle> handle)
      : handle_(std::move(handle)), channel_(sync::unbounded_channel<Outcome>()) {}

  // Drops the abort handles of finished tasks, now and then (amortised).
  void prune_finished() {
    if (aborts_.size() < 2 * size() + 16) return;
    std::vector<AbortHandle> live;
    for (AbortHandle& a : aborts_) {
      if (!a.is_finished()) live.push_back(std::move(a));
    }
    aborts_.swap(live);
  }

  std::optional<Handle> handle_;
  std::vector<AbortHandle> aborts_;  // Of tasks that may still be running.
  // The tasks' results; the set's own Sender keeps the channel open.
  std::pair<sync::Sender<Outcome>, sync::Receiver<Outcome>> channel_;
  size_t spawned_ = 0;
  // Results handed out; counted by join_next's callback, which may run on a
  // worker, and may outlive the set (so it holds this counter, not the set).
  std::shared_ptr<std::atomic<size_t>> joined_ = std::make_shared<std::atomic<size_t>>(0);
};

}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_SYNC_JOIN_SET_H_
