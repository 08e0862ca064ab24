// SetCurrentThreadName (thread_name.h).
#include "nanorun/sys/thread_name.h"

#if defined(__linux__)
#include <pthread.h>
#endif

namespace nanorun {
inline namespace v0 {
namespace sys {

void SetCurrentThreadName(const std::string& name) {
#if defined(__linux__)
  // pthread_setname_np fails with ERANGE beyond 15 bytes: cut instead.
  std::string cut = name.substr(0, 15);
  (void)pthread_setname_np(pthread_self(), cut.c_str());
#else
  (void)name;
#endif
}

}  // namespace sys
}  // namespace v0
}  // namespace nanorun
