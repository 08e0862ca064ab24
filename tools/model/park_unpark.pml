/*
 * park_unpark.pml -- SPIN model of the executor's no-lost-wakeup handshake.
 *
 * WHAT IT MODELS
 *   NW (2) workers running Executor::run_worker (executor.cc:281-299) and
 *   one foreign thread pushing NPUSH (2) tasks into the injector
 *   (Executor::enqueue_foreign, executor.cc:265-272: Injector::push then
 *   notify_parked). A task run by a worker may spawn one more task on that
 *   worker (schedule_local, executor.cc:226-249: into the LIFO slot, or to
 *   the back of the local queue as a yield), at most MAXSPAWN (1) in all.
 *   Mirrored, step by step:
 *     Idle (idle.h): state_ as the pair (unparked, searching), each RMW one
 *       atomic step; mu_ and sleepers_ (a vector used as a stack: push_back,
 *       back/pop_back, find/erase). worker_to_notify idle.h:40-49,
 *       transition_worker_to_parked 53-59, transition_worker_to_searching
 *       63-68 (a load, then a separate fetch_add), from_searching 72-75,
 *       unpark_worker_by_id 81-88, should_wake 98-101.
 *     Parker (parker.h): state_ EMPTY / PARKED_CONDVAR / PARKED_DRIVER /
 *       NOTIFIED; park 42-54, unpark 56-68, park_on_driver 73-84,
 *       park_on_condvar 86-103, the Driver token (try_acquire/release
 *       25-28). A condvar: Wait releases mu_ and blocks in one step, Signal
 *       wakes the waiter if it is waiting and is lost otherwise. The reactor:
 *       its eventfd wake is a sticky token that the next reactor park
 *       consumes.
 *     Executor (executor.cc): notify_parked 274-279, run_worker's loop
 *       283-299, next_task 309-322 (LIFO slot, local queue, injector),
 *       take_from_injector 346-364 (a share: len/NW + 1; the rest is pushed
 *       to the local queue, then notify_parked if more than one), steal_work
 *       391-404 (steal_into takes ceil(half), local_queue.cc:82-125),
 *       run_task 406-421 (leave searching, notify if last; the LIFO loop),
 *       has_visible_work 423-429, park 431-449.
 *   Not modeled: timers, I/O (the reactor only wakes on unpark, or
 *   spuriously within SPURIOUS), the fairness tick (next_task 311-318),
 *   shuffle mode, local queue overflow to the injector, shutdown.
 *
 * MEMORY MODEL
 *   SPIN explores interleavings under sequential consistency only. The
 *   handshake is a Dekker pattern and is correct only if the C++ gives
 *   these accesses a single total order, which it does because:
 *     - the producer's Injector::push is a seq_cst fetch_add of len_
 *       (injector.h:39) followed by the seq_cst fence in notify_parked
 *       (executor.cc:276) and a seq_cst load of state_ (idle.h:99);
 *     - the parking worker's RMW of state_ is seq_cst (idle.h:56) and its
 *       re-check loads len_ with seq_cst (Injector::empty, injector.h:63).
 *   The model takes that as given; MUTANT_NO_FENCE shows what breaks
 *   without it (the producer's load of state_ done before its push is
 *   visible). Re-checking a peer's LocalQueue uses acquire loads of
 *   head_/tail_ (local_queue.h len()) after the seq_cst RMW with no fence,
 *   so the C++ model does not forbid the re-check missing a local push;
 *   that cannot lose work (the pushing worker is awake and pops its own
 *   queue before it parks), only delay stealing.
 *
 * PROPERTIES
 *   - no lost wakeup: at every final state (SPIN `timeout`: no thread can
 *     move, so both workers are asleep in a condvar or the reactor) no task
 *     is queued anywhere, every task pushed or spawned has run exactly once
 *     (assert in init).
 *   - no deadlock: invalid end states (a thread blocked anywhere but
 *     asleep in a Parker or at the end of the pusher) are errors.
 *   - no livelock: with -DNP (pan -l -f, weak fairness) there is no cycle
 *     that never runs a task (progress label progress_run): workers cannot
 *     spin forever on notifications while work waits. check.sh runs this
 *     with SPURIOUS=0 (the search with spurious wakes needs ~1.7 GB).
 *   - bookkeeping: unparked + |sleepers| == NW under Idle::mu_, searching
 *     never exceeds NW and never underflows, a worker is never listed twice.
 *
 * BOUNDS
 *   NW = 2 workers, 1 foreign pusher, NPUSH = 2 pushed tasks, MAXSPAWN = 1
 *   spawned task, SPURIOUS = 1 spurious return from a condvar wait or the
 *   reactor (e.g. a timer) in all.
 *
 * MUTANTS (tools/model/check.sh --mutants compiles each and expects errors)
 *   MUTANT_NO_RECHECK   the last searcher parks without has_visible_work
 *   MUTANT_NO_FENCE     notify_parked reads state_ before the push is seen
 *   MUTANT_PARKER_NO_CAS park_on_condvar overwrites NOTIFIED with PARKED
 */

