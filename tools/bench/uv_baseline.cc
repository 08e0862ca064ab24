// The libuv baseline for tools/bench: the timer workloads of WORKLOADS.md
// (timer_cancel, timer_fire) written the natural way for libuv 1.44: one
// uv_loop_t run by one thread, a uv_timer_t per timeout. tools/bench/run.sh
// runs it right after nanorun's bench and Asio's, so the ratios are measured
// within seconds of each other. libuv has no task scheduler and no futures:
// the other rows have no libuv figure (tcp_echo/tcp_accept against a libuv
// server are in net_bench_uv).
//
// libuv is single-threaded by design (a loop belongs to one thread), so
// --workers is accepted for run.sh's sake and ignored: every line says
// "workers": 1, the threads that really ran.
#include <uv.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "tools/bench/report.h"

namespace {

using bench::Check;
using bench::Clock;
using bench::Seconds;
int g_scale = 1;

// RunMain has already parsed --workers when a workload runs; the line
// printed after it must say what ran here: one thread.
void OneThread() { bench::g_workers = 1; }

// The RPC deadline pattern: each call gets its own deadline timer, armed for
// 10 s, then the reply arrives first and the timer is stopped.
//
// Shape: a uv_timer_t per request (uv_timer_init, uv_timer_start,
// uv_timer_stop, uv_close), not one handle restarted for every request. A
// client has many calls in flight, each with its own deadline, so each
// request object owns a timer handle -- and that is also what the peers do
// (nanorun makes a timeout per call, Asio a steady_timer per call). Reusing
// one handle would only measure a heap insert and remove.
//
// uv_close is asynchronous: the handle's memory must stay valid until its
// close callback, which runs at the end of the current loop iteration. So
// the calls are issued 1,000 per loop iteration (from a uv_idle_t, as replies
// would arrive in batches from the poll phase): the closes of one batch
// complete, and their Call objects are freed, before the next batch, so
// memory stays bounded instead of a million handles waiting to close.
struct TimerCancelState {
  uv_idle_t issuer;
  long n = 0;
  long issued = 0;
  long fired = 0;    // Deadlines that expired: must stay 0.
  long stopped = 0;  // Deadlines cancelled by their reply.
  long closed = 0;   // Handles whose close completed (Call freed).
  long sum = 0;      // Of the replies, checked like nanorun's.
};

struct Call {
  uv_timer_t deadline;
  TimerCancelState* state;
};

constexpr long kCallsPerIteration = 1000;

void OnDeadline(uv_timer_t* t) { ++static_cast<Call*>(t->data)->state->fired; }

void OnCallClosed(uv_handle_t* h) {
  Call* call = static_cast<Call*>(h->data);
  ++call->state->closed;
  delete call;
}

void IssueCalls(uv_idle_t* idle) {
  auto* s = static_cast<TimerCancelState*>(idle->data);
  uv_loop_t* loop = idle->loop;
  long end = std::min(s->n, s->issued + kCallsPerIteration);
  for (long i = s->issued; i < end; ++i) {
    Call* call = new Call{};
    call->state = s;
    uv_timer_init(loop, &call->deadline);
    call->deadline.data = call;
    int armed = uv_timer_start(&call->deadline, OnDeadline, 10000, 0);
    long reply = i;  // The reply arrives before the deadline ...
    // ... which is cancelled (counted only if it really was armed and is not now).
    if (armed == 0 && uv_timer_stop(&call->deadline) == 0 &&
        !uv_is_active(reinterpret_cast<uv_handle_t*>(&call->deadline))) {
      ++s->stopped;
    }
    s->sum += reply;
    uv_close(reinterpret_cast<uv_handle_t*>(&call->deadline), OnCallClosed);
  }
  s->issued = end;
  if (s->issued == s->n) {
    uv_idle_stop(idle);
    uv_close(reinterpret_cast<uv_handle_t*>(idle), nullptr);
  }
}

void CountActiveTimers(uv_handle_t* h, void* arg) {
  if (h->type == UV_TIMER && uv_is_active(h)) ++*static_cast<long*>(arg);
}

void TimerCancel() {
  OneThread();
  TimerCancelState s;
  s.n = 1000000 / g_scale;
  uv_loop_t loop;
  Check(uv_loop_init(&loop) == 0, "uv_loop_init");
  auto start = Clock::now();
  uv_idle_init(&loop, &s.issuer);
  s.issuer.data = &s;
  uv_idle_start(&s.issuer, IssueCalls);
  uv_run(&loop, UV_RUN_DEFAULT);  // Returns once every handle is closed.
  double secs = Seconds(start);
  long active_timers = 0;
  uv_walk(&loop, CountActiveTimers, &active_timers);
  Check(active_timers == 0, "timer_cancel left timers active");
  Check(s.fired == 0, "timer_cancel: a deadline fired");
  Check(s.stopped == s.n && s.closed == s.n, "timer_cancel: not every timer was stopped and closed");
  Check(s.sum == s.n * (s.n - 1) / 2, "timer_cancel results");
  Check(uv_loop_close(&loop) == 0, "timer_cancel: handles left on the loop");
  bench::Report("timer_cancel", s.n, secs, s.n / secs, "timers/s");
}

// Sleeps with deadlines spread evenly over 1..200 ms, one uv_timer_t each,
// all started before the loop runs; lateness is how long after its deadline
// each callback ran (steady_clock, as bench.cc and asio_baseline.cc).
//
// libuv timeouts are whole milliseconds from the loop's cached time
// (uv_now, CLOCK_MONOTONIC in ms, the clock steady_clock reads on Linux).
// Each timer's timeout is its microsecond deadline rounded up to the next
// loop millisecond, minus uv_now: so no timer fires before its deadline (the
// check below), and the up-to-1-ms rounding is libuv's resolution, counted
// in its lateness as a user would see it.
struct Sleep {
  uv_timer_t timer;
  Clock::time_point deadline;
  int64_t* lateness_ns;
  long* left;
};

void OnSleepDone(uv_timer_t* t) {
  Sleep* s = static_cast<Sleep*>(t->data);
  *s->lateness_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - s->deadline).count();
  --*s->left;
  uv_close(reinterpret_cast<uv_handle_t*>(t), nullptr);  // Storage outlives the loop.
}

