#!/usr/bin/env bash
# Builds nanorun for Windows with mingw-w64 and runs its tests under Wine
# (docs/windows.md). Installs what is missing as root (mingw-w64, wine,
# cmake; Debian's Abseil source package, as for TSan).
#
#   tools/windows/run.sh [--reactor iocp|fallback] [--quick]
#
# --quick runs the test binaries with fewer iterations where they support
# it (NANORUN_QUICK=1). Prints "N passed, N failed" at the end.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ws="$PWD"
reactor=iocp
while (($#)); do
  case "$1" in
    --reactor) reactor="$2"; shift 2 ;;
    --quick) export NANORUN_QUICK=1; shift ;;
    *) echo "usage: $0 [--reactor iocp|fallback] [--quick]" >&2; exit 2 ;;
  esac
done

need=()
command -v x86_64-w64-mingw32-g++-posix >/dev/null || need+=(g++-mingw-w64-x86-64-posix)
command -v wine >/dev/null || need+=(wine wine64)
command -v cmake >/dev/null || need+=(cmake)
command -v dpkg-source >/dev/null || need+=(dpkg-dev)
if ((${#need[@]})); then
  if ((EUID != 0)); then
    echo "windows/run.sh: missing ${need[*]}; as root run: apt-get install -y --no-install-recommends ${need[*]}" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${need[@]}" >&2
fi
# Every library source must be listed in the CMake build (it keeps its own
# list): a file added to a BUILD target and forgotten there fails now.
"$ws/tools/cmake/check_sources.sh"
absl_src="$("$ws/tools/fetch_abseil_source.sh")"

build="${NANORUN_WINDOWS_BUILD:-$ws/.build-windows-$reactor}"
cmake -S "$ws" -B "$build" -DCMAKE_BUILD_TYPE=Release -DNANORUN_WERROR=ON \
  -DCMAKE_TOOLCHAIN_FILE="$ws/tools/windows/mingw-toolchain.cmake" \
  -DNANORUN_ABSL_SOURCE_DIR="$absl_src" -DNANORUN_REACTOR="$reactor" >&2
cmake --build "$build" -j 2 >&2

# A private, headless Wine prefix (created once, ~6 s).
export WINEPREFIX="${NANORUN_WINEPREFIX:-$build/wineprefix}"
export WINEDEBUG=-all
export WINEDLLOVERRIDES="mscoree,mshtml="
[[ -d "$WINEPREFIX" ]] || wineboot --init >/dev/null 2>&1 </dev/null || true
wineserver -w  # Until any server left from before (wineboot's) has exited.

# One wineserver for the whole run: left to itself it exits a moment after
# each program, and a program starting just then loses its connection to it
# ("wine client error: recvmsg: Connection reset by peer").
# Wine's own services start with the first program and live as long as the
# server: start them here, away from ctest's output pipes, which they would
# otherwise hold open (ctest waits for the pipes to close).
wineserver -p
trap 'wineserver -k 2>/dev/null || true' EXIT
wineboot >/dev/null 2>&1 </dev/null || true

log="$build/ctest.log"
set +e
(cd "$build" && ctest --output-on-failure --timeout 900) | tee "$log"
ctest_status=${PIPESTATUS[0]}
set -e
# ctest prints "<dots>   Passed" but "<dots>***Failed" (no space before it).
passed=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .* +Passed' "$log" || true)
failed=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .*(\*\*\*Failed|\*\*\*Timeout|\*\*\*Exception|Not Run)' "$log" || true)
# Whatever the lines say, a failing ctest is at least one failure.
if ((ctest_status != 0 && failed == 0)); then failed=1; fi
echo "$passed passed, $failed failed"
((failed == 0 && passed > 0))