#ifndef NW
#define NW 2
#endif
#ifndef NPUSH
#define NPUSH 2
#endif
#ifndef MAXSPAWN
#define MAXSPAWN 1
#endif
#ifndef SPURIOUS
#define SPURIOUS 1
#endif
#define MAX_LIFO_POLLS 3     /* kMaxLifoPolls, executor.cc:68 */

#define NONE 255

/* Parker::state_ values, parker.h:71 */
#define EMPTY          0
#define PARKED_CONDVAR 1
#define PARKED_DRIVER  2
#define NOTIFIED       3

/* Idle::state_ (idle.h:104): (unparked << 16) | searching, packed in one
 * atomic; kept as two bytes always updated together in one atomic step. */
byte unparked = NW;
byte searching;
bit  idle_mu;                /* Idle::mu_ */
byte sleepers[NW];           /* Idle::sleepers_ */
byte nsleepers;

byte injector;               /* Injector length (len_) */
byte localq[NW];             /* LocalQueue lengths */
bit  lifo[NW];               /* Worker::lifo_slot (owner only) */

byte pstate[NW];             /* Parker::state_ */
bit  pmu[NW];                /* Parker::mu_ */
bit  waiting[NW];            /* blocked in cv_.Wait */
bit  driver_taken;           /* Driver::taken_ */
bit  reactor_token;          /* the reactor's eventfd */
byte spurious = SPURIOUS;    /* spurious returns left */

byte pushed, spawned, ran;

inline unlock_idle() {
  assert(unparked + nsleepers == NW);
  idle_mu = 0
}

/* Parker::unpark (parker.h:56-68) of worker `target`. */
inline unpark() {
  atomic { pprev = pstate[target]; pstate[target] = NOTIFIED }   /* parker.h:59 */
  if
  :: pprev == PARKED_CONDVAR ->
     atomic { pmu[target] == 0 -> pmu[target] = 1 };   /* parker.h:62 mu_.Lock() */
     pmu[target] = 0;                                  /* parker.h:63 mu_.Unlock() */
     atomic { waiting[target] = 0; pprev = 0; target = NONE }   /* parker.h:64 cv_.Signal() */
  :: pprev == PARKED_DRIVER ->
     atomic { reactor_token = 1; pprev = 0; target = NONE }     /* parker.h:66 reactor().wake() */
  :: else -> atomic { pprev = 0; target = NONE }
  fi
}

/* Executor::notify_parked (executor.cc:274-279). The seq_cst fence at 276
 * is implicit: the model is sequentially consistent. */
