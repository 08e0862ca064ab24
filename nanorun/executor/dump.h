// TaskDump: every live task of a runtime, from Handle::dump(), for finding
// the chain that never completes. What it shows of a task depends on
// whether the task is traced (task/trace.h): every task has an id and a
// state; a traced one (spawned with a name, or on a runtime with
// RuntimeOptions::trace_tasks) also has its name, its poll count, how long
// ago it was last polled, and what its last poll left it waiting on.
//
// Taking one walks the runtime's task registry, one shard lock at a time
// (spawns and frees on that shard wait meanwhile): meant for a debug
// endpoint or a signal handler's thread, not for every request. Tasks that
// are never idle (those the runtime knows finish on their first poll) are
// not in the registry and not listed; they are queued or running, briefly.
#ifndef NANORUN_EXECUTOR_DUMP_H_
#define NANORUN_EXECUTOR_DUMP_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace nanorun {
inline namespace v0 {

struct TaskDumpEntry {
  enum class State {
    kIdle,      // Waiting for a wake (see waits_on).
    kNotified,  // Woken, queued for a worker.
    kRunning,   // Being polled on a worker right now.
  };
  // The task's address: unique among live tasks, the TaskMeta::id its hooks saw.
  const void* id = nullptr;
  State state = State::kIdle;
  // Whether the fields below were recorded (see the file comment).
  bool traced = false;
  // Its TaskOptions name or spawn site ("server.cc:42"); empty if none.
  std::string name;
  // Polls so far.
  uint64_t polls = 0;
  // Since its last poll began; InfiniteDuration if never polled.
  absl::Duration since_last_poll = absl::InfiniteDuration();
  // What its last poll left it waiting on: "timer", "socket read",
  // "socket write", "channel", "lock", "blocking job", "task", "promise",
  // "continuation chain", "operation", or "unknown".
  std::string waits_on;
};

// A short name for a state: "idle", "notified", "running".
const char* TaskStateName(TaskDumpEntry::State state);

struct TaskDump {
  // Live tasks, in no particular order.
  std::vector<TaskDumpEntry> tasks;
  // One line per task, the longest-unpolled traced tasks first, e.g.
  //   task 0x7f2a0c001e40 "stuck-chain" idle, polled 1 time(s), last 2.5s ago, waits on promise
  std::string to_string() const;
};

}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_EXECUTOR_DUMP_H_
