# Shared by the example servers' tests: start_server BINARY NAME [ARGS...]
# starts it on a free port (its first argument 0, then ARGS), waits for "NAME
# listening on ADDR" and sets $pid and $port;
# stop_server sends SIGINT and checks a clean exit.
start_server() {
  local binary="$1" name="$2"
  shift 2
  server_out="$(mktemp)"
  "$binary" 0 "$@" >"$server_out" 2>&1 &
  pid=$!
  trap 'kill "$pid" 2>/dev/null || true; rm -f "$server_out"' EXIT
  for _ in $(seq 200); do
    grep -q "listening on" "$server_out" && break
    sleep 0.05
  done
  local addr
  addr="$(sed -n "s/^$name listening on //p" "$server_out" | tr -d '\r')"  # CRLF under Wine
  port="${addr##*:}"
  [[ -n "$port" ]] || { echo "$name printed no address:"; cat "$server_out"; exit 1; }
}

stop_server() {
  kill -INT "$pid"
  # Bounded, so a server that ignores the signal fails here with its output
  # instead of hanging the test until its runner's timeout.
  for _ in $(seq 400); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "server still running 20 s after SIGINT; its output:"
    cat "$server_out"
    exit 1
  fi
  local status=0
  wait "$pid" || status=$?
  trap - EXIT
  rm -f "$server_out"
  [[ $status -eq 0 ]] || { echo "server exit status $status"; exit 1; }
}

expect_eq() {  # expect_eq WHAT GOT WANT
  [[ "$2" == "$3" ]] || { printf '%s: got [%s], want [%s]\n' "$1" "$2" "$3"; exit 1; }
}