inline notify_parked() {
  /* Idle::worker_to_notify (idle.h:40-49) */
  /* Steps under mu_ are merged into atomic blocks where only one of their
   * accesses is visible to threads that do not take mu_ (they read or
   * write state_ without it): the load at idle.h:43 and the fetch_add at idle.h:45 stay
   * separate steps. */
  atomic { sw = (searching == 0 && unparked < NW) }    /* idle.h:41 should_wake */
  if
  :: sw ->
     atomic {
       idle_mu == 0 -> idle_mu = 1;                    /* idle.h:42 */
       sw = (searching == 0 && unparked < NW && nsleepers > 0)  /* idle.h:43 */
     };
     atomic {
       if
       :: sw ->
          unparked++; searching++;                     /* idle.h:45 fetch_add(pack(1,1)) */
          assert(searching <= NW);
          nsleepers--;                                 /* idle.h:46-47 back, pop_back */
          target = sleepers[nsleepers];
          sleepers[nsleepers] = NONE
       :: else -> target = NONE
       fi;
       sw = 0;
       unlock_idle()
     }
  :: else -> target = NONE
  fi;
  if
  :: target != NONE -> unpark()                        /* executor.cc:278 */
  :: else
  fi
}

proctype Pusher() {
  byte target = NONE, pprev; bit sw;
  do
  :: pushed < NPUSH ->
#ifdef MUTANT_NO_FENCE
     notify_parked();
     atomic { injector++; pushed++ }
#else
     /* Injector::push (injector.h:27-42): len_ seq_cst fetch_add under mu_ */
     atomic { injector++; pushed++ };
     notify_parked()                                   /* executor.cc:271 */
#endif
  :: else -> break
  od
}

/* Running one task (t->vtable->poll): it may spawn one task on this worker. */
inline poll_task() {
  atomic {
    ran++;
    hv = 0;
    if
    :: spawned < MAXSPAWN ->
       spawned++;
       if
       :: /* schedule_local, not a yield: the LIFO slot (executor.cc:235-238) */
          if
          :: !lifo[me] -> lifo[me] = 1                 /* executor.cc:237: no notify */
          :: else -> localq[me]++; hv = 1              /* executor.cc:238 */
          fi
       :: /* a yield: back of the local queue (executor.cc:233) */
          localq[me]++; hv = 1
       fi
    :: skip
    fi
  };
  if
  :: hv -> hv = 0; notify_parked()                     /* executor.cc:247 */
  :: else
  fi
}

/* Executor::take_from_injector (executor.cc:346-364) */
inline take_from_injector() {
  /* len() (347) and pop_batch (353, injector.h:46-61) in one step: a
   * stale len() only changes the batch size, or finds nothing, which is
   * the same as reading 0 at the pop. */
  atomic {
    want = injector / NW + 1;                          /* executor.cc:350-351 (room is ample) */
    cnt = (injector < want -> injector : want);
    injector = injector - cnt;
    t = (cnt > 0);
    want = 0
  };
  if
  :: cnt > 1 ->
     atomic { localq[me] = localq[me] + cnt - 1; cnt = 0 };  /* executor.cc:355-360 push_back the rest */
     notify_parked()                                   /* executor.cc:362 */
  :: else -> cnt = 0
  fi
}

/* Executor::next_task (executor.cc:309-322), without the fairness tick */
inline next_task() {
  atomic {
    if
    :: lifo[me] -> lifo[me] = 0; t = 1                 /* executor.cc:319 */
    :: !lifo[me] && localq[me] > 0 -> localq[me]--; t = 1   /* executor.cc:320 */
    :: else -> t = 0
    fi
  };
  if
  :: !t -> take_from_injector()                        /* executor.cc:321 */
  :: else
  fi
}

