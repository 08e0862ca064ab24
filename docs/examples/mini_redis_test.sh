#!/usr/bin/env bash
# redis-cli and redis-benchmark (Debian's redis-tools) against mini_redis.
set -euo pipefail
source "$(dirname "$0")/server_test_lib.sh"
start_server "$1" mini_redis
cli() { redis-cli -p "$port" "$@"; }
expect_eq "PING" "$(cli ping)" "PONG"
expect_eq "PING msg" "$(cli ping hi)" "hi"
expect_eq "ECHO" "$(cli echo 'hello world')" "hello world"
expect_eq "SET" "$(cli set greeting hello)" "OK"
expect_eq "GET" "$(cli get greeting)" "hello"
expect_eq "DEL" "$(cli del greeting nothing)" "1"
expect_eq "GET missing" "$(cli get greeting)" ""
expect_eq "unknown" "$(cli flushall 2>&1)" "ERR unknown command 'flushall'"
# redis-benchmark with pipelining: every test must report a rate.
out="$(redis-benchmark -p "$port" -t ping,set,get -n 20000 -P 16 -q 2>&1)"
echo "$out"
for t in PING_INLINE PING_MBULK SET GET; do
  grep -qE "$t: [0-9.]+ requests per second" <<<"$out" || { echo "no rate for $t"; exit 1; }
done
stop_server
echo "mini_redis_test: ok"
