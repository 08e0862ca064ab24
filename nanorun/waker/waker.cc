// The no-op waker's vtable: what a default or moved-from Waker holds.
#include "nanorun/waker/waker.h"

namespace nanorun {
inline namespace v0 {
namespace detail {
namespace {

RawWaker NoopClone(const void*) { return RawWaker{nullptr, &kNoopWakerVTable}; }
void NoopWake(const void*) {}

}  // namespace

const RawWakerVTable kNoopWakerVTable = {&NoopClone, &NoopWake, &NoopWake,
                                         &NoopWake};

}  // namespace detail
}  // namespace v0
}  // namespace nanorun
