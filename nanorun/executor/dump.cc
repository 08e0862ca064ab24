// TaskDump's text form (dump.h).
#include "nanorun/executor/dump.h"

#include <algorithm>
#include <cstdio>

namespace nanorun {
inline namespace v0 {

const char* TaskStateName(TaskDumpEntry::State state) {
  switch (state) {
    case TaskDumpEntry::State::kIdle: return "idle";
    case TaskDumpEntry::State::kNotified: return "notified";
    case TaskDumpEntry::State::kRunning: return "running";
  }
  return "idle";
}

std::string TaskDump::to_string() const {
  std::vector<const TaskDumpEntry*> order;
  order.reserve(tasks.size());
  for (const TaskDumpEntry& e : tasks) order.push_back(&e);
  // The task that has waited longest is the likeliest to be stuck: first.
  std::stable_sort(order.begin(), order.end(), [](const TaskDumpEntry* a, const TaskDumpEntry* b) {
    if (a->traced != b->traced) return a->traced;
    return a->since_last_poll > b->since_last_poll;
  });
  std::string out;
  char line[160];
  std::snprintf(line, sizeof line, "%zu live task(s)\n", tasks.size());
  out += line;
  for (const TaskDumpEntry* e : order) {
    std::snprintf(line, sizeof line, "task %p", e->id);
    out += line;
    if (!e->name.empty()) out += " \"" + e->name + "\"";
    out += " ";
    out += TaskStateName(e->state);
    if (e->traced) {
      std::snprintf(line, sizeof line, ", polled %llu time(s)",
                    static_cast<unsigned long long>(e->polls));
      out += line;
      if (e->since_last_poll != absl::InfiniteDuration()) {
        out += ", last " + absl::FormatDuration(absl::Trunc(e->since_last_poll, absl::Microseconds(1))) +
               " ago";
      }
      out += ", waits on " + e->waits_on;
    } else {
      out += " (untraced: spawn it with a name, or set RuntimeOptions::trace_tasks)";
    }
    out += "\n";
  }
  return out;
}

}  // namespace v0
}  // namespace nanorun
