/*
 * task_state.pml -- SPIN model of the task state word and its users.
 *
 * WHAT IT MODELS
 *   One task, from spawn to free, driven by up to five threads at once:
 *     Worker   -- the executor worker that polls it (Task::Poll, task.h:126-175),
 *                 re-queueing it on kOkNotified; exits when shutdown starts
 *                 (run_worker's `while (!shutdown_)`, executor.cc:283).
 *     Waker    -- (NWAKERS of them) a foreign thread holding a Waker the body
 *                 cloned during a poll (CloneWaker, task.cc:15-18): it writes
 *                 a message and wakes by value (WakeByVal, task.cc:28-39), or wakes by
 *                 reference and drops (WakeByRef task.cc:41-46 + DropRef
 *                 task.cc:48-50), or just drops.
 *     Handle   -- the RawJoinHandle (join_handle.h): optional abort()
 *                 (join_handle.h:62-66), optional wait for COMPLETE and read
 *                 of the output (poll's ready path, join_handle.h:43-57), then
 *                 drop (reset, join_handle.h:87-105, fast path included).
 *     Shutdown -- optional (chosen by init): Executor::shutdown
 *                 (executor.cc:451-483): stop the worker and join it, close
 *                 the injector, OwnedTasks::close_and_shutdown_all
 *                 (owned_tasks.h:60-73 -> Task::Shutdown task.h:177-184),
 *                 then drop the Notified references left in the queues.
 *   The body itself (inside the Worker's poll) may wake itself by reference
 *   (a yield: WakeByRef while RUNNING), clone a waker for the Waker thread,
 *   and return Ready or Pending, nondeterministically.
 *
 *   The state word is one int with the bit values of state.h:59-66 and the
 *   reference count in units of REF_ONE (state.h:66). Every CAS loop of
 *   state.h is one atomic{} step: under sequential consistency a
 *   load/compute/CAS-until-success loop is equivalent to one atomic RMW at
 *   the successful CAS (failed iterations change nothing), and the result
 *   returned is computed from the value the successful CAS replaced.
 *   The JOIN_WAKER slot is left to join_waker.pml (complete() here never
 *   sees JOIN_WAKER set: this Handle never registers a waker). UNREGISTERED
 *   (state.h:65) is not modeled: the task is always in the registry.
 *
 * MEMORY MODEL
 *   SPIN explores interleavings under sequential consistency only. The C++
 *   relies on: acq_rel on every state transition (the body's writes are
 *   released by transition_to_idle and acquired by transition_to_running;
 *   the output by transition_to_complete and the JoinHandle's acquire
 *   loads), and acq_rel on the final ref_dec. Those orders are not checked.
 *   One ordering IS modeled, abstractly: whether the next poll is
 *   guaranteed to see what a Waker wrote before waking. A Waker's write is
 *   `published` by its next release RMW on the word (any wake CAS, the
 *   ref_dec of ~Waker; not the relaxed ref_inc), and a poll is `synced`
 *   with it if its acquire (transition_to_running's CAS) comes later; every
 *   RMW on the word continues a release sequence, so SPIN's order of the
 *   RMWs decides. An unsynced poll may read the old value. This is what the
 *   recent change to transition_to_notified_by_ref is about (state.h:
 *   167-178: when NOTIFIED is already set it writes the same value back
 *   with a release CAS; a plain load left the waker out of the word's
 *   modification order, tokio-rs/tokio#7622): MUTANT_BYREF_PLAIN_LOAD
 *   restores the plain load and the no-lost-wake check fails.
 *
 * PROPERTIES (assert)
 *   - never touched after free: every access to the task asserts !freed;
 *     freed exactly once, and only with refs == 0 (dealloc()).
 *   - refcount never underflows (every decrement asserts refs >= n), and a
 *     by-value wake of a RUNNING task is never the last reference
 *     (state.h:144).
 *   - never two polls/owners at once (owners <= 1; RUNNING owner is a poll,
 *     a cancel, or a shutdown claim); the body/output stage is never
 *     accessed by two threads at once (stage_users).
 *   - a completed task is never polled again; the body is polled only in
 *     stage BODY; the JoinHandle reads the output only in stage OUTPUT.
 *   - at most one Notified reference is queued (header.h:60-62).
 *   - completion happens at most once.
 *   At the final state (SPIN `timeout`: no process can move):
 *   - no lost wake: if the Waker wrote `msg` and then woke the task, some
 *     poll that began after it read `msg`, or the task completed (without
 *     shutdown: a wake racing shutdown may be dropped at the closed
 *     injector, and then the next property applies instead).
 *   - abort leads to exactly one completion (without shutdown).
 *   - after shutdown every task that is still allocated is COMPLETE.
 *   - no leak and no extra reference: freed iff nobody holds a reference,
 *     and the count equals the holders left (the handle, if still waiting).
 *
 * BOUNDS
 *   1 task, 1 worker, NWAKERS (2) foreign wakers (one cloned waker each),
 *   1 join handle, shutdown or not; the body self-wakes at most MAX_SELF (1)
 *   times. Up to 5 threads are live at once. All choices (when each thread
 *   acts, Ready/Pending, wake by value/by reference/drop, abort or not,
 *   read output or not, fast or slow handle drop) are explored
 *   exhaustively.
 *
 * MUTANTS (tools/model/check.sh --mutants compiles each and expects errors)
 *   MUTANT_IDLE_NO_RECHECK   transition_to_idle ignores NOTIFIED
 *   MUTANT_BYVAL_RUNNING     by-value wake of a RUNNING task forgets NOTIFIED
 *   MUTANT_BYREF_NO_REF      a by-reference wake of an idle task submits it
 *                            without adding the Notified reference
 *   MUTANT_CANCEL_NO_SUBMIT  abort of an idle task only sets CANCELLED
 *   MUTANT_BYREF_PLAIN_LOAD  transition_to_notified_by_ref returns on
 *                            NOTIFIED after a plain load, without the
 *                            release CAS (the code before tokio#7622's fix)
 *   MUTANT_SHUTDOWN_NO_REF   Task::Shutdown forgets its ref_inc
 *   (transition_to_running ignoring COMPLETE was tried and is NOT caught:
 *   with workers joined before shutdown no Notified reference of a
 *   COMPLETE task is ever polled, so its kFailed/kDealloc branch,
 *   state.h:94-96, is unreachable here; SPIN lists it as unreached code.)
 */

