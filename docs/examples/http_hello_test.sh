#!/usr/bin/env bash
# curl against http_hello: one request, two over one kept-alive connection,
# a POST with a body, and a malformed request; the runtime's /metrics page
# and /debug/tasks dump; then a clean SIGINT exit.
set -euo pipefail
source "$(dirname "$0")/server_test_lib.sh"
start_server "$1" http_hello
url="http://127.0.0.1:$port"
expect_eq "GET /" "$(curl -sS --max-time 5 "$url/")" "hello, world"
# Two URLs in one curl: the second reuses the connection (keep-alive).
two="$(curl -sS --max-time 5 -w '%{num_connects}\n' "$url/a" "$url/b")"
expect_eq "keep-alive" "$two" $'hello, world\n1\nhello, world\n0'
expect_eq "POST" "$(curl -sS --max-time 5 -d 'some body' "$url/post")" "hello, world"
code="$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' -X 'BAD REQUEST LINE' "$url/" || true)"
expect_eq "malformed" "$code" "400"

# /metrics: Prometheus text, with values the requests above must have left.
metrics="$(curl -sS --max-time 5 "$url/metrics")"
metric() { sed -n "s/^nanorun_$1 //p" <<<"$metrics"; }
grep -q '^# TYPE nanorun_polls_total counter$' <<<"$metrics" || { echo "no TYPE line:"; echo "$metrics"; exit 1; }
[[ "$(metric workers)" -ge 1 ]] || { echo "workers: $(metric workers)"; exit 1; }
# Four connections served before this one, each its own task: spawned.
[[ "$(metric tasks_spawned_total)" -ge 5 ]] || { echo "spawned: $(metric tasks_spawned_total)"; exit 1; }
[[ "$(metric io_registrations)" -ge 2 ]] || { echo "io: $(metric io_registrations)"; exit 1; }  # Listener + this one.
[[ "$(metric io_events_total)" -ge 1 ]] || { echo "events: $(metric io_events_total)"; exit 1; }
grep -q '^nanorun_worker_polls_total{worker="0"} ' <<<"$metrics" || { echo "no per-worker polls"; exit 1; }

# /debug/tasks: the dump shows this very connection's task, named after its
# peer (running if its first poll found the request, else idle), and the
# accept loop waiting for the next connection.
tasks="$(curl -sS --max-time 5 "$url/debug/tasks")"
grep -Eq '"conn 127\.0\.0\.1:[0-9]+" (running|idle), polled' <<<"$tasks" ||
  { echo "no conn task:"; echo "$tasks"; exit 1; }
grep -q '"accept loop" idle, polled 1 time(s), last .* ago, waits on socket read' <<<"$tasks" ||
  { echo "no accept loop:"; echo "$tasks"; exit 1; }
stop_server
echo "http_hello_test: ok"
