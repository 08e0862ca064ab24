#!/usr/bin/env bash
# Runs nanorun's benchmarks and the peer baselines (Asio; oneTBB for the
# scheduler workloads; libuv for the timers) back to back, workload by
# workload, so each ratio is measured on the same machine within seconds.
#
#   tools/bench/run.sh [--quick] [--runs N] [--only WORKLOAD] [--workers N] [--json FILE]
#
# Prints the JSON lines of all programs (and of net_bench_uv, which measures
# a raw epoll server and a libuv one beside nanorun's, and of redis_bench.sh:
# mini_redis against redis-server, workloads redis_*), then a table of
# nanorun/best-peer rate ratios (> 1: nanorun faster, or smaller for
# idle_task_memory). --workers sets every program's thread count (default 2;
# libuv, the raw epoll server and redis-server are single-threaded, and
# mini_redis keeps the runtime's default); --json FILE also appends the JSON
# lines to FILE (for tools/bench/chart.py).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
tools/install_deps.sh --bench
tools/bazel build -c opt //tools/bench:bench //tools/bench:asio_baseline //tools/bench:net_bench_uv \
  //tools/bench:sync_bench //tools/bench:asio_sync_baseline //tools/bench:tbb_baseline \
  //tools/bench:uv_baseline >&2
bin="$(tools/bazel info -c opt bazel-bin 2>/dev/null)/tools/bench"

out="$(mktemp)"
trap 'rm -f "$out"' EXIT
only=""
json=""
args=()
while (($#)); do
  case "$1" in
    --only) only="$2"; shift 2 ;;
    --json) json="$2"; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
workloads=(spawn_many spawn_remote yield_many ping_pong chained_spawn idle_task_memory
           then_chain_ready then_chain_deferred cross_thread_hop timer_cancel timer_fire)
for w in "${workloads[@]}"; do
  [[ -n "$only" && "$only" != "$w" ]] && continue
  "$bin/bench" "${args[@]}" --only "$w" | tee -a "$out"
  case "$w" in then_chain_*|cross_thread_hop) continue ;; esac
  "$bin/asio_baseline" "${args[@]}" --only "$w" | tee -a "$out"
  case "$w" in
    spawn_many|spawn_remote|ping_pong|chained_spawn)
      "$bin/tbb_baseline" "${args[@]}" --only "$w" | tee -a "$out" ;;
    timer_cancel|timer_fire)
      "$bin/uv_baseline" "${args[@]}" --only "$w" | tee -a "$out" ;;
  esac
done
# The synchronisation workloads (sync_bench; Asio's concurrent_channel).
for w in channel_throughput mutex_contended semaphore_admission; do
  [[ -n "$only" && "$only" != "$w" ]] && continue
  "$bin/sync_bench" "${args[@]}" --only "$w" | tee -a "$out"
  "$bin/asio_sync_baseline" "${args[@]}" --only "$w" | tee -a "$out"
done
# The network workloads carry their own baselines (a raw epoll server and a
# libuv one), measured back to back with nanorun in each run.
for w in tcp_echo tcp_accept; do
  [[ -n "$only" && "$only" != "$w" ]] && continue
  "$bin/net_bench_uv" "${args[@]}" --only "$w" | tee -a "$out"
done
# redis-benchmark against redis-server and mini_redis (redis_ping_inline,
# redis_ping_mbulk, redis_set, redis_get), alternating run by run.
if [[ -z "$only" || "$only" == redis_* ]]; then
  tools/bench/redis_bench.sh "${args[@]}" ${only:+--only "$only"} | tee -a "$out"
fi
[[ -z "$json" ]] || grep '^{' "$out" >> "$json"

echo
echo "workload              nanorun        asio           tbb            libuv          ratio to the best peer (asio column: raw_epoll for tcp_*, redis for redis_*)"
awk '
  match($0, /"workload": "[^"]*"/) { w = substr($0, RSTART + 13, RLENGTH - 14) }
  match($0, /"impl": "[^"]*"/) { impl = substr($0, RSTART + 9, RLENGTH - 10) }
  match($0, /"rate": [0-9.e+-]*/) { rate[w, impl] = substr($0, RSTART + 8, RLENGTH - 8) + 0; seen[w] = 1; order[++n] = w }
  END {
    for (i = 1; i <= n; i++) {
      w = order[i]
      if (done[w]++) continue
      best = 0
      split("asio tbb raw_epoll libuv redis", peers, " ")
      for (p in peers) if ((w, peers[p]) in rate && rate[w, peers[p]] > best) best = rate[w, peers[p]]
      a = ((w, "asio") in rate) ? sprintf("%.4g", rate[w, "asio"]) : (((w, "raw_epoll") in rate) ? sprintf("%.4g", rate[w, "raw_epoll"]) : (((w, "redis") in rate) ? sprintf("%.4g", rate[w, "redis"]) : "-"))
      t = ((w, "tbb") in rate) ? sprintf("%.4g", rate[w, "tbb"]) : "-"
      u = ((w, "libuv") in rate) ? sprintf("%.4g", rate[w, "libuv"]) : "-"
      if (best > 0)
        printf "%-21s %-14.4g %-14s %-14s %-14s %.2fx\n", w, rate[w, "nanorun"], a, t, u, rate[w, "nanorun"] / best
      else
        printf "%-21s %-14.4g %-14s %-14s %-14s %s\n", w, rate[w, "nanorun"], a, t, u, "-"
    }
  }' "$out"