#define NOTIFIED       1    /* state.h:59 */
#define RUNNING        2    /* state.h:60 */
#define COMPLETE       4    /* state.h:61 */
#define CANCELLED      8    /* state.h:62 */
#define JOIN_INTEREST 16    /* state.h:63 */
#define JOIN_WAKER    32    /* state.h:64 */
#define REF_ONE      128    /* state.h:66 */
#define REFS(w)      ((w) / REF_ONE)   /* state.h:79 */

#ifndef MAX_SELF
#define MAX_SELF 1
#endif
#ifndef NWAKERS
#define NWAKERS 2      /* foreign Waker threads, one cloned waker each */
#endif

/* RunResult / IdleResult / NotifyResult */
#define RR_SUCCESS   0
#define RR_CANCELLED 1
#define RR_FAILED    2
#define RR_DEALLOC   3
#define IR_OK        0
#define IR_DEALLOC   1
#define IR_NOTIFIED  2
#define IR_CANCELLED 3
#define NR_NOTHING   0
#define NR_SUBMIT    1
#define NR_DEALLOC   2

#define BODY     0
#define OUTPUT   1
#define CONSUMED 2

/* State(kInitialRefs): NOTIFIED | JOIN_INTEREST | 2 refs (state.h:69-70,
 * task.h:52,72): the Notified reference (queued below) and the JoinHandle's. */
int  word = NOTIFIED + JOIN_INTEREST + 2 * REF_ONE;
bit  freed;            /* ~Task ran (task.h:75-85) */
byte queued = 1;       /* Notified refs in a queue; spawn queued one (submit_new) */
bit  closed;           /* Injector::closed_ (injector.h:29, 69) */
byte owners;           /* threads owning the task (RUNNING holder) */
byte stage = BODY;     /* Task::stage_ (task.h:69, 198) */
byte stage_users;      /* threads inside the body/output union right now */
byte completions;      /* complete() calls (task.h:111) */
bit  msg[NWAKERS];      /* each Waker's data, written before it wakes */
bit  consumed[NWAKERS]; /* a poll read msg[i] == 1 */
/* Release/acquire on the state word, abstracted (see MEMORY MODEL):
 * published[i]: Waker i did a release RMW on the word after writing msg[i];
 * synced[i]: the current poll's acquire (transition_to_running) came after
 * it, so the body is guaranteed to read msg[i]; otherwise it may read the
 * old value. Every RMW on the word continues a release sequence (C++20
 * [intro.races]), so the order of RMWs in SPIN's run is the order that
 * matters. */
