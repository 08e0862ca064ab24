// Calling user code safely. With exceptions enabled, an exception escaping a
// user callback becomes an absl::Status carrying its message, so it fails one
// future and never unwinds through a worker. With -fno-exceptions this is a
// plain call.
#ifndef NANORUN_TASK_USER_CODE_H_
#define NANORUN_TASK_USER_CODE_H_

#include <exception>
#include <string>

#include "absl/status/status.h"

#if defined(__cpp_exceptions) || defined(__EXCEPTIONS) || defined(_CPPUNWIND)
#define NANORUN_HAS_EXCEPTIONS 1
#else
#define NANORUN_HAS_EXCEPTIONS 0
#endif

namespace nanorun {
inline namespace v0 {
namespace task {

#if NANORUN_HAS_EXCEPTIONS
// Must be called from inside a catch block.
inline absl::Status StatusFromCurrentException() {
  try {
    throw;
  } catch (const std::exception& e) {
    return absl::UnknownError(std::string("exception in user code: ") +
                              e.what());
  } catch (...) {
    return absl::UnknownError("exception in user code (not a std::exception)");
  }
}
#endif

// Runs `body()`; if it throws, runs `on_error(status)` instead.
template <class Body, class OnError>
void CallUserCode(Body&& body, OnError&& on_error) {
#if NANORUN_HAS_EXCEPTIONS
  try {
    body();
  } catch (...) {
    on_error(StatusFromCurrentException());
  }
#else
  (void)on_error;
  body();
#endif
}

}  // namespace task
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_TASK_USER_CODE_H_
