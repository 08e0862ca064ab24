// NoteWait and the names of wait kinds (trace.h).
#include "nanorun/task/trace.h"

namespace nanorun {
inline namespace v0 {
namespace task {
namespace {

// The trace of the task this thread is polling, if it is traced. Whether a
// wait was noted in this poll is its own flag, so a poll's first note wins
// without reading the shared `wait` field back.
thread_local TaskTrace* tl_polled = nullptr;
thread_local bool tl_noted = false;

}  // namespace

const char* WaitKindName(WaitKind kind) {
  switch (kind) {
    case WaitKind::kUnknown: return "unknown";
    case WaitKind::kTimer: return "timer";
    case WaitKind::kSocketRead: return "socket read";
    case WaitKind::kSocketWrite: return "socket write";
    case WaitKind::kChannel: return "channel";
    case WaitKind::kLock: return "lock";
    case WaitKind::kBlocking: return "blocking job";
    case WaitKind::kTask: return "task";
    case WaitKind::kPromise: return "promise";
    case WaitKind::kChain: return "continuation chain";
    case WaitKind::kOperation: return "operation";
  }
  return "unknown";
}

void SetPolledTrace(TaskTrace* trace) {
  tl_polled = trace;
  tl_noted = false;
}

void NoteWait(WaitKind kind) {
  TaskTrace* trace = tl_polled;
  if (trace == nullptr || tl_noted) return;
  tl_noted = true;
  trace->wait.store(kind, std::memory_order_relaxed);
}

}  // namespace task
}  // namespace v0
}  // namespace nanorun
