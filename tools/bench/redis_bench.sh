#!/usr/bin/env bash
# redis_ping_inline, redis_ping_mbulk, redis_set, redis_get: the same
# redis-benchmark load (50 clients, no pipelining) against redis-server 7 and
# against nanorun's mini_redis example (docs/examples/mini_redis.cc),
# alternating run by run, so the ratio is measured side by side instead of
# quoted. Prints one JSON line per (test, impl) in report.h's format: the run
# with the median requests/s, with its min and max.
#
#   tools/bench/redis_bench.sh [--quick] [--runs R] [--only redis_TEST] [--workers N]
#
# --quick: 20,000 requests per test instead of 100,000; --runs: default 3.
# --workers is accepted (tools/bench/run.sh passes it to every program) and
# ignored: mini_redis runs the runtime's default configuration, the one a
# user of the example gets (std::thread::hardware_concurrency() workers), and
# redis-server runs its own (one thread executes the commands).
# Installs redis-server with apt when missing (as root), never leaves its
# system service running, and starts both servers as children of this
# script, killed when it exits.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

requests=100000
runs=3
only=""
while (($#)); do
  case "$1" in
    --quick) requests=20000; shift ;;
    --runs) runs="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    --workers) shift 2 ;;
    *) echo "usage: $0 [--quick] [--runs R] [--only redis_TEST] [--workers N]" >&2; exit 2 ;;
  esac
done
((runs >= 1)) || runs=1
tests=(ping_inline ping_mbulk set get)
if [[ -n "$only" ]]; then
  if [[ "$only" != redis_* || " ${tests[*]} " != *" ${only#redis_} "* ]]; then
    echo "$0: no workload named '$only' (redis_ping_inline, redis_ping_mbulk, redis_set, redis_get)" >&2
    exit 2
  fi
  tests=("${only#redis_}")
fi

tools/bazel build -c opt //docs/examples:mini_redis >&2
mini_redis="$(tools/bazel info -c opt bazel-bin 2>/dev/null)/docs/examples/mini_redis"

if ! command -v redis-server >/dev/null; then
  if ((EUID != 0)); then
    echo "$0: redis-server is missing; as root: apt-get install -y redis-server" >&2
    exit 1
  fi
  echo "redis_bench: installing redis-server" >&2
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y redis-server >&2
  # The package starts its system service where policy allows (systemd, or
  # sysvinit without a denying policy-rc.d): stop it, this script runs its own.
  if [[ -d /run/systemd/system ]]; then
    systemctl stop redis-server >&2 || true
  else
    invoke-rc.d redis-server stop >&2 || true
  fi
  pidfile=/run/redis/redis-server.pid
  if [[ -s "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    kill "$(cat "$pidfile")" || true
  fi
fi

tmp="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM  # Through the EXIT trap: the servers die with us.

# mini_redis: port 0 (it picks a free one and prints it), and nothing else on
# its command line: the default Runtime. NANORUN_SHUFFLE_SEED (a debugging
# mode that shuffles the scheduler) is removed so it cannot slip in from the
# caller's environment.
env -u NANORUN_SHUFFLE_SEED "$mini_redis" 0 >"$tmp/mini_redis.log" 2>&1 &
pids+=($!)
mini_pid=$!
for _ in $(seq 200); do
  grep -q "listening on" "$tmp/mini_redis.log" && break
  sleep 0.05
done
mini_port="$(sed -n 's/^mini_redis listening on .*://p' "$tmp/mini_redis.log")"
[[ -n "$mini_port" ]] || { echo "mini_redis did not start:" >&2; cat "$tmp/mini_redis.log" >&2; exit 1; }

# redis-server has no "pick a free port" (--port 0 disables TCP): try random
# ports until one binds, known by its "Ready to accept connections" line.
redis_port=""
for _ in $(seq 10); do
  port=$((20000 + RANDOM % 40000))
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$tmp" --daemonize no >"$tmp/redis.log" 2>&1 &
  pid=$!
  for _ in $(seq 200); do
    grep -q "Ready to accept connections" "$tmp/redis.log" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  if grep -q "Ready to accept connections" "$tmp/redis.log" && kill -0 "$pid" 2>/dev/null; then
    pids+=("$pid")
    redis_port="$port"
    break
  fi
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
done
[[ -n "$redis_port" ]] || { echo "redis-server did not start:" >&2; cat "$tmp/redis.log" >&2; exit 1; }
echo "redis_bench: redis-server $(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p') on port $redis_port," \
  "mini_redis on port $mini_port ($(awk '/^Threads:/ {print $2}' "/proc/$mini_pid/status") threads)," \
  "$requests requests per test, $runs runs" >&2

# One redis-benchmark run: appends "impl test rps p50_ms p99_ms" lines.
results="$tmp/results"
: >"$results"
bench_one() {  # IMPL PORT
  local csv="$tmp/csv"
  redis-benchmark -h 127.0.0.1 -p "$2" -c 50 -n "$requests" -t "$(IFS=,; echo "${tests[*]}")" \
    --csv >"$csv" 2>"$tmp/benchmark.err" || {
    echo "redis-benchmark against $1 failed:" >&2; cat "$tmp/benchmark.err" >&2; exit 1; }
  # "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms",...
  awk -F, -v impl="$1" 'NR > 1 { gsub(/"/, ""); print impl, tolower($1), $2, $5, $7 }' "$csv" >>"$results"
  for t in "${tests[@]}"; do
    grep -q "^$1 $t " "$results" || { echo "redis-benchmark against $1 gave no $t figure:" >&2; cat "$csv" >&2; exit 1; }
  done
}
for ((r = 0; r < runs; ++r)); do
  bench_one redis "$redis_port"
  bench_one nanorun "$mini_port"
done

# The median run of each (test, impl), as report.h's PrintMedians picks it:
# sorted by rate, the element at index runs / 2.
workers_nanorun="$(getconf _NPROCESSORS_ONLN)"  # What hardware_concurrency() reads.
for t in "${tests[@]}"; do
  for impl in redis nanorun; do
    workers=1
    [[ "$impl" == nanorun ]] && workers="$workers_nanorun"
    awk -v impl="$impl" -v t="$t" '$1 == impl && $2 == t' "$results" | sort -g -k3 |
      awk -v w="redis_$t" -v impl="$impl" -v n="$requests" -v workers="$workers" '
        { rps[NR] = $3; p50[NR] = $4; p99[NR] = $5 }
        END {
          m = int(NR / 2) + 1
          printf "{\"workload\": \"%s\", \"impl\": \"%s\", \"n\": %d, \"seconds\": %.6f, " \
                 "\"rate\": %.6g, \"unit\": \"requests/s\", \"runs\": %d, \"rate_min\": %.6g, " \
                 "\"rate_max\": %.6g, \"workers\": %d, \"latency_p50_ms\": %s, \"latency_p99_ms\": %s}\n",
                 w, impl, n, n / rps[m], rps[m], NR, rps[1], rps[NR], workers, p50[m], p99[m]
        }'
  done
done
