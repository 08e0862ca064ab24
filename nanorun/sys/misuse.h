// Reporting misuse of the library: a promise fulfilled twice, a future used
// after it was moved from, a blocking wait on a worker thread.
//
// Misuse that can be reported as an absl::Status is (see each API); misuse
// that cannot (a void function such as Promise::set_value called twice) goes
// through ReportMisuse. The default handler prints the message to stderr and
// aborts: a documented abort with a message, never silent undefined
// behaviour. Tests install a recording handler; when a handler returns, the
// caller leaves the offending operation undone (the second value is dropped).
#ifndef NANORUN_SYS_MISUSE_H_
#define NANORUN_SYS_MISUSE_H_

#include "absl/strings/string_view.h"

namespace nanorun {
inline namespace v0 {

// Receives the message of a misuse report (SetMisuseHandler).
using MisuseHandler = void (*)(absl::string_view message);

// Installs `handler` process-wide and returns the previous one. Pass nullptr
// to restore the default (print and abort).
MisuseHandler SetMisuseHandler(MisuseHandler handler);

// Reports `message` through the installed handler. Returns only if the
// handler returns.
void ReportMisuse(absl::string_view message);

}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_SYS_MISUSE_H_
