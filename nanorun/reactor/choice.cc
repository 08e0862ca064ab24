// Which backend a runtime asked for, on every platform (see backends.h).
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "nanorun/reactor/backends.h"

namespace nanorun {
inline namespace v0 {
namespace reactor {

absl::StatusOr<Backend> RequestedBackend(Backend option) {
  if (option != Backend::kDefault) return option;
  const char* text = std::getenv("NANORUN_REACTOR");
  if (text == nullptr || *text == '\0') return Backend::kDefault;
  std::string value(text);
  if (value == "auto") return Backend::kAuto;
  if (value == "epoll") return Backend::kEpoll;
  if (value == "uring" || value == "io_uring") return Backend::kUring;
  return absl::InvalidArgumentError(absl::StrCat(
      "NANORUN_REACTOR=", value, " is not a reactor: use epoll, uring or auto (or unset it)"));
}

const char* BackendName(Backend backend) {
  switch (backend) {
    case Backend::kEpoll:
      return "epoll";
    case Backend::kUring:
      return "uring";
    case Backend::kAuto:
      return "auto";
    case Backend::kDefault:
      break;
  }
  return "default";
}

absl::Status OnlyBackendHere(const Choice& choice, const char* why_not) {
  absl::StatusOr<Backend> wanted = RequestedBackend(choice.backend);
  if (!wanted.ok()) return wanted.status();
  if (*wanted == Backend::kEpoll || *wanted == Backend::kUring) {
    return absl::UnavailableError(
        absl::StrCat("the ", BackendName(*wanted), " reactor was asked for, but ", why_not));
  }
  return absl::OkStatus();
}

void Log(const Choice& choice, absl::string_view message) {
  if (choice.log) {
    choice.log(message);
    return;
  }
  std::fprintf(stderr, "nanorun: %.*s\n", static_cast<int>(message.size()), message.data());
}

}  // namespace reactor
}  // namespace v0
}  // namespace nanorun