bit  published[NWAKERS];
bit  synced[NWAKERS];

#define NOBODY 255
/* The caller (proctype local `who`) did a release RMW on the word. */
#define PUBLISH if :: who != NOBODY -> published[who] = 1 :: else -> skip fi
byte wakers_given;      /* wakers the body cloned for the Waker threads */
byte self_wakes;
bit  cancel_set;       /* abort() set CANCELLED */
bit  handle_alive = 1;
bit  shutdown_req;     /* Executor::shutdown_ (executor.cc:460) */
bit  worker_exited;
bit  shutdown_done;

/* ---------------------------------------------------------------- memory */

/* ~Task (task.h:75-85): drop_stage, drop the join waker, task_freed (unlink
 * from the registry under its shard lock), free. Reached by `delete t`
 * (task.h:118, 137, 166) or vtable->dealloc (task.cc:34, 49). */
inline dealloc() {
  atomic {
    assert(!freed);
    assert(REFS(word) == 0);
    assert(stage_users == 0);
    assert(owners == 0);
    stage = CONSUMED;
    freed = 1
  }
}

/* DropRef (task.cc:48-50) -> State::ref_dec (state.h:273-276). */
inline drop_ref() {
  atomic {
    assert(!freed);
    assert(REFS(word) >= 1);
    word = word - REF_ONE;                  /* fetch_sub acq_rel */
    PUBLISH;
    last = (REFS(word) == 0)
  }
  if
  :: last -> dealloc()
  :: else
  fi
}

/* Entering / leaving the body/output union (poll_body task.h:89-95,
 * drop_stage task.h:97-101, store_output task.h:103-107, ReadOutput
 * task.h:188-192, DropOutput task.h:194). */
inline stage_begin() {
  atomic { assert(!freed); assert(stage_users == 0); stage_users++ }
}
inline stage_end() { stage_users-- }

/* ------------------------------------------------------------- scheduling */

/* A push into a queue that takes one Notified reference. */
inline push_notified() {
  atomic { assert(!freed); queued++; assert(queued <= 1) }
}

/* Executor::schedule from a non-worker thread (executor.cc:251-263): hold
 * an extra reference across enqueue_foreign (executor.cc:265-272), whose
 * push fails once the injector is closed (then it drops the Notified ref).
 * notify_parked is park_unpark.pml's business. */
inline schedule_foreign() {
  atomic { assert(!freed); word = word + REF_ONE }        /* executor.cc:260 */
  atomic {                                                /* injector.h:28-29 */
    assert(!freed);
    if
    :: !closed -> queued++; assert(queued <= 1); pushed = 1
    :: else -> pushed = 0
    fi
  }
  if
  :: !pushed -> drop_ref()                                /* executor.cc:268 */
  :: else
  fi;
  drop_ref()                                              /* executor.cc:262 */
}

/* ---------------------------------------------------------- transitions */

/* WakeByRef (task.cc:41-46) -> transition_to_notified_by_ref (state.h:163-190).
 * from_worker: the caller is the task's own poll on the worker, so schedule()
 * takes schedule_local (executor.cc:226-249), a plain local push. */
inline wake_by_ref(from_worker) {
  atomic {
    assert(!freed);
    if
    :: (word & COMPLETE) != 0 -> nr = NR_NOTHING           /* state.h:166 */
    :: (word & COMPLETE) == 0 && (word & NOTIFIED) != 0 ->
       /* state.h:167-178: CAS(cur, cur), a release RMW: no change to the
        * word, but it publishes the waker's writes */
#ifndef MUTANT_BYREF_PLAIN_LOAD
       PUBLISH;
#endif
       nr = NR_NOTHING
    :: (word & (COMPLETE | NOTIFIED)) == 0 && (word & RUNNING) != 0 ->
       word = word | NOTIFIED; nr = NR_NOTHING;             /* state.h:179-180 */
       PUBLISH
    :: (word & (COMPLETE | NOTIFIED | RUNNING)) == 0 ->
#ifdef MUTANT_BYREF_NO_REF
       word = word | NOTIFIED; nr = NR_SUBMIT;
#else
       word = (word | NOTIFIED) + REF_ONE; nr = NR_SUBMIT;  /* state.h:181-184 */
#endif
       PUBLISH
    fi
  }
  if
  :: nr == NR_SUBMIT && from_worker -> push_notified()
  :: nr == NR_SUBMIT && !from_worker -> schedule_foreign()
  :: else
  fi
}

