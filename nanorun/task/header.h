// The type-erased part of every task: the Header at offset 0 of the task's
// single allocation, the per-type vtable, and the Scheduler interface through
// which a woken task is queued. Queues, wakers and join handles all hold a
// Header* and never know the task's body type.
#ifndef NANORUN_TASK_HEADER_H_
#define NANORUN_TASK_HEADER_H_

#include "nanorun/task/state.h"
#include "nanorun/waker/waker.h"

namespace nanorun {
inline namespace v0 {
namespace task {

struct Header;

// Implemented by the executor. The task layer sits below the executor, so it
// reaches the executor only through this interface.
class Scheduler {
 public:
  // Queues `task`, taking ownership of one reference (its Notified
  // reference). `is_yield`: the task woke itself while running, so it goes
  // behind other runnable work rather than into a LIFO slot.
  virtual void schedule(Header* task, bool is_yield) = 0;
  // The task's memory is being freed (last reference dropped): forget it.
  // If it is not complete, it ended here, unfinished: its JoinHandle and
  // every waker were dropped while it waited, so nothing could run it again.
  // Called only for tasks in the scheduler's registry (not kUnregistered):
  // the scheduler stays alive until every one of those was freed, because a
  // wake racing shutdown may still call schedule(). An unregistered task is
  // complete or queued-until-run, so it never reaches a freed scheduler.
  virtual void task_freed(Header* task) = 0;

 protected:
  ~Scheduler() = default;
};

// What one poll did, for the executor's counters (metrics, hooks): returned
// rather than reported through a call, so the poll path stays one indirect
// call.
enum class PollOutcome : unsigned char {
  kPending,    // Still running: it waits on something, or was queued again.
  kCompleted,  // Its body finished (with a value or an error).
  kAborted,    // Cancelled by JoinHandle::abort() before its body finished.
  kNothing,    // Nothing ran (already complete), or it was freed unfinished
               // (see Scheduler::task_freed).
};

// One per body type (a static table), so the header stays small.
struct TaskVTable {
  // Worker: poll once. Consumes the caller's Notified reference.
  PollOutcome (*poll)(Header*);
  // Runtime shutdown: cancel the task if it is idle. Consumes nothing.
  // True if this call cancelled it (it had not ended before).
  bool (*shutdown)(Header*);
  // Frees the allocation (refs reached zero).
  void (*dealloc)(Header*);
  // JoinHandle: move-construct the output into raw storage at `out` (sized
  // and aligned for the task's Output type).
  void (*read_output)(Header*, void* out);
  // JoinHandle dropped after completion: destroy the unread output.
  void (*drop_output)(Header*);
};

struct Header {
  Header(const TaskVTable* vt, Scheduler* sched, uint64_t refs)
      : state(refs), vtable(vt), scheduler(sched) {}

  State state;
  const TaskVTable* vtable;
  // Where wakes send the task. Outlives every registered task (the executor
  // waits for each to be freed before it frees itself); see task_freed.
  Scheduler* scheduler;
  // Intrusive link used by whichever shared queue holds the Notified
  // reference (at most one at a time, guaranteed by NOTIFIED).
  Header* queue_next = nullptr;
  // Intrusive links of the scheduler's registry of allocated tasks (not a
  // reference); written only under that registry's lock.
  Header* owned_prev = nullptr;
  Header* owned_next = nullptr;
  // The JoinHandle's waker; see JOIN_WAKER in state.h for who may touch it.
  RawWaker join_waker{nullptr, &detail::kNoopWakerVTable};
  // (A traced task's TaskTrace is not here: see State::kTraced.)
};

// The waker of a task: data is the Header*, each clone is one reference.
extern const RawWakerVTable kTaskWakerVTable;

// Wakes `task` consuming one reference / without consuming it.
void WakeByVal(Header* task);
void WakeByRef(Header* task);
// Drops one reference, freeing the task if it was the last.
void DropRef(Header* task);

}  // namespace task
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_TASK_HEADER_H_
