#!/usr/bin/env bash
# What Handle::metrics() costs (issue 17): builds nanorun's `bench` and
# `net_bench` (-c opt) twice, with the metrics counters compiled in (the
# default) and out (--define=nanorun_metrics=off), then runs the two builds
# alternately, ROUNDS times each, in this one invocation, and prints each
# workload's median rate per build, the ratio of the medians, and the median
# of each round's ratio. Ratios, not absolute rates, are what compare on
# shared, noisy cores.
#
#   tools/bench/metrics_cost.sh [ROUNDS] [WORKLOAD...]   (default: 9 spawn_many tcp_echo)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS="${1:-9}"
shift || true
WORKLOADS=("$@")
[[ ${#WORKLOADS[@]} -eq 0 ]] && WORKLOADS=(spawn_many tcp_echo)
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

for build in on off; do
  flags=(-c opt)
  [[ "$build" == off ]] && flags+=(--define=nanorun_metrics=off)
  tools/bazel build "${flags[@]}" //tools/bench:bench //tools/bench:net_bench >&2
  cp bazel-bin/tools/bench/bench "$OUT/bench_$build"
  cp bazel-bin/tools/bench/net_bench "$OUT/net_bench_$build"
done

for workload in "${WORKLOADS[@]}"; do
  case "$workload" in
    tcp_*) program=net_bench; extra=(--quick --runs 1) ;;
    *) program=bench; extra=(--runs 5) ;;
  esac
  for ((i = 0; i < ROUNDS; ++i)); do
    # Which build goes first alternates, so a slow first run after a pause
    # (or a drift within the round) does not always land on the same build.
    order=(on off)
    ((i % 2 == 1)) && order=(off on)
    for build in "${order[@]}"; do
      "$OUT/${program}_$build" --only "$workload" "${extra[@]}" 2>/dev/null |
        grep '"impl": "nanorun"' | tail -1 | sed "s/^/$build /" >> "$OUT/$workload.txt"
    done
  done
  python3 - "$workload" "$OUT/$workload.txt" <<'PY'
import json, statistics, sys
workload, path = sys.argv[1], sys.argv[2]
rates = {"on": [], "off": []}
for line in open(path):
    build, record = line.split(" ", 1)
    rates[build].append(json.loads(record)["rate"])
on, off = statistics.median(rates["on"]), statistics.median(rates["off"])
# The machine's speed drifts over a minute; a round's two runs are seconds
# apart, so the median of the rounds' ratios is steadier than the ratio of
# the medians. Both are printed.
pairs = statistics.median(a / b for a, b in zip(rates["on"], rates["off"]))
print(f"{workload}: metrics on {on:.4g}/s, off {off:.4g}/s (medians of {len(rates['on'])}), "
      f"on/off {on / off:.3f}; median of the rounds' on/off {pairs:.3f}")
print(f"  on:  {' '.join(f'{r:.3g}' for r in rates['on'])}")
print(f"  off: {' '.join(f'{r:.3g}' for r in rates['off'])}")
PY
done
