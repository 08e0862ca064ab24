# The CMake build's tests (included by the top-level CMakeLists.txt when
# NANORUN_BUILD_TESTS is on): every layer's Catch2 test under ctest, the tour,
# and on Windows the example servers and the benchmark, run under Wine.
enable_testing()

# Catch2: version 3 when CMake finds one (its Catch2::Catch2WithMain; tests/catch.h
# includes catch2/catch_all.hpp), else Debian 12's v2, which is one header: only its
# directory is exposed (not all of /usr/include), and its main() is compiled once.
find_package(Catch2 3 CONFIG QUIET)
if(Catch2_FOUND)
  message(STATUS "nanorun tests: Catch2 ${Catch2_VERSION} from ${Catch2_DIR}")
  add_library(nanorun_catch2_main INTERFACE)
  target_link_libraries(nanorun_catch2_main INTERFACE Catch2::Catch2WithMain)
  set(nanorun_catch2_scope INTERFACE)
else()
  find_path(NANORUN_CATCH2_INCLUDE catch2/catch.hpp PATHS /usr/include NO_CMAKE_FIND_ROOT_PATH)
  if(NOT NANORUN_CATCH2_INCLUDE)
    message(FATAL_ERROR "Catch2 not found: install Catch2 v2 (Debian 12: apt-get install catch2) "
                        "or v3 (CMAKE_PREFIX_PATH to its install prefix), "
                        "or configure with -DNANORUN_BUILD_TESTS=OFF")
  endif()
  message(STATUS "nanorun tests: Catch2 v2 from ${NANORUN_CATCH2_INCLUDE}")
  file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/catch2_include)
  file(CREATE_LINK ${NANORUN_CATCH2_INCLUDE}/catch2 ${CMAKE_BINARY_DIR}/catch2_include/catch2 SYMBOLIC)
  file(WRITE ${CMAKE_BINARY_DIR}/catch2_main.cc "#define CATCH_CONFIG_MAIN\n#include \"catch2/catch.hpp\"\n")
  add_library(nanorun_catch2_main STATIC ${CMAKE_BINARY_DIR}/catch2_main.cc)
  target_include_directories(nanorun_catch2_main SYSTEM PUBLIC ${CMAKE_BINARY_DIR}/catch2_include)
  set(nanorun_catch2_scope PUBLIC)
endif()
if(CMAKE_CXX_FLAGS MATCHES "-fno-exceptions")
  # (With v3 this must match how the installed Catch2 library itself was built.)
  target_compile_definitions(nanorun_catch2_main ${nanorun_catch2_scope} CATCH_CONFIG_DISABLE_EXCEPTIONS)
endif()

set(NANORUN_TESTS sys_test cancel_test waker_test task_test reactor_test time_test timers_test
    sync_test blocking_test executor_test future_test future_alloc_test runtime_test
    stress_test teardown_test fs_test observability_test)
if(NANORUN_HAS_NET)
  list(APPEND NANORUN_TESTS net_test net_options_test signal_test)
  if(NOT WIN32)
    list(APPEND NANORUN_TESTS net_unix_test)
  endif()
  if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
    list(APPEND NANORUN_TESTS net_ring_test)  # io_uring; skips where it cannot run.
  endif()
endif()
# Tests that make files or sockets put them under the build directory, as
# under Bazel's TEST_TMPDIR (Windows: the tests' own default).
set(NANORUN_TEST_TMPDIR ${CMAKE_BINARY_DIR}/test_tmp)
file(MAKE_DIRECTORY ${NANORUN_TEST_TMPDIR})
foreach(t ${NANORUN_TESTS})
  if(t STREQUAL "net_test")
    add_executable(${t} tests/${t}.cc docs/examples/echo.cc)
  else()
    add_executable(${t} tests/${t}.cc)
  endif()
  target_compile_options(${t} PRIVATE ${NANORUN_WARNINGS})
  target_link_libraries(${t} PRIVATE nanorun nanorun_catch2_main)
  add_test(NAME ${t} COMMAND ${t})
  set_tests_properties(${t} PROPERTIES TIMEOUT 900)
  if(NOT WIN32)
    set_tests_properties(${t} PROPERTIES ENVIRONMENT "TEST_TMPDIR=${NANORUN_TEST_TMPDIR}")
  else()
    # Judged by output, not exit status: a crash under Wine (its debugger
    # prints "Unhandled page fault" and the process may still exit 0) must fail.
    set_tests_properties(${t} PROPERTIES PASS_REGULAR_EXPRESSION "All tests passed"
      FAIL_REGULAR_EXPRESSION "Unhandled|FAILED")
  endif()
endforeach()

# The tour, as the examples' test: it must print "all steps ok".
if(NANORUN_HAS_NET)
  add_executable(tour docs/examples/tour.cc docs/examples/echo.cc)
  target_link_libraries(tour PRIVATE nanorun)
  add_test(NAME tour COMMAND tour)
  set_tests_properties(tour PROPERTIES PASS_REGULAR_EXPRESSION "tour: all steps ok"
    FAIL_REGULAR_EXPRESSION "Unhandled|FAILED")
endif()

# Windows: the example servers, driven by their own shell tests with real
# Linux clients (curl, redis-cli, bash's /dev/tcp) talking to the .exe under
# Wine; and the benchmark, for figures under Wine (docs/performance.md).
if(WIN32 AND NANORUN_HAS_NET)
  add_library(request_loop STATIC docs/examples/request_loop.cc)
  target_link_libraries(request_loop PUBLIC nanorun)
  add_executable(echo_server docs/examples/echo_server.cc docs/examples/echo.cc)
  target_link_libraries(echo_server PRIVATE nanorun)
  add_executable(http_hello docs/examples/http_hello.cc docs/examples/metrics_page.cc)
  target_link_libraries(http_hello PRIVATE request_loop)
  add_executable(mini_redis docs/examples/mini_redis.cc docs/examples/resp.cc)
  target_link_libraries(mini_redis PRIVATE request_loop absl::flat_hash_map)
  foreach(example echo_server http_hello mini_redis)
    # The shell tests run "$1 0": $1 is a wrapper that execs wine.
    file(WRITE ${CMAKE_BINARY_DIR}/run_${example}.sh
         "#!/usr/bin/env bash\nexec wine ${CMAKE_BINARY_DIR}/${example}.exe \"$@\"\n")
    file(CHMOD ${CMAKE_BINARY_DIR}/run_${example}.sh PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE)
    add_test(NAME ${example}_test
             COMMAND bash ${PROJECT_SOURCE_DIR}/docs/examples/${example}_test.sh
                     ${CMAKE_BINARY_DIR}/run_${example}.sh)
    set_tests_properties(${example}_test PROPERTIES TIMEOUT 300
      PASS_REGULAR_EXPRESSION "${example}_test: ok")
  endforeach()
endif()
if(WIN32)
  add_executable(bench tools/bench/bench.cc)
  target_link_libraries(bench PRIVATE nanorun)
endif()
