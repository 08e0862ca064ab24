#!/usr/bin/env bash
# The long stress run (CI runs the same tests at 1x in every configuration):
# 10,000,000 spawns, 10,000,000 merging cross-thread wakes (20,000 tasks x
# 500), 10,000,000 acknowledged wakes (10,000 tasks x 1,000, each one poll),
# 20,000 park/unpark bursts, under the given config (default: optimised),
# shuffled. About 10 s at -c opt on 2 cores.
#
#   tools/stress.sh [--scale N] [--config asan|tsan|...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scale=10
config=()
while (($#)); do
  case "$1" in
    --scale) scale="$2"; shift 2 ;;
    --config) config=("--config=$2"); shift 2 ;;
    *) echo "usage: $0 [--scale N] [--config NAME]" >&2; exit 2 ;;
  esac
done
((${#config[@]})) || config=(-c opt)
seed="${NANORUN_SHUFFLE_SEED:-$(( (RANDOM << 15 | RANDOM) + 1 ))}"
echo "stress: scale $scale, shuffle seed $seed"
tools/bazel test "${config[@]}" //tests:stress_test --test_timeout=3600 --test_output=streamed \
  "--test_env=NANORUN_STRESS_SCALE=$scale" "--test_env=NANORUN_SHUFFLE_SEED=$seed" \
  --nocache_test_results
