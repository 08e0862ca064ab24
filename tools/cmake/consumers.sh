#!/usr/bin/env bash
# The CMake and pkg-config ways in, end to end (CI's cmake stage):
#   1. the top-level CMakeLists.txt builds nanorun and its tests with
#      -fno-exceptions -fno-rtti and -Werror, and ctest runs them;
#   2. that build installs to a fresh prefix;
#   3. tests/consumer/main.cc is built and run three ways: find_package(nanorun)
#      against the prefix, add_subdirectory(<this checkout>), and a plain
#      compiler command with `pkg-config --cflags --libs nanorun`.
# Installs cmake and pkg-config if missing (as root). Prints "N passed, N failed".
#
#   tools/cmake/consumers.sh [--no-tests]   (--no-tests: skip step 1's ctest)
#   tools/cmake/consumers.sh --installed PREFIX
#       only step 3, against a nanorun already installed in PREFIX, found the
#       way the README tells a user (no CMAKE_PREFIX_PATH or PKG_CONFIG_PATH
#       unless PREFIX is not a default one); the fresh-machine check uses it.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ws="$PWD"
run_tests=1
installed=""
case "${1:-}" in
  --no-tests) run_tests=0 ;;
  --installed) installed="${2:?--installed needs a prefix}" ;;
  "") ;;
  *) echo "usage: $0 [--no-tests | --installed PREFIX]" >&2; exit 2 ;;
esac

need=()
command -v cmake >/dev/null || need+=(cmake)
command -v pkg-config >/dev/null || need+=(pkg-config)
[[ -e /usr/lib/x86_64-linux-gnu/cmake/absl/abslConfig.cmake || -e /usr/lib/cmake/absl/abslConfig.cmake ]] ||
  need+=(libabsl-dev)
[[ -e /usr/include/catch2/catch.hpp ]] || need+=(catch2)
command -v g++ >/dev/null || need+=(g++)
if ((${#need[@]})); then
  if ((EUID != 0)); then
    echo "cmake/consumers.sh: missing ${need[*]}; as root run: apt-get install -y --no-install-recommends ${need[*]}" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${need[@]}" >&2
fi

work="${NANORUN_CMAKE_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/nanorun-cmake.XXXXXX")}"
prefix="${installed:-$work/prefix}"
search=()  # How consumers find the prefix: nothing for the defaults.
if [[ "$prefix" != /usr && "$prefix" != /usr/local ]]; then
  search=("-DCMAKE_PREFIX_PATH=$prefix")
  export PKG_CONFIG_PATH="$prefix/lib/pkgconfig:$prefix/lib/x86_64-linux-gnu/pkgconfig"
fi
strict=(-fno-exceptions -fno-rtti)
passed=0
failed=0
step() {  # step NAME COMMAND...: runs it, counts it.
  local name="$1"
  shift
  echo "+ [$name] $*"
  if "$@"; then
    passed=$((passed + 1))
    echo "cmake/consumers.sh: $name ok"
  else
    failed=$((failed + 1))
    echo "cmake/consumers.sh: $name FAILED"
  fi
}

build_and_install() {
  cmake -S "$ws" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DNANORUN_WERROR=ON \
    -DNANORUN_BUILD_TESTS=$([[ $run_tests == 1 ]] && echo ON || echo OFF) \
    "-DCMAKE_CXX_FLAGS=${strict[*]}" "-DCMAKE_INSTALL_PREFIX=$prefix" &&
    cmake --build "$work/build" -j 2 &&
    cmake --install "$work/build"
}
[[ -n "$installed" ]] || step library build_and_install
if [[ -z "$installed" ]] && ((run_tests)); then
  log="$work/ctest.log"
  (cd "$work/build" && ctest --output-on-failure --timeout 900) | tee "$log"
  t_passed=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .* +Passed' "$log" || true)
  t_failed=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .*(\*\*\*Failed|\*\*\*Timeout|\*\*\*Exception|Not Run)' "$log" || true)
  passed=$((passed + t_passed))
  failed=$((failed + t_failed))
  ((t_passed > 0)) || failed=$((failed + 1))
fi

via_cmake() {  # via_cmake find_package|add_subdirectory
  local dir="$work/consumer-$1"
  cmake -S "$ws/tests/cmake_consumer" -B "$dir" -DCMAKE_BUILD_TYPE=Release \
    -DNANORUN_CONSUMER_VIA="$1" -DNANORUN_SOURCE_DIR="$ws" "${search[@]}" \
    "-DCMAKE_CXX_FLAGS=${strict[*]}" &&
    cmake --build "$dir" -j 2 &&
    "$dir/consumer"
}
via_pkg_config() {
  local flags
  flags="$(pkg-config --cflags --libs nanorun)" || return 1
  echo "pkg-config --cflags --libs nanorun: $flags"
  # shellcheck disable=SC2086  # $flags is a list of words.
  g++ -std=c++17 -O2 "${strict[@]}" -Wall -Wextra -Wpedantic -Werror \
    "$ws/tests/consumer/main.cc" -o "$work/consumer-pkg-config" $flags &&
    "$work/consumer-pkg-config"
}
step find_package via_cmake find_package
step add_subdirectory via_cmake add_subdirectory
step pkg-config via_pkg_config

echo "$passed passed, $failed failed"
((failed == 0))
