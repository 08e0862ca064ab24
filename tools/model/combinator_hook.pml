/*
 * combinator_hook.pml -- SPIN model of the lifetime handshake between a
 * combinator's stop hook and the input that settles it (when_all, when_any,
 * with_stop: CombinatorBase in nanorun/future/combinators.h).
 *
 * WHAT IT MODELS
 *   The combinator (the owner) is reference-counted (shared_ptr); its inputs'
 *   continuations hold the references. Its future's state (the output) has a
 *   stop hook, OnStop (combinators.h:142-149), that reads the owner: it asks
 *   the inputs to stop (stop_now), then exchanges hook_ to kHookDone and, if
 *   the settler came first, drops the reference the settler parked.
 *     Consumer -- RequestStop on the output (core.cc:119-132): the fetch_or of
 *               kStopRequested; if there was no result yet, OnStop.
 *     Input    -- one input's continuation: it settles the combinator
 *               (settle, combinators.h:115-124: Publish returning the old
 *               flags; if kStopRequested was set, park a reference in
 *               self_keep_ and exchange hook_ to kSettled, dropping it again
 *               if the hook was done), then drops its own reference. Or
 *               (DROPPED) it is destroyed without running, and InputLink's
 *               destructor (combinators.h:168-174) settles it before its
 *               reference goes.
 *   The owner is freed when its last reference goes.
 *
 * MEMORY MODEL
 *   Sequential consistency. The C++ uses acq_rel on hook_'s exchanges and on
 *   the output's flags; self_keep_ is written before the settler's exchange
 *   and read after the hook's.
 *
 * PROPERTIES
 *   - the owner is never touched after it was freed (the hook reads it while
 *     the input may settle and let go on another thread);
 *   - it is freed exactly once, and at the end no reference is left;
 *   - the output is settled exactly once.
 *
 * BOUNDS
 *   1 combinator with 1 input, 1 consumer asking its future to stop; the
 *   input runs or is dropped unrun.
 *
 * MUTANTS (tools/model/check.sh --mutants compiles each and expects errors)
 *   MUTANT_NO_KEEP        settle() parks no reference for a running hook
 *   MUTANT_RELEASE_FIRST  an input dropped unrun lets its reference go before
 *                         it settles (the bug future_fuzz found: the
 *                         combinator then settled from its destructor)
 */

#define HOOK_NONE 0
#define HOOK_DONE 1
#define SETTLED   2

byte refs = 1;            /* the input's reference */
bit owner_freed;
bit result;               /* the output's kResult */
bit stopreq;              /* the output's kStopRequested */
byte settles;
byte hook_ = HOOK_NONE;
bit keep;                 /* self_keep_ holds a reference */
bit hook_ran;

inline touch_owner() { assert(!owner_freed) }

inline unref() {
  atomic {
    touch_owner();
    assert(refs > 0);
    refs--;
    if
    :: refs == 0 -> owner_freed = 1
    :: else
    fi
  }
}

inline settle() {
  atomic {                                    /* publish(): Publish with old flags */
    touch_owner();
    assert(!result);
    result = 1; settles++;
    seen = stopreq
  };
  if
  :: seen ->
#ifndef MUTANT_NO_KEEP
     atomic { touch_owner(); refs++; keep = 1 };    /* self_keep_ = shared_from_this() */
     atomic { touch_owner(); old = hook_; hook_ = SETTLED };
     if
     :: old == HOOK_DONE -> keep = 0; unref()       /* self_keep_.reset() */
     :: else
     fi
#else
     atomic { touch_owner(); old = hook_; hook_ = SETTLED }
#endif
  :: else
  fi
}

proctype Input() {
  bit seen; byte old;
  if
  :: skip ->                                  /* it runs: then_result's callback */
     settle();
     unref()                                  /* the callback is destroyed */
  :: skip ->                                  /* dropped unrun: ~InputLink */
#ifdef MUTANT_RELEASE_FIRST
     unref();
     /* ~CombinatorBase settles from the destructor, with no handshake */
     atomic { if :: !result -> result = 1; settles++ :: else fi }
#else
     settle();
     unref()
#endif
  fi
}

proctype Consumer() {
  bit had; byte old;
  atomic { stopreq = 1; had = result };       /* RequestStop's fetch_or */
  if
  :: !had ->
     hook_ran = 1;
     touch_owner();                           /* OnStop reads the owner... */
     touch_owner();                           /* ...stop_now walks its inputs */
     atomic { touch_owner(); old = hook_; hook_ = HOOK_DONE };
     if
     :: old == SETTLED && keep -> keep = 0; unref()   /* drop self_keep_ */
     :: else
     fi
  :: else
  fi
}

init {
  atomic {
    run Input();
    run Consumer()
  }
  timeout ->
  atomic {
    assert(settles == 1);
    assert(owner_freed);
    assert(refs == 0 && !keep)
  }
}
