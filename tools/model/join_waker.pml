/*
 * join_waker.pml -- SPIN model of the JoinHandle's waker slot (JOIN_WAKER).
 *
 * WHAT IT MODELS
 *   One task and its RawJoinHandle, on two threads:
 *     Task   -- a worker polls the task once (transition_to_running,
 *               state.h:86-103), the body is Ready (store_output, task.h:149)
 *               and Task::complete runs (task.h:111-119): transition_to_complete
 *               (state.h:131-133), then wakes Header::join_waker
 *               (header.h:68) if JOIN_WAKER was set in the word it replaced
 *               (task.h:115-116), then drops its reference (task.h:118).
 *     Handle -- RawJoinHandle::poll (join_handle.h:43-57) up to MAXPOLLS (3)
 *               times, each with one of two caller wakers (the same as last
 *               time or another one: register_waker, join_handle.h:70-85,
 *               keeps, or replaces through unset_join_waker, state.h:245),
 *               waiting for the wake after a Pending or polling again at once;
 *               or dropping the handle while Pending (reset, join_handle.h:
 *               87-105: drop_join_handle_fast state.h:264-271, else
 *               unset_join_interest state.h:228-239 and, if it had a waker,
 *               clearing the slot, join_handle.h:96-101).
 *   Whoever drops the last reference runs ~Task (task.h:75-85), which drops
 *   the waker still in the slot (task.h:78-80).
 *   The slot is a two-word struct written non-atomically: a write and each
 *   read are two steps (begin, end) so that overlapping accesses are seen.
 *   Waker k's clone in the slot (Waker(waker).into_raw(), join_handle.h:82)
 *   is tracked as wclone[k]; dropping it (join_handle.h:83, 101, task.h:79)
 *   decrements it.
 *
 * MEMORY MODEL
 *   SPIN explores interleavings under sequential consistency only. The C++
 *   relies on: the handle's slot write being released by set_join_waker's
 *   acq_rel CAS and acquired by transition_to_complete's acq_rel fetch_xor
 *   (which reads from it or a later RMW in the word's modification order);
 *   the handle's clearing of JOIN_WAKER (unset_join_waker /
 *   unset_join_interest, acq_rel CAS) ordering the completer's earlier slot
 *   read before the handle's rewrite; and the output being released by the
 *   fetch_xor and acquired by the handle's acquire load or failed CAS
 *   (failure order acquire, state.h:234, 284-285). Not checked here.
 *
 * PROPERTIES
 *   - the slot is never read while it is being written, nor written while
 *     it is being read (slot_writing / slot_readers);
 *   - the task wakes the join waker iff JOIN_WAKER was set in the word its
 *     transition_to_complete replaced, i.e. iff a registration
 *     (set_join_waker succeeding) was in force when completion became
 *     visible (ghost `registered`; checked at the wake and at the end);
 *   - it wakes exactly the waker currently registered, never one that was
 *     dropped or replaced (wclone[k] > 0 and k == registered);
 *   - no lost join wakeup: a Handle that got Pending and waits for its
 *     waker is woken (otherwise it blocks outside an end state: SPIN
 *     reports an invalid end state);
 *   - the output is read only after COMPLETE, exactly once, and never
 *     dropped by both sides; the task is never touched after free;
 *   - at the end: the task is freed and no waker clone leaked.
 *
 * BOUNDS
 *   1 task, 1 completing worker, 1 handle, 2 distinct caller wakers,
 *   MAXPOLLS = 3 polls.
 *
 * MUTANTS (tools/model/check.sh --mutants compiles each and expects errors)
 *   MUTANT_WAKE_UNCONDITIONAL  complete() wakes the slot without checking
 *                              JOIN_WAKER (only JOIN_INTEREST)
 *   MUTANT_REPLACE_WITHOUT_UNSET register_waker rewrites a published slot
 *                              without unset_join_waker first
 *   MUTANT_SET_IGNORES_COMPLETE set_join_waker succeeds after COMPLETE
 *   MUTANT_RESET_CLEARS_AFTER_COMPLETE reset() clears a published slot even
 *                              when the task already completed
 */

#define NOTIFIED       1    /* state.h:59 */
#define RUNNING        2    /* state.h:60 */
#define COMPLETE       4    /* state.h:61 */
#define CANCELLED      8    /* state.h:62 */
#define JOIN_INTEREST 16    /* state.h:63 */
#define JOIN_WAKER    32    /* state.h:64 */
#define REF_ONE      128    /* state.h:66 */
#define REFS(w)      ((w) / REF_ONE)

