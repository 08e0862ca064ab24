// Fault injection for tests: makes the next N calls of one socket operation
// fail with a chosen error before they reach the kernel, so tests can take
// the error paths the kernel rarely takes on demand (ENFILE or ENOBUFS on
// accept, EINTR in the middle of a read). The sys wrappers ask Take() on
// every call; unarmed, that is one relaxed atomic load.
//
// Errors are the platform's own codes (errno values on Linux, WSA codes on
// Windows). A test that arms a fault should expect it to be consumed, and
// calls Reset() when it is done so that nothing leaks into the next test.
#ifndef NANORUN_SYS_FAULT_INJECTION_H_
#define NANORUN_SYS_FAULT_INJECTION_H_

namespace nanorun {
inline namespace v0 {
namespace sys {
namespace fault {

enum class Op { kAccept, kRead, kWrite, kConnect };

// The next `times` calls of `op`, from any thread, fail with `err`.
void FailNext(Op op, int err, int times = 1);
// Disarms every operation.
void Reset();
// How many armed failures of `op` are still to come.
int Remaining(Op op);
// For the sys wrappers: 0 (go ahead), or the error this call must fail with.
int Take(Op op);

}  // namespace fault
}  // namespace sys
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_SYS_FAULT_INJECTION_H_
