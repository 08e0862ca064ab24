// The task waker: data is a task Header*, and every RawWaker is one
// reference. wake() never allocates: it flips NOTIFIED and hands the task to
// its scheduler.
#include "nanorun/task/header.h"

namespace nanorun {
inline namespace v0 {
namespace task {
namespace {

Header* AsHeader(const void* data) {
  return static_cast<Header*>(const_cast<void*>(data));
}

RawWaker CloneWaker(const void* data) {
  AsHeader(data)->state.ref_inc();
  return RawWaker{data, &kTaskWakerVTable};
}
void WakeWaker(const void* data) { WakeByVal(AsHeader(data)); }
void WakeWakerByRef(const void* data) { WakeByRef(AsHeader(data)); }
void DropWaker(const void* data) { DropRef(AsHeader(data)); }

}  // namespace

const RawWakerVTable kTaskWakerVTable = {&CloneWaker, &WakeWaker,
                                         &WakeWakerByRef, &DropWaker};

void WakeByVal(Header* task) {
  switch (task->state.transition_to_notified_by_val()) {
    case State::NotifyResult::kSubmit:
      task->scheduler->schedule(task, /*is_yield=*/false);
      break;
    case State::NotifyResult::kDealloc:
      task->vtable->dealloc(task);
      break;
    case State::NotifyResult::kDoNothing:
      break;
  }
}

void WakeByRef(Header* task) {
  if (task->state.transition_to_notified_by_ref() ==
      State::NotifyResult::kSubmit) {
    task->scheduler->schedule(task, /*is_yield=*/false);
  }
}

void DropRef(Header* task) {
  if (task->state.ref_dec()) task->vtable->dealloc(task);
}

}  // namespace task
}  // namespace v0
}  // namespace nanorun
