// Default misuse handler: print and abort (see misuse.h).
#include "nanorun/sys/misuse.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>

namespace nanorun {
inline namespace v0 {
namespace {

void PrintAndAbort(absl::string_view message) {
  std::fprintf(stderr, "nanorun: misuse: %.*s\n",
               static_cast<int>(message.size()), message.data());
  std::fflush(stderr);
  std::abort();
}

std::atomic<MisuseHandler> g_handler{&PrintAndAbort};

}  // namespace

MisuseHandler SetMisuseHandler(MisuseHandler handler) {
  return g_handler.exchange(handler != nullptr ? handler : &PrintAndAbort);
}

void ReportMisuse(absl::string_view message) {
  g_handler.load(std::memory_order_acquire)(message);
}

}  // namespace v0
}  // namespace nanorun
