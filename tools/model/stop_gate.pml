/*
 * stop_gate.pml -- SPIN model of the StopGate: a consumer that is attached to
 * the state it awaits asks that state's producer to stop, while the producer
 * may publish the state (and so run the consumer, which frees it) at the same
 * moment on another thread.
 *
 * WHAT IT MODELS
 *   One consumer gate (a `.then` node: future.h ChainNode) and the states it
 *   awaits in turn: first its input I, then (TWO_STAGE) the future J its
 *   callback returned (ChainNode::deliver, future.h:583-603).
 *     ProducerI, ProducerJ -- publish their state once (Publish, core.h:
 *               Publish + Attach's fetch_or handshake): whoever of Publish and
 *               Attach comes second runs the consumer's continuation.
 *     Requester -- StopAwaited (core.cc:144-150): begin_stop (core.h:209-219),
 *               RequestStop on the awaited state (core.cc:110-142: the fetch_or
 *               of kStopRequested, then the producer's stop hook, which may
 *               publish the state right there, as a sleep's does), then finish
 *               (core.cc:92-108), which runs the continuation if it was
 *               deferred meanwhile.
 *   The continuation (ChainNode::Run, future.h:554-580, and Forward,
 *   future.h:605-611) calls enter_run (core.h:193-203): if a request is
 *   walking through the gate it defers itself to the requester; else it
 *   consumes (take_and_free) its state. After consuming I it awaits J:
 *   await (core.h:175-179) fails if a stop came meanwhile, and then the node
 *   asks J to stop itself (RequestStop on a state nobody else can free yet)
 *   before attaching (await_stopped, core.h:186-189).
 *
 * MEMORY MODEL
 *   Sequential consistency only. The C++ uses acq_rel RMWs on the gate word
 *   and on each state's flags for every step modelled here; the awaited
 *   pointer is written before the release of await's CAS (or Attach's
 *   fetch_or, for await_fresh) and read after the acquire of begin_stop's.
 *
 * PROPERTIES
 *   - a state is never touched (its flags, its result) after it was freed;
 *   - each state is consumed (and freed) exactly once: a continuation that
 *     defers itself is run by the requester's finish, never lost;
 *   - a stop is never lost: if the request began, the state the consumer
 *     awaits next (J) is asked to stop too.
 *
 * BOUNDS
 *   1 gate, 2 states in turn (TWO_STAGE=1), 1 requester, producers that
 *   publish on their own or inside the stop hook.
 *
 * MUTANTS (tools/model/check.sh --mutants compiles each and expects errors)
 *   MUTANT_NO_DEFER     enter_run consumes even while a request walks through
 *   MUTANT_FINISH_FORGETS finish reopens the gate without running a deferred
 *                       continuation
 *   MUTANT_OPEN_EARLY   the requester reopens the gate before RequestStop
 *   MUTANT_AWAIT_STORE  await is a plain store that ignores a stop requested
 *                       while the callback ran
 */

#ifndef TWO_STAGE
#define TWO_STAGE 1
#endif

/* The gate word (core.h:159-160). */
#define IDLE      0
#define AWAITING  1
#define STOPPING  2
#define DEFERRED  3
#define PHASE     3
#define STOPPED   4

#define NONE 0
#define I    1
#define J    2

byte word = AWAITING;     /* chain_pending: await_fresh(I) before Attach */
byte awaited = I;
byte deferred_src;
bit result[3];
bit freed[3];
bit attached[3];
bit claimed[3];           /* the producer's own once-flag (a sleep's phase_) */
bit stopreq[3];           /* kStopRequested in the state's flags */
byte consumed[3];
bit stop_begun;
bit j_made;
bit entered_ghost[3];     /* the continuation for s passed enter_run */
bit early[3];             /* the stop began before s's continuation entered */

inline touch(s) { assert(!freed[s]) }

/* The continuation: Run/Forward, with enter_run first. */
inline consume(s) {
  atomic {
    touch(s);
    assert(result[s]);
    consumed[s]++;
    freed[s] = 1                              /* take_and_free */
  }
}

/* enter_run, core.h:193-203, then the consumption (inlines are macros, so
 * the I and J variants are spelled out: Promela has no recursion). */
inline enter(s) {
  atomic {
#ifdef MUTANT_NO_DEFER
    word = word & STOPPED; entered = 1;
#else
    if
    :: (word & PHASE) == STOPPING ->
       word = (word & ~PHASE) | DEFERRED; deferred_src = s; entered = 0
    :: else -> word = word & STOPPED; entered = 1
    fi;
#endif
    if
    :: entered -> entered_ghost[s] = 1
    :: else
    fi
  }
}

/* J's continuation: Forward (future.h:605-611). */
inline cont_J() {
  enter(J);
  if
  :: entered -> entered = 0; consume(J)
  :: else
  fi
}

