// Names the calling thread, so that top -H, gdb, perf and /proc show which
// runtime's worker a thread is. The only OS call for it lives here.
#ifndef NANORUN_SYS_THREAD_NAME_H_
#define NANORUN_SYS_THREAD_NAME_H_

#include <string>

namespace nanorun {
inline namespace v0 {
namespace sys {

// Linux keeps the first 15 bytes (the kernel's limit); elsewhere this does
// nothing. Failure is ignored: a name is a diagnostic, never a reason to stop.
void SetCurrentThreadName(const std::string& name);

}  // namespace sys
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_SYS_THREAD_NAME_H_