/* WakeByVal (task.cc:28-39) -> transition_to_notified_by_val (state.h:138-160). */
inline wake_by_val() {
  atomic {
    assert(!freed);
    assert(REFS(word) >= 1);
    PUBLISH;                                  /* every branch is a CAS acq_rel */
    if
    :: (word & RUNNING) != 0 ->
       word = (word | NOTIFIED) - REF_ONE;                  /* state.h:143-146 */
#ifdef MUTANT_BYVAL_RUNNING
       word = word & ~NOTIFIED;
#endif
       assert(REFS(word) >= 1);   /* "cannot be the last one" (state.h:144) */
       nr = NR_NOTHING
    :: (word & RUNNING) == 0 && (word & (COMPLETE | NOTIFIED)) != 0 ->
       word = word - REF_ONE;                               /* state.h:147-150 */
       nr = (REFS(word) == 0 -> NR_DEALLOC : NR_NOTHING)
    :: (word & (RUNNING | COMPLETE | NOTIFIED)) == 0 ->
       word = word | NOTIFIED; nr = NR_SUBMIT               /* state.h:151-153 */
    fi
  }
  if
  :: nr == NR_SUBMIT -> schedule_foreign()                  /* task.cc:31 */
  :: nr == NR_DEALLOC -> dealloc()                          /* task.cc:34 */
  :: else
  fi
}

/* Task::complete (task.h:111-119). The caller owns the task (RUNNING) and
 * holds one reference. */
inline complete() {
  atomic {                      /* transition_to_complete, state.h:131-133 */
    assert(!freed);
    assert((word & RUNNING) != 0 && (word & COMPLETE) == 0);
    before = word;
    word = word ^ (RUNNING | COMPLETE);
    owners--;
    completions++;
    assert(completions == 1)
  }
  if
  :: (before & JOIN_INTEREST) == 0 ->                       /* task.h:113-114 */
     stage_begin(); stage = CONSUMED; stage_end()
  :: else ->
     assert((before & JOIN_WAKER) == 0)   /* task.h:115-116: join_waker.pml */
  fi;
  drop_ref()                                                /* task.h:118 */
}

/* Task::cancel (task.h:121-124). */
inline cancel() {
  stage_begin();                          /* store_output, task.h:103-107 */
  assert(stage == BODY);                  /* cancelled before any Ready */
  stage = OUTPUT;
  stage_end();
  complete()
}

