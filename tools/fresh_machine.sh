#!/usr/bin/env bash
# Runs the README's two commands on a fresh Debian 12 that has only git, as a newcomer
# would, and fails when either fails; then the README's CMake route (install with
# cmake, then build and run a consumer through find_package, add_subdirectory and
# pkg-config) in the same root.
#
# The machines developers and CI use carry many packages a fresh one lacks, so a build
# can pass there and still need an install step nobody wrote down. This script builds a
# minimal Debian 12 root (mmdebstrap --variant=minbase, git and ca-certificates only,
# from this machine's own apt sources), clones the commit into it, and runs there, as
# root, the commands found in README.md's "Try it" block, verbatim. The root lives in
# its own mount namespace (unshare --mount --fork + chroot, with /proc, /dev and /sys
# bound in and a tmpfs on /tmp), so nothing mounted for it is visible outside, and every
# such mount is gone once the namespace's last process exits.
#
# Usage (as root): tools/fresh_machine.sh [--rev REV] [--keep] [--refresh]
#   --rev REV   the commit to clone (default: HEAD of this checkout; uncommitted changes
#               are not seen, exactly as CI sees only what was committed)
#   --keep      leave the root in place afterwards (its path is printed) to look inside
#   --refresh   rebuild the cached base tarball even when it exists
# The base tarball (~230 MB, ~20 s to make) is cached in
# ${NANORUN_CACHE:-~/.cache/nanorun}/fresh/ and rebuilt when older than 7 days or when
# this machine's apt sources change. Roots are made under ${NANORUN_FRESH_DIR:-/var/tmp}.
# Ends with a plain "N passed, N failed" line (one per README command, and one for the
# three consumers).
set -euo pipefail

ws="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rev=HEAD
keep=0
refresh=0
while (($#)); do
  case "$1" in
    --rev) rev="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    --refresh) refresh=1; shift ;;
    *) echo "fresh_machine.sh: unknown argument: $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done

say() { echo "fresh_machine: $*" >&2; }

if ((EUID != 0)); then
  say "needs root (mmdebstrap, unshare --mount and chroot); run it as root"
  exit 2
fi
commit="$(git -C "$ws" rev-parse --verify "$rev^{commit}")"

