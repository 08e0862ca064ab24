// Waiting for Ctrl-C (SIGINT) or SIGTERM, for servers that run until told
// to stop (the examples). Call BlockTerminationSignals() first thing in
// main, before any thread starts, so that every thread inherits the mask
// and the signal is taken only by WaitForTerminationSignal().
#ifndef NANORUN_SYS_SIGNALS_H_
#define NANORUN_SYS_SIGNALS_H_

namespace nanorun {
inline namespace v0 {
namespace sys {

void BlockTerminationSignals();
// Blocks until SIGINT or SIGTERM arrives; returns its number.
int WaitForTerminationSignal();

}  // namespace sys
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_SYS_SIGNALS_H_
