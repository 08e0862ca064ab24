// nanorun: an async runtime for C++17 without coroutines.
//
// Include this one header and depend on //nanorun (or @nanorun//nanorun).
//   Runtime / Handle / spawn / JoinHandle / block_on / yield_now  - running work
//   Future<T> / Promise<T> / then / on_error / finally / via        - chaining it
//   when_all / when_any / repeat / poll_fn                          - combining it
//   time::sleep / sleep_until / timeout / interval / ManualClock    - timing it
//   StopSource / StopToken / StopCallback                           - stopping it
//   fs::read_file / write_file / File (on the blocking pool)        - files
//   net::TcpListener / TcpStream / UdpSocket / SocketAddr           - talking
//   net::UnixListener / UnixStream / UnixDatagram, lookup_host
//     (where the reactor has I/O: NANORUN_HAS_NET is defined then)
//   NANORUN_VERSION_MAJOR / MINOR / PATCH (nanorun/version.h)       - which one
// Every name is in the inline namespace nanorun::v0 (see version.h).
// docs/architecture.md explains the layers; docs/futures.md the rules for
// where continuations run.
#ifndef NANORUN_NANORUN_H_
#define NANORUN_NANORUN_H_

#include "nanorun/cancel/stop_token.h"
#include "nanorun/fs/fs.h"
#include "nanorun/future/blocking.h"
#include "nanorun/future/combinators.h"
#include "nanorun/future/concurrency.h"
#include "nanorun/future/future.h"
#include "nanorun/future/runtime.h"
#include "nanorun/future/timers.h"
#include "nanorun/future/with_stop.h"
#if defined(NANORUN_HAS_NET)
#include "nanorun/net/lookup.h"
#include "nanorun/net/socket_addr.h"
#include "nanorun/net/tcp.h"
#include "nanorun/net/udp.h"
#include "nanorun/net/unix.h"
#endif
#if defined(NANORUN_HAS_SIGNAL)
#include "nanorun/signal/signal.h"
#endif
#include "nanorun/sync/barrier.h"
#include "nanorun/sync/channel.h"
#include "nanorun/sync/join_set.h"
#include "nanorun/sync/mutex.h"
#include "nanorun/sync/notify.h"
#include "nanorun/sync/semaphore.h"
#include "nanorun/sys/misuse.h"
#include "nanorun/version.h"
#include "nanorun/waker/poll.h"
#include "nanorun/waker/waker.h"

#endif  // NANORUN_NANORUN_H_
