#!/usr/bin/env bash
# Every library source under nanorun/ must be listed in the top-level
# CMakeLists.txt (it keeps its own list beside the BUILD files): a file added
# to a Bazel target and forgotten there fails here. And its list of internal
# headers (not installed) must be exactly those an include walk from
# nanorun/nanorun.h never reaches. Exit 1 naming each difference.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
missing=0
for f in $(find nanorun -name '*.cc' | sort); do
  grep -qE "(^|[[:space:](])$f([[:space:])]|$)" CMakeLists.txt || {
    echo "cmake/check_sources.sh: $f is not in CMakeLists.txt" >&2
    missing=1
  }
done
# The internal headers: the walk follows every #include "nanorun/..." (whatever
# #if surrounds it), so the public set is, if anything, too large.
python3 - <<'PY' || missing=1
import re, subprocess, sys
headers = set(subprocess.check_output(["git", "ls-files", "nanorun/*.h"], text=True).split())
reached, todo = set(), ["nanorun/nanorun.h"]
while todo:
    h = todo.pop()
    if h in reached or h not in headers:
        continue
    reached.add(h)
    todo += re.findall(r'#include "(nanorun/[^"]+\.h)"', open(h).read())
cmake = open("CMakeLists.txt").read()
block = re.search(r"set\(nanorun_internal_headers(.*?)\)", cmake, re.S).group(1).split()
listed = {"nanorun/" + h for h in block}
bad = 0
for h in sorted((headers - reached) - listed):
    print("cmake/check_sources.sh: %s is internal (nanorun.h never includes it): add it to "
          "nanorun_internal_headers in CMakeLists.txt" % h, file=sys.stderr)
    bad = 1
for h in sorted(listed & reached):
    print("cmake/check_sources.sh: %s is reached from nanorun.h, so it must be installed: "
          "remove it from nanorun_internal_headers" % h, file=sys.stderr)
    bad = 1
for h in sorted(listed - headers):
    print("cmake/check_sources.sh: %s in nanorun_internal_headers does not exist" % h, file=sys.stderr)
    bad = 1
sys.exit(bad)
PY
exit "$missing"
