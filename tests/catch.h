// Catch2 for nanorun's tests, whichever major version the build route brings:
//  - v2 (one header, catch2/catch.hpp): Debian 12's catch2 package, used by the
//    WORKSPACE route and by the CMake build when no Catch2 3 is installed;
//  - v3 (catch2/catch_all.hpp): the Bazel Central Registry's catch2 module on the
//    MODULE.bazel route, or a CMake build that finds Catch2 3 (e.g. Debian 13).
// The tests use only what both versions have: TEST_CASE, SECTION, REQUIRE/CHECK,
// INFO/CAPTURE, GENERATE and the command-line filters; no Approx, no matchers.
#ifndef NANORUN_TESTS_CATCH_H_
#define NANORUN_TESTS_CATCH_H_

#if __has_include("catch2/catch_all.hpp")
#include "catch2/catch_all.hpp"
#else
#include "catch2/catch.hpp"
#endif

#endif  // NANORUN_TESTS_CATCH_H_
