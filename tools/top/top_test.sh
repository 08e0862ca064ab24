#!/usr/bin/env bash
# nanorun_top in a real terminal: tmux runs it against http_hello while curl
# keeps requests coming, and the test reads the screen it drew (tmux
# capture-pane): one screen redrawn in place, with the workers' rows and
# non-zero rates.
#   top_test.sh NANORUN_TOP HTTP_HELLO
set -euo pipefail
top_bin="$(realpath "$1")"
source "$(dirname "$0")/../../docs/examples/server_test_lib.sh"
command -v tmux >/dev/null || { echo "top_test: needs tmux (tools/install_deps.sh installs it)"; exit 1; }
start_server "$2" http_hello
url="http://127.0.0.1:$port"

# A short path: a Unix socket's path must fit in 108 bytes.
dir="$(mktemp -d /tmp/nanorun-top.XXXXXX)"
sock="$dir/tmux.sock"
load_pid=""
cleanup() {
  [[ -n "$load_pid" ]] && kill "$load_pid" 2>/dev/null || true
  tmux -S "$sock" kill-server 2>/dev/null || true
  rm -rf "$dir"
  kill "$pid" 2>/dev/null || true
}
trap cleanup EXIT

(while :; do curl -s --max-time 5 "$url/" >/dev/null || true; done) &
load_pid=$!

export TERM=xterm
tmux -S "$sock" -f /dev/null new-session -d -x 110 -y 30 \
  "'$top_bin' 127.0.0.1:$port --interval 0.5; echo TOP-EXITED; sleep 60"

screen=""
ok=0
for _ in $(seq 100); do
  sleep 0.2
  screen="$(tmux -S "$sock" capture-pane -p)"
  # A second screen (rates need two fetches) with polls and I/O moving.
  polls_rate="$(sed -n 's/^Polls: *[0-9]* *( *\([0-9]*\)\/s).*/\1/p' <<<"$screen")"
  if [[ -n "$polls_rate" && "$polls_rate" -gt 0 ]]; then ok=1; break; fi
done
if [[ $ok -ne 1 ]]; then
  echo "top_test: no screen with a polls rate > 0 in 20 s; the pane:"
  echo "$screen"
  exit 1
fi
echo "$screen"
fail() { echo "top_test: $1; the pane above"; exit 1; }
[[ "$(grep -c '^nanorun top - 127.0.0.1:' <<<"$screen")" -eq 1 ]] || fail "not one screen redrawn in place"
grep -q 'TOP-EXITED' <<<"$screen" && fail "nanorun_top exited"
grep -Eq '^ *WORKER +BUSY% +POLLS/s +QUEUE +PARKS/s +STEALS$' <<<"$screen" || fail "no worker table header"
grep -Eq '^ +0 +[0-9.]+ +[0-9]+ ' <<<"$screen" || fail "no row for worker 0"
grep -Eq '^Tasks: +[0-9]+ alive +[0-9]+ spawned' <<<"$screen" || fail "no tasks line"
grep -Eq '^I/O: +[1-9][0-9]* sockets' <<<"$screen" || fail "no sockets counted"

kill "$load_pid"; wait "$load_pid" 2>/dev/null || true
load_pid=""
tmux -S "$sock" kill-server
stop_server
trap - EXIT
rm -rf "$dir"
echo "top_test: ok"