/* Task::Poll (task.h:126-175), on the worker, with the Notified ref it popped. */
inline poll() {
  atomic {                         /* transition_to_running, state.h:86-103 */
    assert(!freed);
    assert(REFS(word) >= 1);
    if
    :: (word & (RUNNING | COMPLETE)) == 0 ->
       word = (word & ~NOTIFIED) | RUNNING;
       rr = ((word & CANCELLED) != 0 -> RR_CANCELLED : RR_SUCCESS);
       owners++;
       assert(owners == 1);
       i = 0;                                 /* the acquire */
       do
       :: i < NWAKERS -> synced[i] = published[i]; i++
       :: else -> break
       od
    :: else ->
       word = word - REF_ONE;
       rr = (REFS(word) == 0 -> RR_DEALLOC : RR_FAILED)
    fi
  }
  if
  :: rr == RR_FAILED -> skip                                /* task.h:134-135 */
  :: rr == RR_DEALLOC -> dealloc()                          /* task.h:136-138 */
  :: rr == RR_CANCELLED -> cancel()             /* task.h:131-133 */
  :: rr == RR_SUCCESS ->
     /* poll_body (task.h:145-156) */
     stage_begin();
     assert(stage == BODY);
     assert((word & COMPLETE) == 0);      /* never poll a completed task */
     /* the body reads the Wakers' data */
     atomic { i = 0;
       do
       :: i < NWAKERS ->
          if
          :: msg[i] && synced[i] -> consumed[i] = 1
          :: msg[i] && !synced[i] ->           /* no happens-before: either value */
             if :: consumed[i] = 1 :: skip fi
          :: else
          fi;
          i++
       :: else -> break
       od }
     /* the body may wake itself through the borrowed waker (task.h:142) */
     if
     :: self_wakes < MAX_SELF -> self_wakes++; wake_by_ref(1)
     :: skip
     fi;
     /* ... and may clone it for the foreign Waker (CloneWaker task.cc:15-18) */
     if
     :: wakers_given < NWAKERS ->
        atomic { assert(!freed); word = word + REF_ONE; wakers_given++ }
     :: skip
     fi;
     if
     :: ready = 1
     :: ready = 0
     fi;
     if
     :: ready -> stage = OUTPUT           /* store_output, task.h:149 */
     :: else
     fi;
     stage_end();
     if
     :: ready -> complete()                                 /* task.h:158-161 */
     :: else ->
        atomic {                    /* transition_to_idle, state.h:111-128 */
          assert(!freed);
          if
          :: (word & CANCELLED) != 0 -> ir = IR_CANCELLED   /* state.h:114 */
#ifdef MUTANT_IDLE_NO_RECHECK
          :: else ->
#else
          :: (word & CANCELLED) == 0 && (word & NOTIFIED) != 0 ->
             word = word & ~RUNNING; ir = IR_NOTIFIED; owners--   /* state.h:117-118 */
          :: (word & (CANCELLED | NOTIFIED)) == 0 ->
#endif
             assert(REFS(word) >= 1);
             word = (word & ~RUNNING) - REF_ONE;                  /* state.h:119-121 */
             ir = (REFS(word) == 0 -> IR_DEALLOC : IR_OK);
             owners--
          fi
        }
        if
        :: ir == IR_OK -> skip                              /* task.h:163-164 */
        :: ir == IR_DEALLOC -> dealloc()                    /* task.h:165-167 */
        :: ir == IR_NOTIFIED -> push_notified()   /* schedule(h, true), task.h:168-170 */
        :: ir == IR_CANCELLED -> cancel()       /* task.h:171-173 */
        fi
     fi
  fi
}

/* Task::Shutdown (task.h:177-184) -> transition_to_shutdown (state.h:213-223). */
inline task_shutdown() {
  atomic {
    assert(!freed);
    claim = ((word & (RUNNING | COMPLETE)) == 0);
    word = word | CANCELLED | (claim -> RUNNING : 0);
    if
    :: claim -> owners++; assert(owners == 1)
    :: else
    fi
  }
  if
  :: claim ->
#ifndef MUTANT_SHUTDOWN_NO_REF
     atomic { assert(!freed); word = word + REF_ONE };      /* task.h:182 */
#endif
     cancel()                                               /* task.h:183 */
  :: else
  fi
}

/* ------------------------------------------------------------- processes */

proctype Worker() {
  int before; byte rr, ir, nr, i; bit ready, last, pushed;
  byte who = NOBODY;
  /* run_worker (executor.cc:281-299): take a queued Notified, poll it; stop
   * once shutdown is requested (checked between tasks). */
end_idle:
  do
  :: atomic { queued > 0 -> queued-- }; poll()
  :: shutdown_req -> break
  od;
  worker_exited = 1
}

proctype Waker(byte me) {
  int before; byte nr; bit last, pushed;
  byte who = me;
end_wait:
  wakers_given > me;      /* it holds a waker the body cloned */
  if
  :: msg[me] = 1; wake_by_val()                   /* Waker::wake */
  :: msg[me] = 1; wake_by_ref(0); drop_ref()      /* wake_by_ref, then ~Waker */
  :: drop_ref()                                   /* ~Waker without a wake */
  fi
}

