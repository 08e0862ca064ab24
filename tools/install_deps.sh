#!/usr/bin/env bash
# Installs the Debian packages that nanorun's Bazel builds need, when missing.
# Called by tools/bazel (before every Bazel command) and by .ci/run.
#
# Usage: tools/install_deps.sh [--tsan] [--bench] [--tls] [--check]
#   (no flag)  what every build needs: Bazel 4.2.3, Abseil, Catch2, pkg-config, g++;
#              and the clients the example servers are tested with: curl, redis-tools;
#              tmux, the terminal tools/top is tested in
#   --tsan     also what `--config=tsan` needs: clang-14 and its sanitizer runtimes,
#              llvm-symbolizer, bazel-skylib/bazel-platforms and dpkg-dev (to build
#              Abseil from Debian's source package)
#   --bench    also the benchmark baselines' peers: standalone Asio (libasio-dev),
#              oneTBB (libtbb-dev), libuv (libuv1-dev) and liburing (liburing-dev); tools/bench/redis_bench.sh
#              installs redis-server itself
#   --tls      also what the TLS example needs (docs/examples:tls_echo_test):
#              libssl-dev and the openssl tool; nanorun itself never does
#   --check    only report: exit 1 if something is missing
# Fast when nothing is missing: it only tests for files, no apt or dpkg call.
# As root it runs apt-get (apt-get update first when a package is unknown); as
# another user it prints the exact command to run as root and exits 1.
set -euo pipefail

# "file that proves the package is installed|package"
core=(
  "/usr/bin/bazel-4|bazel-bootstrap"
  "/usr/include/absl/base/config.h|libabsl-dev"
  "/usr/include/catch2/catch.hpp|catch2"
  "/usr/bin/pkg-config|pkg-config"
  "/usr/bin/g++|g++"
  # The example servers' tests talk to them with real clients.
  "/usr/bin/curl|curl"
  "/usr/bin/redis-cli|redis-tools"
  # tools/top is tested in a real terminal.
  "/usr/bin/tmux|tmux"
)
tsan=(
  "/usr/bin/clang-14|clang-14"
  "/usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.tsan-x86_64.a|libclang-rt-14-dev"
  "/usr/bin/llvm-symbolizer|llvm"
  "/usr/share/bazel/tools/skylib/WORKSPACE|bazel-skylib"
  "/usr/share/bazel/tools/platforms/WORKSPACE|bazel-platforms"
  "/usr/bin/dpkg-source|dpkg-dev"
)

bench=(
  "/usr/include/asio.hpp|libasio-dev"
  "/usr/include/oneapi/tbb/task_group.h|libtbb-dev"
  "/usr/include/uv.h|libuv1-dev"
  "/usr/include/liburing.h|liburing-dev"
)
tls=(
  "/usr/include/openssl/ssl.h|libssl-dev"
  "/usr/bin/openssl|openssl"
)

check_only=0
wanted=("${core[@]}")
for arg in "$@"; do
  case "$arg" in
    --tsan) wanted+=("${tsan[@]}") ;;
    --bench) wanted+=("${bench[@]}") ;;
    --tls) wanted+=("${tls[@]}") ;;
    --check) check_only=1 ;;
    *) echo "install_deps.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

missing=()
for entry in "${wanted[@]}"; do
  file="${entry%%|*}"
  # compgen expands the glob in $file; it fails when nothing matches.
  compgen -G "$file" >/dev/null || missing+=("${entry##*|}")
done
((${#missing[@]} == 0)) && exit 0

apt=(apt-get -o DPkg::Lock::Timeout=600)
install_cmd="${apt[*]} install -y --no-install-recommends ${missing[*]}"
if ((check_only)); then
  echo "nanorun: missing Debian packages: ${missing[*]}" >&2
  exit 1
fi
if ((EUID != 0)); then
  echo "nanorun: missing Debian packages: ${missing[*]}" >&2
  echo "nanorun: run this as root, then retry:" >&2
  echo "  ${apt[*]} update && $install_cmd" >&2
  exit 1
fi

echo "nanorun: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
for pkg in "${missing[@]}"; do
  # A package without a candidate version is unknown to apt's lists: update first.
  if ! apt-cache show "$pkg" >/dev/null 2>&1; then
    "${apt[@]}" update >&2
    break
  fi
done
if ! "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >&2; then
  echo "nanorun: apt-get install failed; updating package lists and retrying" >&2
  "${apt[@]}" update >&2
  "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >&2
fi