#ifndef MAXPOLLS
#define MAXPOLLS 3
#endif

#define BODY     0
#define OUTPUT   1
#define CONSUMED 2

/* State(2): the Notified reference (the worker's) and the JoinHandle's. */
int  word = NOTIFIED + JOIN_INTEREST + 2 * REF_ONE;
bit  freed;
byte stage = BODY;
byte stage_users;
byte slot;                /* Header::join_waker: 0 = no-op waker, else k */
bit  slot_writing;
byte slot_readers;
byte wclone[3];           /* live clones of caller waker k held by the slot */
byte woken[3];            /* wakes delivered to caller waker k */
byte registered;          /* ghost: waker published with JOIN_WAKER, or 0 */
bit  completed;
bit  jw_at_complete;
byte outputs_read;
bit  waiting;             /* the Handle waits for its waker after a Pending */

inline dealloc() {        /* ~Task, task.h:75-85 */
  atomic {
    assert(!freed);
    assert(REFS(word) == 0);
    assert(stage_users == 0);
    assert(!slot_writing && slot_readers == 0);
    if                                      /* task.h:78-80 */
    :: slot != 0 -> assert(wclone[slot] > 0); wclone[slot]--; slot = 0
    :: else
    fi;
    stage = CONSUMED;
    freed = 1
  }
}

inline drop_ref() {       /* DropRef task.cc:48-50 / ref_dec state.h:273-276 */
  atomic {
    assert(!freed);
    assert(REFS(word) >= 1);
    word = word - REF_ONE;
    last = (REFS(word) == 0)
  }
  if
  :: last -> last = 0; dealloc()
  :: else
  fi
}

inline slot_read_begin() {
  atomic { assert(!freed); assert(!slot_writing); slot_readers++ }
}
inline slot_read_end() { slot_readers-- }
inline slot_write_begin() {
  atomic { assert(!freed); assert(!slot_writing && slot_readers == 0); slot_writing = 1 }
}

proctype Task() {
  int before; bit last; byte id;
  /* transition_to_running (state.h:86-103): the Notified reference */
  atomic {
    assert(!freed);
    (word & (RUNNING | COMPLETE)) == 0 -> word = (word & ~NOTIFIED) | RUNNING
  };
  /* poll_body is Ready: store_output (task.h:149, 103-107) */
  atomic { assert(stage_users == 0); stage = OUTPUT };
  /* Task::complete (task.h:111-119) */
  atomic {                                  /* transition_to_complete */
    assert(!freed);
    before = word;
    word = word ^ (RUNNING | COMPLETE);
    completed = 1;
    jw_at_complete = ((before & JOIN_WAKER) != 0);
    assert(jw_at_complete == (registered != 0))
  };
  if
  :: (before & JOIN_INTEREST) == 0 ->       /* task.h:113-114 drop_stage */
     atomic { assert(stage_users == 0); stage = CONSUMED }
#ifdef MUTANT_WAKE_UNCONDITIONAL
  :: (before & JOIN_INTEREST) != 0 ->
#else
  :: (before & JOIN_INTEREST) != 0 && (before & JOIN_WAKER) != 0 ->
#endif
     /* task.h:115-116: join_waker.vtable->wake_by_ref(join_waker.data) */
     slot_read_begin();
     atomic {
       id = slot;
       if
       :: id != 0 ->
          assert(wclone[id] > 0);           /* not dropped */
          assert(id == registered);         /* not replaced, and registered */
          woken[id]++
       :: else                              /* the no-op waker */
       fi
     };
     slot_read_end()
  :: else
  fi;
  drop_ref()                                /* task.h:118 */
}