void TimerFire() {
  OneThread();
  const long n = 100000 / g_scale;
  std::vector<int64_t> lateness_ns(static_cast<size_t>(n), -1);
  std::vector<Sleep> sleeps(static_cast<size_t>(n));
  long left = n;
  uv_loop_t loop;
  Check(uv_loop_init(&loop) == 0, "uv_loop_init");
  auto start = Clock::now();
  uv_update_time(&loop);  // A fresh uv_now for the timeouts computed below.
  auto t0 = Clock::now();
  for (long i = 0; i < n; ++i) {
    Sleep& s = sleeps[static_cast<size_t>(i)];
    s.deadline = t0 + std::chrono::microseconds(1000 + i * 199000 / n);
    s.lateness_ns = &lateness_ns[static_cast<size_t>(i)];
    s.left = &left;
    int64_t deadline_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(s.deadline.time_since_epoch()).count();
    uint64_t deadline_ms = static_cast<uint64_t>((deadline_ns + 999999) / 1000000);
    uint64_t now_ms = uv_now(&loop);
    uv_timer_init(&loop, &s.timer);
    s.timer.data = &s;
    uv_timer_start(&s.timer, OnSleepDone, deadline_ms > now_ms ? deadline_ms - now_ms : 0, 0);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  double secs = Seconds(start);
  Check(left == 0, "timer_fire: not every timer fired");
  Check(uv_loop_close(&loop) == 0, "timer_fire: handles left on the loop");
  Check(*std::min_element(lateness_ns.begin(), lateness_ns.end()) >= 0,
        "timer_fire: a timer fired early");
  bench::ReportTimerFire(n, secs, lateness_ns);
}

}  // namespace

int main(int argc, char** argv) {
  return bench::RunMain(argc, argv, "libuv", &g_scale,
                        {
                            {"timer_cancel", TimerCancel},
                            {"timer_fire", TimerFire},
                        });
}
