// RuntimeHooks: code a runtime calls at points of its threads' and tasks'
// lives (RuntimeOptions::hooks), for tracing, thread-local setup, CPU
// pinning or counting of one's own. Every hook is optional; one left unset
// costs a test of an empty std::function where it would run, and nothing on
// a task's poll path.
//
// Hooks run on the runtime's threads, often many at once: they must be
// thread-safe, quick, and must not block (a slow on_park delays the wake it
// precedes), spawn, or wait on the runtime. They are called exactly as
// documented below, and never after the Runtime's destructor returned.
#ifndef NANORUN_EXECUTOR_HOOKS_H_
#define NANORUN_EXECUTOR_HOOKS_H_

#include <cstddef>
#include <functional>
#include <string>

#include "absl/time/time.h"

namespace nanorun {
inline namespace v0 {

// The task a task hook is about.
struct TaskMeta {
  // The task's address: unique among live tasks (another task may reuse it
  // after this one ended), the same in on_task_spawn and on_task_terminate.
  const void* id = nullptr;
};

struct RuntimeHooks {
  // Worker threads are named this plus their index ("nanorun-w0", ...), as
  // top -H, gdb and /proc show them (Linux keeps 15 bytes). Empty: unnamed.
  std::string thread_name_prefix = "nanorun-w";

  // On each worker thread, with its index: first thing once started, before
  // it runs any task; and last thing before it exits (at shutdown), after it
  // ran its last.
  std::function<void(size_t worker)> on_thread_start;
  std::function<void(size_t worker)> on_thread_stop;

  // On a worker about to sleep for lack of work, and just after it woke:
  // each on_park is followed by one on_unpark (at shutdown too).
  std::function<void(size_t worker)> on_park;
  std::function<void(size_t worker)> on_unpark;

  // On the spawning thread, before the task can run; and where the task
  // ended: on the worker that polled it to completion or abort, on the
  // thread running the runtime's shutdown for the tasks it cancelled, on
  // the thread that dropped the last reference of a task freed unfinished
  // (nothing could wake it), or on the spawning thread right away for a
  // spawn refused after shutdown. Each
  // spawned task gets exactly one on_task_terminate, after its
  // on_task_spawn.
  std::function<void(const TaskMeta&)> on_task_spawn;
  std::function<void(const TaskMeta&)> on_task_terminate;
};

// A poll (or a batch of timer or I/O continuations) that held a worker
// longer than StallDetector::threshold.
struct StallReport {
  size_t worker = 0;
  // How long the worker was held.
  absl::Duration duration = absl::ZeroDuration();
  // "poll" (a task's poll, with the continuations it ran), "timers" (due
  // timers and what their completions ran) or "io" (I/O completions).
  const char* what = "poll";
  // The polled task's name if it is traced and named, else empty.
  std::string task_name;
  // The polled task's id (TaskMeta::id), or nullptr for timers and io.
  const void* task_id = nullptr;
};

// Off by default. When threshold > 0, each worker times its polls and its
// timer and I/O batches (two clock reads each), and reports each one that
// took longer, once, when it ends, to `sink` (on that worker: the sink must
// be quick and thread-safe), or to stderr if `sink` is unset. A poll that
// never returns is never reported: Handle::metrics() shows that worker busy,
// and Handle::dump() shows the task running.
struct StallDetector {
  absl::Duration threshold = absl::ZeroDuration();
  std::function<void(const StallReport&)> sink;
};

}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_EXECUTOR_HOOKS_H_
