#!/usr/bin/env bash
# Fetches Debian's own Abseil source package (the version matching libabsl-dev)
# into a cache directory and prints the absolute path of the unpacked tree.
# Used for TSan: `--repo_env=NANORUN_ABSL_SOURCE=<that path>` makes
# @com_google_absl the real source tree, so Abseil is built with -fsanitize=thread.
#
# It uses a private apt configuration (deb-src entries derived from the system's
# deb entries, private lists/cache dirs); the system's sources.list is untouched.
#
# Usage: tools/fetch_abseil_source.sh [DEST_PARENT]
#   DEST_PARENT defaults to ${NANORUN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nanorun}.
# Progress goes to stderr; only the final path goes to stdout.
# `--config=tsan` (NANORUN_ABSL_SOURCE=auto) runs this from the repository rule; if
# the cache is deleted later, Bazel keeps dangling links until `tools/bazel sync --configure`.
set -euo pipefail

cache="${1:-${NANORUN_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/nanorun}}"
mkdir -p "$cache"
cache="$(cd "$cache" && pwd)"
# One fetch at a time (e.g. CI and a developer's build on the same machine).
exec 9>"$cache/.fetch.lock"
flock 9

# Same upstream version as the installed libabsl-dev when known, else the candidate.
version="$(dpkg-query -W -f='${Version}' libabsl-dev 2>/dev/null || true)"
dest="$cache/abseil-src-$(echo "${version:-any}" | tr -c 'A-Za-z0-9.\n-' '_')"
if [[ -f "$dest/absl/base/config.h" ]]; then
  echo "$dest"
  exit 0
fi

command -v dpkg-source >/dev/null || {
  echo "fetch_abseil_source: dpkg-source missing; as root run: apt-get install -y dpkg-dev" >&2
  exit 1
}

apt_dir="$cache/apt"
rm -rf "$apt_dir"
mkdir -p "$apt_dir/sources.list.d" "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/work"
: > "$apt_dir/sources.list"

# deb-src twins of the system's enabled Debian entries (one-line and deb822 formats).
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
  [[ -f "$f" ]] || continue
  sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' "$f" >> "$apt_dir/sources.list"
done
for f in /etc/apt/sources.list.d/*.sources; do
  [[ -f "$f" ]] || continue
  sed 's/^Types:.*/Types: deb-src/' "$f" > "$apt_dir/sources.list.d/$(basename "$f")"
done

apt_opts=(
  -o "Dir::Etc::SourceList=$apt_dir/sources.list"
  -o "Dir::Etc::SourceParts=$apt_dir/sources.list.d"
  -o "Dir::State::Lists=$apt_dir/lists"
  -o "Dir::Cache=$apt_dir/cache"
  -o "Debug::NoLocking=1"
  -o "APT::Sandbox::User=$(id -un)"
)
echo "fetch_abseil_source: apt-get update (private source lists in $apt_dir)" >&2
# An extra (non-Debian) source without deb-src indexes must not stop us.
apt-get "${apt_opts[@]}" -q update >&2 || echo "fetch_abseil_source: apt-get update reported errors; trying anyway" >&2

spec="abseil"
[[ -n "$version" ]] && spec="abseil=$version"
echo "fetch_abseil_source: apt-get source $spec" >&2
if ! (cd "$apt_dir/work" && apt-get "${apt_opts[@]}" -q source "$spec" >&2); then
  echo "fetch_abseil_source: $spec not found, trying the newest abseil source" >&2
  (cd "$apt_dir/work" && apt-get "${apt_opts[@]}" -q source abseil >&2)
fi

tree="$(find "$apt_dir/work" -mindepth 2 -maxdepth 2 -name absl -type d | head -n1)"
[[ -n "$tree" ]] || { echo "fetch_abseil_source: no unpacked tree found" >&2; exit 1; }
rm -rf "$dest"
mv "$(dirname "$tree")" "$dest"
rm -rf "$apt_dir"
echo "$dest"
