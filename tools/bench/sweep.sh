#!/usr/bin/env bash
# The --workers sweep: the scheduler workloads (nanorun, Asio, oneTBB) at 1, 2
# and 4 workers, then the rest of tools/bench/run.sh at 2, all appended as
# JSON lines to FILE; then the chart of it all.
#
#   tools/bench/sweep.sh FILE [--runs N]   # then: tools/bench/chart.py FILE > docs/performance.svg
#
# The machines here have 2 cores: 4 workers oversubscribes them, which shows
# what a runtime does with more threads than cores, not how it scales.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
file="${1:?usage: tools/bench/sweep.sh FILE [--runs N]}"
shift
for workers in 1 4; do
  for w in spawn_many spawn_remote yield_many ping_pong chained_spawn; do
    tools/bench/run.sh "$@" --workers "$workers" --only "$w" --json "$file"
  done
done
tools/bench/run.sh "$@" --workers 2 --json "$file"
