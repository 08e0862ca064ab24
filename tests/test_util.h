// Small helpers shared by the tests: whether a sanitizer is on (tests shrink
// their sizes under ASan/TSan), and a bounded wait for something another
// thread does.
#ifndef NANORUN_TESTS_TEST_UTIL_H_
#define NANORUN_TESTS_TEST_UTIL_H_

#include <chrono>
#include <thread>

namespace nanorun_test {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

// Waits (really) until pred() holds; false after 30 s.
template <class Pred>
bool WaitFor(Pred pred) {
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return true;
}

}  // namespace nanorun_test

#endif  // NANORUN_TESTS_TEST_UTIL_H_
