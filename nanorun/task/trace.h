// TaskTrace: what a traced task records for Handle::dump() (its name, when
// and how often it was polled, what its last poll left it waiting on). A
// task is traced when it was spawned with a name (TaskOptions, or
// NANORUN_SPAWN's spawn site), or when its runtime traces every task
// (RuntimeOptions::trace_tasks). An untraced task costs nothing in memory,
// and its poll path one test of a bit of its state word.
//
// Ownership: the scheduler keeps a traced task's trace beside the task's
// registry entry (the task's state word has State::kTraced; its header has no
// pointer, so untraced tasks pay no memory), and frees it when the task is
// freed. The polling worker writes it; a dump reads it while holding a
// reference on the task (so the task, and with it the trace, stays alive):
// hence the atomics.
#ifndef NANORUN_TASK_TRACE_H_
#define NANORUN_TASK_TRACE_H_

#include <atomic>
#include <cstdint>
#include <string>

namespace nanorun {
inline namespace v0 {
namespace task {

// What a pending task waits on, as far as the runtime knows.
enum class WaitKind : uint8_t {
  kUnknown,      // Never polled, or its poll said nothing.
  kTimer,        // A sleep, a timeout or an interval tick.
  kSocketRead,   // A socket (or fd) operation waiting to read or accept.
  kSocketWrite,  // ... waiting to write or connect.
  kChannel,      // A channel send or receive.
  kLock,         // A Mutex, Semaphore, Notify or Barrier.
  kBlocking,     // A spawn_blocking job.
  kTask,         // Another task's JoinHandle.
  kPromise,      // A future only its Promise's owner can settle.
  kChain,        // A chain of continuations (.then, repeat) still running.
  kOperation,    // Some other operation that can be stopped.
};

// A short human name for `kind` ("timer", "socket read", ...).
const char* WaitKindName(WaitKind kind);

struct TaskTrace {
  explicit TaskTrace(std::string n) : name(std::move(n)) {}
  const std::string name;  // Empty: traced but unnamed.
  // Steady-clock ns when the last poll began; 0 if never polled.
  std::atomic<int64_t> last_poll_ns{0};
  std::atomic<uint64_t> polls{0};
  // Set during a poll (the first note of that poll wins): see NoteWait.
  std::atomic<WaitKind> wait{WaitKind::kUnknown};
};

// The executor, around each poll of a traced task: the trace that NoteWait
// writes to on this thread (nullptr after the poll).
void SetPolledTrace(TaskTrace* trace);

// Called by what a task's poll starts waiting on (a sleep, a socket
// operation, a channel receive, ...): records `kind` as what the task being
// polled on this thread waits on, if it is traced and nothing was noted yet
// in this poll. Otherwise (untraced, or off a poll) does nothing: a
// thread-local load and a test.
void NoteWait(WaitKind kind);

}  // namespace task
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_TASK_TRACE_H_
