#!/usr/bin/env bash
# Starts echo_server on a free port, talks to it through bash's /dev/tcp,
# checks the echo, then stops it with SIGINT and checks it exits 0.
set -euo pipefail
source "$(dirname "$0")/server_test_lib.sh"
start_server "$1" echo_server
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'hello, echo\n' >&3
IFS= read -r -t 5 line <&3
exec 3>&-
expect_eq "echo" "$line" "hello, echo"
stop_server
echo "echo_server_test: ok"
