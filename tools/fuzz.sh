#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang 14 + ASan and runs
# each for a bounded time on a copy of its corpus. A crash leaves its input
# in tests/fuzz/crashes/<target>/; add it to tests/fuzz/corpus/<target>/ to
# keep it as a regression test (the <target>_regression tests replay it).
#
#   tools/fuzz.sh [--time SECONDS_PER_TARGET] [TARGET...]   (default 60 s, all)
# CI runs it with a small budget; a longer run: tools/fuzz.sh --time 3600.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
secs=60
targets=()
while (($#)); do
  case "$1" in
    --time) secs="$2"; shift 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
((${#targets[@]})) || targets=(socket_addr resp timer_wheel future)
tools/install_deps.sh --tsan  # clang-14 and its sanitizer runtimes (libFuzzer included)
labels=()
for t in "${targets[@]}"; do labels+=("//tests/fuzz:${t}_fuzzer"); done
tools/bazel build --config=fuzz "${labels[@]}" >&2
bin="$(tools/bazel info --config=fuzz bazel-bin 2>/dev/null)/tests/fuzz"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
for t in "${targets[@]}"; do
  mkdir -p "$work/$t" "tests/fuzz/crashes/$t"
  cp -r "tests/fuzz/corpus/$t/." "$work/$t/"
  echo "== fuzzing $t for ${secs}s"
  if "$bin/${t}_fuzzer" "$work/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
       -artifact_prefix="tests/fuzz/crashes/$t/" -print_final_stats=1 2>&1 | tail -15; then
    passed=$((passed + 1))
    rmdir "tests/fuzz/crashes/$t" 2>/dev/null || true
  else
    failed=$((failed + 1))
    echo "FUZZ FAILURE in $t: input saved under tests/fuzz/crashes/$t/"
  fi
done
rmdir tests/fuzz/crashes 2>/dev/null || true
echo "$passed passed, $failed failed"
((failed == 0))
