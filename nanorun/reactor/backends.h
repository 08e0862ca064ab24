// What the platforms' Reactor::Create share: the backend a runtime asked for
// (its option, or the NANORUN_REACTOR environment variable), the log line
// about a fallback, and the constructors of the Linux backends. Internal to
// the reactor layer.
#ifndef NANORUN_REACTOR_BACKENDS_H_
#define NANORUN_REACTOR_BACKENDS_H_

#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nanorun/reactor/reactor.h"

namespace nanorun {
inline namespace v0 {
namespace reactor {

// `option` unless it is kDefault and NANORUN_REACTOR is set (epoll, uring
// or auto); an unknown value there is InvalidArgument, naming the known
// ones. kDefault comes back when neither names one.
absl::StatusOr<Backend> RequestedBackend(Backend option);

// "epoll", "uring", "auto": for messages.
const char* BackendName(Backend backend);

// For a platform with one backend (IOCP, the fallback): OK if `choice` (or
// NANORUN_REACTOR) leaves the choice to it, else Unavailable, naming the
// backend asked for and `why_not` ("Windows has only the IOCP reactor").
absl::Status OnlyBackendHere(const Choice& choice, const char* why_not);

// Sends `message` to choice.log, or to stderr.
void Log(const Choice& choice, absl::string_view message);

// Makes an R, runs its open() (which acquires the OS resources and may
// fail with the OS error) and hands it over only if that worked.
template <class R>
absl::Status OpenInto(std::unique_ptr<Reactor>* out) {
  auto reactor = std::make_unique<R>();
  absl::Status status = reactor->open();
  if (status.ok()) *out = std::move(reactor);
  return status;
}

// Linux.
absl::Status CreateEpollReactor(std::unique_ptr<Reactor>* out);
absl::Status CreateUringReactor(std::unique_ptr<Reactor>* out);

}  // namespace reactor
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_REACTOR_BACKENDS_H_
