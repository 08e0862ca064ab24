#!/usr/bin/env bash
# Builds nanorun's API reference (HTML) from the public headers: nanorun.h and
# every nanorun header it includes, plus docs/README.md as the main page.
# Fails if Doxygen warns about anything, e.g. a public type or function without
# its comment (CI stage api-docs).
#
# Usage: tools/api_docs/build.sh [OUTPUT_DIR]   (default: build/api; open html/index.html)
# Installs doxygen (Debian) if missing, as root; prints "N passed, N failed".
set -euo pipefail

ws="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ws"
out="${1:-$ws/build/api}"

if ! command -v doxygen >/dev/null; then
  if ((EUID != 0)); then
    echo "api_docs: doxygen missing; as root run: apt-get install -y --no-install-recommends doxygen" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends doxygen >&2 ||
    { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends doxygen >&2; }
fi

# The public headers: what nanorun.h includes (one source of truth).
headers=(nanorun/nanorun.h)
while read -r h; do headers+=("$h"); done < <(sed -n 's|^#include "\(nanorun/[^"]*\.h\)".*|\1|p' nanorun/nanorun.h)
version="$(sed -n 's/^#define NANORUN_VERSION_STRING "\(.*\)"/\1/p' nanorun/version.h)"

mkdir -p "$out"
log="$out/warnings.log"
rc=0
{
  cat tools/api_docs/Doxyfile
  echo "INPUT = docs/README.md ${headers[*]}"
  echo "PROJECT_NUMBER = $version"
  echo "OUTPUT_DIRECTORY = $out"
  echo "WARN_LOGFILE = $log"
} | doxygen - || rc=$?
warnings=0
[[ -s "$log" ]] && warnings=$(grep -c . "$log")
if ((warnings > 0)); then
  cat "$log"
  echo "api_docs: $warnings warning(s) (above); every public symbol needs its comment"
fi
if ((rc == 0 && warnings == 0)); then
  echo "api_docs: ${#headers[@]} headers, reference in $out/html/index.html"
  echo "1 passed, 0 failed"
else
  echo "0 passed, 1 failed"
  exit 1
fi