/* Executor::steal_work (executor.cc:391-404) */
inline steal_work() {
  refused = 0;
  if
  :: !is_searching ->
     atomic { refused = (2 * searching >= NW) };       /* idle.h:64-65 */
     if
     :: refused -> t = 0
     :: else ->
        atomic { searching++; assert(searching <= NW) };   /* idle.h:66 */
        is_searching = 1                               /* executor.cc:394 */
     fi
  :: else
  fi;
  if
  :: !refused ->
     atomic {                        /* peer->queue.steal_into (one peer at NW=2) */
       if
       :: localq[1 - me] > 0 ->
          cnt = localq[1 - me] - localq[1 - me] / 2;
          localq[1 - me] = localq[1 - me] - cnt;
          t = 1
       :: else -> cnt = 0; t = 0
       fi
     };
     if
     :: cnt > 1 -> atomic { localq[me] = localq[me] + cnt - 1; cnt = 0 }  /* publish the rest */
     :: else -> cnt = 0
     fi;
     if
     :: !t -> take_from_injector()                     /* executor.cc:403 */
     :: else
     fi
  :: else
  fi;
  refused = 0
}

/* Executor::run_task (executor.cc:406-421) */
inline run_task() {
  if
  :: is_searching ->
     atomic {
       is_searching = 0;                               /* executor.cc:408 */
       assert(searching > 0);
       last = (searching == 1);                        /* idle.h:73-74 */
       searching--
     };
     if
     :: last -> last = 0; notify_parked()              /* executor.cc:410 */
     :: else
     fi
  :: else
  fi;
  poll_task();                                         /* executor.cc:412 */
  i = 0;
  do                                                   /* executor.cc:413-417 */
  :: i < MAX_LIFO_POLLS && lifo[me] -> i++; lifo[me] = 0; poll_task()
  :: else -> break
  od;
  i = 0;
  if                                                   /* executor.cc:418-420: no notify */
  :: lifo[me] -> lifo[me] = 0; localq[me]++
  :: else
  fi
}

/* Parker::park (parker.h:42-54) */
inline parker_park() {
  atomic {                                             /* parker.h:43-47 */
    if
    :: pstate[me] == NOTIFIED -> pstate[me] = EMPTY; ok = 1
    :: else -> ok = 0
    fi
  };
  if
  :: ok -> skip
  :: else ->
     atomic {                                          /* parker.h:48 driver.try_acquire() */
       if
       :: !driver_taken -> driver_taken = 1; drv = 1
       :: else -> drv = 0
       fi
     };
     if
     :: drv ->
        /* park_on_driver (parker.h:73-84) */
        atomic {
          if
          :: pstate[me] == EMPTY -> pstate[me] = PARKED_DRIVER; ok = 1
          :: else -> ok = 0
          fi
        };
        if
        :: !ok -> pstate[me] = EMPTY                   /* parker.h:77: was NOTIFIED */
        :: else ->
           /* reactor().park(): returns when the eventfd was written, or
            * spuriously (a timer, I/O) */
end_reactor:
           if
           :: atomic { reactor_token -> reactor_token = 0 }
           :: atomic { spurious > 0 -> spurious-- }
           fi;
           pstate[me] = EMPTY                          /* parker.h:83 exchange(kEmpty) */
        fi;
        driver_taken = 0                               /* parker.h:50 driver.release() */
     :: else ->
        /* park_on_condvar (parker.h:86-103) */
        atomic { pmu[me] == 0 -> pmu[me] = 1 };        /* parker.h:87 */
        atomic {                                       /* parker.h:88-89 */
#ifdef MUTANT_PARKER_NO_CAS
          pstate[me] = PARKED_CONDVAR; ok = 1
#else
          if
          :: pstate[me] == EMPTY -> pstate[me] = PARKED_CONDVAR; ok = 1
          :: else -> ok = 0
          fi
#endif
        };
        if
        :: !ok -> pstate[me] = EMPTY; pmu[me] = 0      /* parker.h:91-92 */
        :: else ->
           do
           :: atomic { waiting[me] = 1; pmu[me] = 0 }; /* parker.h:95 cv_.Wait */
end_condvar:
              if
              :: atomic { !waiting[me] && pmu[me] == 0 -> pmu[me] = 1 }
              :: atomic { spurious > 0 && pmu[me] == 0 -> spurious--; waiting[me] = 0; pmu[me] = 1 }
              fi;
              atomic {                                 /* parker.h:96-98 */
                if
                :: pstate[me] == NOTIFIED -> pstate[me] = EMPTY; ok = 1
                :: else -> ok = 0
                fi
              };
              if
              :: ok -> pmu[me] = 0; break              /* parker.h:99 */
              :: else                                  /* parker.h:101 spurious */
              fi
           od
        fi
     fi
  fi
}

