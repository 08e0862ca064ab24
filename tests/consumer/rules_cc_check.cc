// Compiles only if nanorun's own BUILD files took their cc_library from this
// workspace's @rules_cc (own_rules_cc/, defined in WORKSPACE before
// nanorun_deps()), which marks every library it builds with this define. If
// nanorun_deps() had replaced @rules_cc with its offline stub, the mark is
// missing and the consumer fails to build here.
#include "nanorun/nanorun.h"

#if !defined(NANORUN_CONSUMER_OWN_RULES_CC)
#error "@nanorun//nanorun was not built with this workspace's own @rules_cc: nanorun_deps() shadowed it"
#endif