/* Publish and Attach: whoever comes second runs the continuation. */
inline publish_J() {
  atomic { touch(J); result[J] = 1; go = attached[J] };
  if
  :: go -> go = 0; cont_J()
  :: else
  fi
}

inline attach_J() {
  atomic { touch(J); attached[J] = 1; go = result[J] };
  if
  :: go -> go = 0; cont_J()
  :: else
  fi
}

/* RequestStop, core.cc:119-132: the fetch_or, then the hook, which may
 * publish the state right there. */
inline request_stop_J() {
  atomic { touch(J); stopreq[J] = 1; had = result[J] };
  if
  :: !had ->
     if
     :: atomic { !claimed[J] -> claimed[J] = 1 }; publish_J()
     :: skip
     fi
  :: else
  fi;
  had = 0
}

/* I's continuation: Run (future.h:554-580), then deliver's pending path
 * (future.h:583-603): the callback returned a pending future J. */
inline cont_I() {
  enter(I);
  if
  :: entered ->
     entered = 0;
     consume(I);
     if
     :: TWO_STAGE ->
        j_made = 1;
        atomic {                              /* await(J), core.h:175-179 */
          awaited = J;
#ifdef MUTANT_AWAIT_STORE
          word = AWAITING; ok = 1
#else
          if
          :: word == IDLE -> word = AWAITING; ok = 1
          :: else -> ok = 0                   /* STOPPED came while g ran */
          fi
#endif
        };
        if
        :: !ok ->
           request_stop_J();                  /* future.h:592 */
           atomic { awaited = J; word = AWAITING | STOPPED }  /* await_stopped */
        :: else
        fi;
        ok = 0;
        attach_J()
     :: else
     fi
  :: else
  fi
}

inline publish_I() {
  atomic { touch(I); result[I] = 1; go = attached[I] };
  if
  :: go -> go = 0; cont_I()
  :: else
  fi
}

inline request_stop_I() {
  atomic { touch(I); stopreq[I] = 1; had = result[I] };
  if
  :: !had ->
     if
     :: atomic { !claimed[I] -> claimed[I] = 1 }; publish_I()
     :: skip
     fi
  :: else
  fi;
  had = 0
}

proctype ProducerI() {
  bit go, entered, ok, had;
  if
  :: atomic { !claimed[I] -> claimed[I] = 1 }; publish_I()
  :: atomic { claimed[I] -> skip }            /* the hook published it */
  fi
}

proctype ProducerJ() {
  bit go, entered, ok, had;
  j_made;
  if
  :: atomic { !claimed[J] -> claimed[J] = 1 }; publish_J()
  :: atomic { claimed[J] -> skip }
  fi
}

proctype Requester() {
  bit go, entered, ok, had, dr; byte a, src;
  atomic {                                    /* begin_stop, core.h:209-219 */
    stop_begun = 1;
    early[I] = !entered_ghost[I];
    early[J] = !entered_ghost[J];
    if
    :: (word & STOPPED) != 0 -> a = NONE
    :: (word & STOPPED) == 0 && (word & PHASE) == AWAITING ->
       word = STOPPING | STOPPED; a = awaited
    :: (word & STOPPED) == 0 && (word & PHASE) != AWAITING ->
       word = word | STOPPED; a = NONE
    fi
  };
  if
  :: a != NONE ->
#ifdef MUTANT_OPEN_EARLY
     atomic {
       if
       :: (word & PHASE) == DEFERRED -> word = IDLE | STOPPED; dr = 1; src = deferred_src
       :: else -> word = AWAITING | STOPPED; dr = 0
       fi
     };
     if
     :: a == I -> request_stop_I()
     :: a == J -> request_stop_J()
     fi;
#else
     if
     :: a == I -> request_stop_I()
     :: a == J -> request_stop_J()
     fi;
     atomic {                                 /* finish, core.cc:92-108 */
       if
#ifdef MUTANT_FINISH_FORGETS
       :: false -> skip
#else
       :: (word & PHASE) == DEFERRED -> word = IDLE | STOPPED; dr = 1; src = deferred_src
#endif
       :: else -> word = AWAITING | STOPPED; dr = 0
       fi
     };
#endif
     if
     :: dr && src == I -> cont_I()             /* the deferred continuation */
     :: dr && src == J -> cont_J()
     :: else
     fi
  :: else
  fi
}

init {
  atomic {
    attached[I] = 1;                          /* chain_pending's Attach */
    run ProducerI();
    run ProducerJ();
    run Requester()
  }
  timeout ->
  atomic {
    assert(consumed[I] == 1);                 /* never lost, never twice */
    assert(!j_made || consumed[J] == 1);
    assert(!early[I] || stopreq[I]);           /* a stop is never lost */
    assert(!(early[J] && j_made) || stopreq[J])
  }
}
