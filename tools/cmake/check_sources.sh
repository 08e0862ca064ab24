#!/usr/bin/env bash
# Every library source under nanorun/ must be listed in the top-level
# CMakeLists.txt (it keeps its own list beside the BUILD files): a file added
# to a Bazel target and forgotten there fails here. Exit 1 naming each one.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
missing=0
for f in $(find nanorun -name '*.cc' | sort); do
  grep -qE "(^|[[:space:](])$f([[:space:])]|$)" CMakeLists.txt || {
    echo "cmake/check_sources.sh: $f is not in CMakeLists.txt" >&2
    missing=1
  }
done
exit "$missing"