proctype Handle() {
  int w; bit last, ok, had, done, pending, same, wait; byte k, old, polls;
  do
  :: !done && polls < MAXPOLLS ->
     polls++;
     if
     :: k = 1
     :: k = 2
     fi;
     /* RawJoinHandle::poll (join_handle.h:43-57) */
     atomic { assert(!freed); w = word };   /* 44: load(acquire) */
     pending = 0;
     if
     :: (w & COMPLETE) == 0 ->
        /* register_waker (join_handle.h:70-85) */
        ok = 1;
        if
        :: (w & JOIN_WAKER) != 0 ->
           /* 73-77: the slot is the task's; compare it with cx.waker() */
           slot_read_begin();
           same = (slot == k);
           slot_read_end();
           if
           :: same -> pending = 1; ok = 0   /* 76: already registered */
           :: else ->
#ifndef MUTANT_REPLACE_WITHOUT_UNSET
              atomic {                      /* 78: unset_join_waker */
                assert(!freed);
                if
                :: (word & COMPLETE) != 0 -> ok = 0
                :: else -> word = word & ~JOIN_WAKER; registered = 0; ok = 1
                fi
              }
#else
              skip
#endif
           fi
        :: else
        fi;
        if
        :: ok ->
           /* 81-83: the slot is ours (JOIN_WAKER clear) */
           slot_write_begin();
           atomic {
             old = slot;
             slot = k; wclone[k]++;         /* Waker(waker).into_raw() */
             slot_writing = 0
           };
           atomic {                         /* old.vtable->drop(old.data) */
             if
             :: old != 0 -> assert(wclone[old] > 0); wclone[old]--
             :: else
             fi;
             old = 0
           };
           atomic {                         /* 84: set_join_waker (243, 279-289) */
             assert(!freed);
             if
#ifdef MUTANT_SET_IGNORES_COMPLETE
             :: false -> ok = 0
#else
             :: (word & COMPLETE) != 0 -> ok = 0
#endif
             :: else -> word = word | JOIN_WAKER; registered = k; ok = 1
             fi
           };
           pending = ok
        :: else
        fi
     :: else
     fi;
     if
     :: pending ->
        /* Pending: the caller commits to waiting for waker k, or polls
         * again at once (or drops the handle, below) */
        if
        :: wait = 1
        :: wait = 0
        fi;
        if
        :: wait ->
           waiting = 1;
           woken[k] > 0;                    /* blocks if the wake is lost */
           waiting = 0; wait = 0
        :: else
        fi
     :: else ->
        /* Ready: read_output (51, task.h:188-192) then reset() (53) */
        atomic {
          assert(!freed);
          assert((word & COMPLETE) != 0);
          assert(stage_users == 0 && stage == OUTPUT);
          stage = CONSUMED;
          outputs_read++
        };
        done = 1
     fi
  :: !done -> break                         /* dropped while Pending */
  :: done -> break
  od;
  /* reset (join_handle.h:87-105) */
  atomic {                                  /* 89: drop_join_handle_fast */
    assert(!freed);
    if
    :: word == NOTIFIED + JOIN_INTEREST + 2 * REF_ONE ->
       word = NOTIFIED + REF_ONE; ok = 1
    :: else -> ok = 0
    fi
  };
  if
  :: ok -> skip
  :: else ->
     atomic {                               /* 94: unset_join_interest */
       assert(!freed);
       if
       :: (word & COMPLETE) != 0 -> ok = 0; had = ((word & JOIN_WAKER) != 0)
       :: else ->
          had = ((word & JOIN_WAKER) != 0);
          word = word & ~(JOIN_INTEREST | JOIN_WAKER);
          registered = 0;
          ok = 1
       fi
     };
     if
     :: !ok ->                              /* 95: drop_output */
        atomic { assert(stage_users == 0); assert(stage != BODY); stage = CONSUMED }
     :: else
     fi;
#ifdef MUTANT_RESET_CLEARS_AFTER_COMPLETE
     if
     :: had ->
#else
     if
     :: ok && had ->                        /* 96-101: the slot is ours again */
#endif
        slot_write_begin();
        atomic { old = slot; slot = 0; slot_writing = 0 };
        atomic {
          if
          :: old != 0 -> assert(wclone[old] > 0); wclone[old]--
          :: else
          fi;
          old = 0
        }
     :: else
     fi;
     drop_ref()                             /* 103 */
  fi
}

init {
  atomic {
    run Task();
    run Handle()
  }
  timeout ->
  atomic {
    assert(!waiting);         /* a Pending whose wake never came: lost join wake */
    assert(freed);
    assert(wclone[1] == 0 && wclone[2] == 0);       /* no clone leaked */
    assert(woken[1] + woken[2] <= 1);
    assert((woken[1] + woken[2] == 1) == jw_at_complete);
    assert(outputs_read <= 1)
  }
}
