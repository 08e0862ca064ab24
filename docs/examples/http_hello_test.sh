#!/usr/bin/env bash
# curl against http_hello: one request, two over one kept-alive connection,
# a POST with a body, and a malformed request; then a clean SIGINT exit.
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
stop_server
echo "http_hello_test: ok"
