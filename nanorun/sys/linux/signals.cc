// POSIX: the termination signals are blocked and taken with sigwait.
#include "nanorun/sys/signals.h"

#include <pthread.h>
#include <signal.h>

namespace nanorun {
inline namespace v0 {
namespace sys {
namespace {

sigset_t TerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

void BlockTerminationSignals() {
  sigset_t set = TerminationSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int WaitForTerminationSignal() {
  sigset_t set = TerminationSignals();
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  return sig;
}

}  // namespace sys
}  // namespace v0
}  // namespace nanorun
