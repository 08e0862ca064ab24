#!/usr/bin/env bash
# Starts echo_server on a free port, talks to it through bash's /dev/tcp,
# checks the echo, then stops it with SIGINT and checks it exits 0.
set -euo pipefail
server="$1"
out="$(mktemp)"
"$server" 0 >"$out" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -f "$out"' EXIT
for _ in $(seq 100); do
  grep -q "listening on" "$out" && break
  sleep 0.05
done
addr="$(sed -n 's/^echo_server listening on //p' "$out" | tr -d '\r')"
port="${addr##*:}"
[[ -n "$port" ]] || { echo "no address printed"; cat "$out"; exit 1; }
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'hello, echo\n' >&3
IFS= read -r -t 5 line <&3
exec 3>&-
[[ "$line" == "hello, echo" ]] || { echo "echoed: '$line'"; exit 1; }
kill -INT "$pid"
wait "$pid"
status=$?
trap - EXIT
rm -f "$out"
[[ $status -eq 0 ]] || { echo "exit status $status"; exit 1; }
echo "echo_server_test: ok"