/* Executor::park (executor.cc:431-449) */
inline park() {
  /* Idle::transition_worker_to_parked (idle.h:53-59) */
  /* the whole critical section is one step: its only access visible
   * without mu_ is the fetch_sub of state_ */
  atomic {
    idle_mu == 0 -> idle_mu = 1;                       /* idle.h:54 */
    last = (is_searching && searching == 1);           /* idle.h:58 */
    assert(unparked > 0);
    unparked--;                                        /* idle.h:55-56 fetch_sub */
    if
    :: is_searching -> assert(searching > 0); searching--
    :: else
    fi;
    assert(nsleepers < NW);
    sleepers[nsleepers] = me; nsleepers++;             /* idle.h:57 */
    unlock_idle();
    is_searching = 0                                   /* executor.cc:434 */
  };
#ifndef MUTANT_NO_RECHECK
  if
  :: last ->                                           /* executor.cc:435 */
     last = 0;
     /* has_visible_work (executor.cc:423-429): one load per queue */
     hv = (injector > 0);
     if :: !hv -> hv = (localq[0] > 0) :: else fi;
     if :: !hv -> hv = (localq[1] > 0) :: else fi;
     if
     :: hv -> hv = 0; notify_parked()
     :: else
     fi
  :: else
  fi;
#endif
  parker_park();                                       /* executor.cc:437 */
  atomic { ok = 0; drv = 0 };
  /* (executor.cc:441: the shutdown check; shutdown is not modeled) */
  /* Idle::unpark_worker_by_id (idle.h:81-88) */
  atomic {
    idle_mu == 0 -> idle_mu = 1;                       /* idle.h:82 */
    if                                                 /* idle.h:83-85 find, erase */
    :: nsleepers > 0 && sleepers[0] == me ->
       sleepers[0] = sleepers[1]; sleepers[1] = NONE; nsleepers--; r = 1
    :: nsleepers > 1 && sleepers[1] == me ->
       sleepers[1] = NONE; nsleepers--; r = 1
    :: else -> r = 0
    fi;
    if
    :: r -> unparked++                                 /* idle.h:86 fetch_add(pack(1,0)) */
    :: else
    fi;
    unlock_idle();
    is_searching = !r;                                 /* executor.cc:442-448 */
    r = 0
  }
}

proctype Worker(byte me) {
  bit t, is_searching, refused, last, hv, sw, ok, drv, r;
  byte want, cnt, pprev, i;
  byte target = NONE;
  /* run_worker (executor.cc:283-299); the shutdown_ check is not modeled */
  do
  :: next_task();                                      /* executor.cc:286 */
     if
     :: !t -> steal_work()                             /* executor.cc:287 */
     :: else
     fi;
     if
     :: !t -> next_task()                              /* executor.cc:289-292 (timers not modeled) */
     :: else
     fi;
     if
     :: t ->
progress_run:                  /* a task runs: progress (non-progress check) */
        run_task()                                     /* executor.cc:293-296 */
     :: else -> park()                                 /* executor.cc:298 */
     fi
  od
}

init {
  byte k;
  atomic {
    k = 0;
    do
    :: k < NW -> sleepers[k] = NONE; k++
    :: else -> break
    od;
    k = 0;
    do
    :: k < NW -> run Worker(k); k++
    :: else -> break
    od;
    run Pusher()
  }
  timeout ->    /* no thread can move: both workers are asleep */
  atomic {
    assert(pushed == NPUSH);
    assert(injector == 0);
    assert(localq[0] == 0 && localq[1] == 0);
    assert(!lifo[0] && !lifo[1]);
    assert(ran == pushed + spawned)
  }
}