proctype Handle() {
  int before; byte nr; bit last, pushed, sub, ok;
  byte who = NOBODY;
  /* JoinHandle::abort -> RawJoinHandle::abort (join_handle.h:62-66)
   * -> transition_to_notified_and_cancel (state.h:194-209) */
  if
  :: atomic {
       assert(!freed);
       if
       :: (word & (CANCELLED | COMPLETE)) != 0 -> sub = 0   /* state.h:197 */
       :: else ->
          cancel_set = 1;
          if
#ifdef MUTANT_CANCEL_NO_SUBMIT
          :: false ->
#else
          :: (word & (RUNNING | NOTIFIED)) == 0 ->
#endif
             word = (word | CANCELLED | NOTIFIED) + REF_ONE; sub = 1   /* state.h:200-203 */
          :: else -> word = word | CANCELLED; sub = 0
          fi
       fi
     };
     if
     :: sub -> schedule_foreign()                           /* join_handle.h:64 */
     :: else
     fi
  :: skip
  fi;
  /* poll() after completion: the acquire load sees COMPLETE
   * (join_handle.h:44-45), ReadOutput (task.h:188-192), then reset(). */
  if
  :: skip
  :: true;
end_join:
     atomic { (word & COMPLETE) != 0 -> assert(!freed) };
     stage_begin(); assert(stage == OUTPUT); stage = CONSUMED; stage_end()
  fi;
  /* reset (join_handle.h:87-105) */
  atomic {                     /* drop_join_handle_fast, state.h:264-271 */
    assert(!freed);
    if
    :: word == NOTIFIED + JOIN_INTEREST + 2 * REF_ONE ->
       word = NOTIFIED + REF_ONE; ok = 1
    :: else -> ok = 0
    fi
  }
  if
  :: ok -> skip
  :: else ->
     atomic {                  /* unset_join_interest, state.h:228-239 */
       assert(!freed);
       if
       :: (word & COMPLETE) != 0 -> ok = 0
       :: else -> assert((word & JOIN_WAKER) == 0);
                  word = word & ~(JOIN_INTEREST | JOIN_WAKER); ok = 1
       fi
     }
     if
     :: !ok ->                 /* drop_output (join_handle.h:95, task.h:194) */
        stage_begin(); assert(stage != BODY); stage = CONSUMED; stage_end()
     :: else
     fi;
     drop_ref()                                             /* join_handle.h:103 */
  fi;
  handle_alive = 0
}

proctype Shutdown() {
  int before; bit last, claim, live; byte drained;
  byte who = NOBODY;
  shutdown_req = 1;            /* executor.cc:460-461 */
  worker_exited;               /* thread.join(), executor.cc:462 */
  atomic { closed = 1; drained = queued; queued = 0 }  /* injector_.close() and the
                                  local queues, executor.cc:466, 473-476 */
  /* close_and_shutdown_all (owned_tasks.h:60-73): try_ref_inc (state.h:250-259)
   * under the shard lock; ~Task unlinks under the same lock, so a freed task is
   * no longer in the list. */
  atomic {
    if
    :: !freed && REFS(word) != 0 -> word = word + REF_ONE; live = 1
    :: else -> live = 0
    fi
  }
  if
  :: live -> task_shutdown(); drop_ref()            /* owned_tasks.h:70-71 */
  :: else
  fi;
  do                                                /* executor.cc:468-476 */
  :: drained > 0 -> drained--; drop_ref()
  :: else -> break
  od;
  shutdown_done = 1
}

init {
  byte i;
  atomic {
    run Worker();
    i = 0;
    do
    :: i < NWAKERS -> run Waker(i); i++
    :: else -> break
    od;
    run Handle();
    if
    :: run Shutdown()
    :: skip
    fi
  }
  timeout ->     /* nothing can move any more: check the final state */
  atomic {
    assert(queued == 0);
    /* no lost wake. Not across shutdown: a wake racing it may find the
     * injector closed and drop its Notified reference (executor.cc:266-269);
     * the task is then cancelled by close_and_shutdown_all if still
     * allocated (checked below), or was freed with its body (a detached task
     * whose last reference was that wake's). */
    i = 0;
    do
    :: i < NWAKERS ->
       assert(shutdown_req || !msg[i] || consumed[i] || completions == 1); i++
    :: else -> break
    od;
    /* abort -> exactly one completion (across shutdown, the same race as
     * above may drop abort's submission: then the property below) */
    assert(shutdown_req || !cancel_set || completions == 1);
    /* shutdown completes every live task */
    assert(!shutdown_done || freed || (word & COMPLETE) != 0);
    /* refcount == holders; freed iff none */
    if
    :: freed -> assert(!handle_alive)
    :: else -> assert(REFS(word) == handle_alive && handle_alive)
    fi
  }
}
