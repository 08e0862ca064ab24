#!/usr/bin/env bash
# job_queue with a real client (bash's /dev/tcp): replies, a bad line, the
# admission limit ("busy" for the 9th client), backpressure through the
# bounded queue, and a graceful Ctrl-C: every job received before the signal
# is answered, new clients are refused, and the server exits 0.
set -euo pipefail
source "$(dirname "$0")/server_test_lib.sh"
start_server "$1" job_queue

# One job, one reply; a malformed line gets an error.
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'job a 10\nnot a job\n' >&3
read -r -t 5 first <&3
read -r -t 5 second <&3
replies="$(printf '%s\n%s\n' "$first" "$second" | sort)"
expect_eq "reply and error" "$replies" "$(printf 'done a\nerror: expected "job ID MS" (MS in 0..10000)')"

# Admission: 8 clients at once are served (this one and 7 more); the 9th is told busy.
for fd in 4 5 6 7 8 9 10; do eval "exec $fd<>/dev/tcp/127.0.0.1/$port"; done
sleep 0.2  # Let the server admit them.
exec 11<>"/dev/tcp/127.0.0.1/$port"
read -r -t 5 busy <&11 || true
expect_eq "9th client" "$busy" "busy: try again later"
exec 11<&-
for fd in 4 5 6 7 8 9 10; do eval "exec $fd<&-"; done

# 40 jobs of 50 ms in one write (so the server reads them in one go): 4
# workers and a queue of 16, so the sends wait (backpressure) and the jobs take
# about 0.5 s. Ctrl-C after the first reply: the server stops reading, but
# every job it had read must still be answered.
batch="$(for i in $(seq 1 40); do printf 'job j%d 50\n' "$i"; done)"
printf '%s\n' "$batch" >&3
read -r -t 10 reply <&3
[[ "$reply" == done\ j* ]] || { echo "first reply: [$reply]"; exit 1; }
kill -INT "$pid"
count=1
while read -r -t 10 reply <&3; do
  [[ "$reply" == done\ j* ]] || { echo "unexpected reply: [$reply]"; exit 1; }
  count=$((count + 1))
  [[ $count -eq 40 ]] && break
done
expect_eq "jobs answered after Ctrl-C" "$count" "40"
status=0
wait "$pid" || status=$?
trap - EXIT
expect_eq "exit status" "$status" "0"
grep -q "job_queue: drained: [0-9]* finished, 0 cancelled" "$server_out" || {
  echo "no drain report:"; cat "$server_out"; exit 1; }
# The listener is closed: a new client is refused.
if (exec 12<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "still accepting"; exit 1; fi
rm -f "$server_out"
echo "job_queue_test: ok"
