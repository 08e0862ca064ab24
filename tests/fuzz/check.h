// A fuzz target's assertion: prints what broke and aborts (which libFuzzer
// reports as a crash and saves the input).
#ifndef NANORUN_TESTS_FUZZ_CHECK_H_
#define NANORUN_TESTS_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                        \
  do {                                                                          \
    if (!(cond)) {                                                              \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                             \
    }                                                                           \
  } while (0)

#endif  // NANORUN_TESTS_FUZZ_CHECK_H_