# --- the README's commands ----------------------------------------------------------
# Every line that starts with "tools/bazel " in the first ``` block after the
# "## Try it" heading, comments stripped. Exactly one `run` and one `test` are expected:
# that block is what a newcomer types, and this check keeps it so.
readme_commands="$(git -C "$ws" show "$commit:README.md" | awk '
  /^## / { in_section = ($0 ~ /^## Try it/) ; next }
  in_section && /^```/ { if (in_block) exit; in_block = 1; next }
  in_section && in_block && /^tools\/bazel / { sub(/[ \t]+#.*$/, ""); print }')"
mapfile -t commands <<<"$readme_commands"
if ((${#commands[@]} != 2)) || [[ "${commands[0]}" != "tools/bazel run "* ]] ||
   [[ "${commands[1]}" != "tools/bazel test "* ]]; then
  say "README.md's 'Try it' block must hold exactly two commands, 'tools/bazel run ...' then"
  say "'tools/bazel test ...'; found: ${commands[*]:-nothing}"
  exit 2
fi

# The CMake route: every command line of the first ``` block after the "## Use it
# from CMake or pkg-config" heading, comments stripped, then the three consumers
# (find_package, add_subdirectory, pkg-config) against what it installed.
cmake_commands="$(git -C "$ws" show "$commit:README.md" | awk '
  /^## / { in_section = ($0 ~ /^## Use it from CMake or pkg-config/) ; next }
  in_section && /^```/ { if (in_block) exit; in_block = 1; next }
  in_section && in_block && !/^[ \t]*(#|$)/ { sub(/[ \t]+#.*$/, ""); print }')"
if [[ "$cmake_commands" != *"cmake --install build"* ]]; then
  say "README.md's 'Use it from CMake or pkg-config' block must build and install with"
  say "cmake (ending in 'cmake --install build'); found: ${cmake_commands:-nothing}"
  exit 2
fi
mapfile -t cmake_route <<<"$cmake_commands"
cmake_route+=("tools/cmake/consumers.sh --installed /usr/local")

# --- the base root, cached -------------------------------------------------------------
if ! command -v mmdebstrap >/dev/null; then
  say "installing mmdebstrap (on this machine, not in the fresh root)"
  apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends mmdebstrap >&2 ||
    { apt-get -o DPkg::Lock::Timeout=600 update >&2 &&
      apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends mmdebstrap >&2; }
fi

# This machine's own apt sources (both formats), so the root reaches the same mirror.
sources=()
[[ -s /etc/apt/sources.list ]] && grep -qE '^[[:space:]]*deb ' /etc/apt/sources.list &&
  sources+=(/etc/apt/sources.list)
for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
  [[ -s "$f" ]] && sources+=("$f")
done
((${#sources[@]})) || { say "no apt sources found in /etc/apt"; exit 1; }

cache="${NANORUN_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/nanorun}/fresh"
mkdir -p "$cache"
sources_key="$(cat "${sources[@]}" | sha256sum | cut -c1-12)"
base="$cache/bookworm-minbase-$sources_key.tar"
if ((refresh)) || [[ ! -s "$base" ]] || [[ -n "$(find "$base" -mtime +7)" ]]; then
  say "making the base root ($base)"
  rm -rf --one-file-system "$base.partial"
  mmdebstrap --variant=minbase --include=git,ca-certificates --mode=root --format=tar \
    bookworm "$base.partial" "${sources[@]}" >&2
  mv "$base.partial" "$base"
  # Older tarballs (other sources) are of no more use.
  find "$cache" -maxdepth 1 -name 'bookworm-minbase-*.tar' ! -path "$base" -delete
fi

# --- a root of our own, removed only when nothing is mounted in it ---------------------
parent="${NANORUN_FRESH_DIR:-/var/tmp}"
work="$(mktemp -d "$parent/nanorun-fresh.XXXXXX")"

mounted_under() { # prints the mount points at or below $1 (as this namespace sees them)
  awk -v dir="$1" '$5 == dir || index($5, dir "/") == 1 { print $5 }' /proc/self/mountinfo
}
cleanup() {
  if ((keep)); then
    say "kept the roots under $work"
    return
  fi
  local left
  left="$(mounted_under "$work")"
  if [[ -n "$left" ]]; then
    say "NOT removing $work: still mounted there: $left"
    return
  fi
  # --one-file-system: even so, never descend into a filesystem mounted below.
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

results="$work/results"
# run_in_fresh_root NAME COMMAND...: a root of its own for each route, so that what
# one route installs cannot hide a step the other's instructions lack.
run_in_fresh_root() {
  local root="$work/$1"
  shift
  mkdir "$root"
  tar -xf "$base" -C "$root"
  git clone --quiet --no-hardlinks "$ws" "$root/root/nanorun"
  git -C "$root/root/nanorun" checkout --quiet --detach "$commit"
  say "root $root, commit $commit"
  # --- the commands, inside the fresh root ------------------------------------------------
  # One private mount and PID namespace per route: mounts made there never reach
  # this machine's, and when its first process exits the kernel ends every process left in
  # it (the Bazel server too), so the namespace and all its mounts are gone before cleanup.
  # Each command runs under chroot with a clean environment: a root login's PATH and HOME,
  # nothing of this shell's (no CI=true, no TSAN_OPTIONS).
  unshare --mount --pid --fork -- bash -uc '
    root="$1" results="$2"; shift 2
    set -e
    mount --make-rprivate /
    mount -t proc proc "$root/proc"
    mount --rbind /sys "$root/sys"
    mount --rbind /dev "$root/dev"
    mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
    # Name resolution for apt: this machine'"'"'s resolver configuration, read-only.
    if [[ -e /etc/resolv.conf ]]; then
      touch "$root/etc/resolv.conf"
      mount --bind -o ro "$(readlink -f /etc/resolv.conf)" "$root/etc/resolv.conf"
    fi
    set +e
    in_root() {
      chroot "$root" /usr/bin/env -i HOME=/root USER=root LOGNAME=root TERM=dumb \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        /bin/bash -c "cd /root/nanorun && $1"
    }
    for cmd in "$@"; do
      echo "fresh_machine: + $cmd" >&2
      start=$(date +%s)
      in_root "$cmd"
      echo "$? $(($(date +%s) - start)) $cmd" >>"$results"
    done
    in_root "if [ -x /usr/bin/bazel-4 ]; then /usr/bin/bazel-4 shutdown; fi" >/dev/null 2>&1
    exit 0
  ' fresh_machine "$root" "$results" "$@"
}
run_in_fresh_root bazel-route "${commands[@]}"
run_in_fresh_root cmake-route "${cmake_route[@]}"
commands+=("${cmake_route[@]}")

passed=0
failed=0
while read -r rc secs cmd; do
  if ((rc == 0)); then
    passed=$((passed + 1))
    say "ok in ${secs}s: $cmd"
  else
    failed=$((failed + 1))
    say "FAILED (exit $rc) after ${secs}s: $cmd"
  fi
done <"$results"
failed=$((failed + ${#commands[@]} - passed - failed)) # a command that never reported

echo "$passed passed, $failed failed"
((failed == 0))
