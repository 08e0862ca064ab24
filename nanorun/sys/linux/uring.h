// Linux: a thin, errno-checked io_uring wrapper for the reactor (issue 18),
// over the raw syscalls and the kernel's own header <linux/io_uring.h>, not
// liburing: nanorun links no runtime library but Abseil, and the part of
// liburing the reactor needs (map the rings, fill an entry, enter, read
// completions) is this file. Nothing here knows about tasks or
// registrations; it only turns ring operations into absl::Status.
//
// Thread safety: Queue* is not thread-safe: the caller serializes it (the
// reactor's lock). Submit and SubmitAndWait may run on any thread, also
// while another queues: they hand over what was queued when they looked,
// and the kernel consumes submissions under its own lock. The completion
// side (the wait, Harvest) belongs to one thread at a time (the parker).
#ifndef NANORUN_SYS_LINUX_URING_H_
#define NANORUN_SYS_LINUX_URING_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"

struct io_uring_sqe;
struct io_uring_cqe;

namespace nanorun {
inline namespace v0 {
namespace sys {

// One completion: the user_data its request was queued with, the kernel's
// result (>= 0, or -errno) and whether the request stays armed (multishot).
struct UringCompletion {
  uint64_t user_data;
  int32_t result;
  bool more;
  int32_t buffer;  // The pool buffer a recv filled (UringBufferPool), or -1.
};

class Uring {
 public:
  // Whether this kernel and process can run the reactor over io_uring: a ring
  // can be set up (seccomp, a container's policy or
  // /proc/sys/kernel/io_uring_disabled may forbid it: EPERM, ENOSYS), it has
  // the features the reactor relies on (no dropped completions, timed waits),
  // the operations it queues, and the kernel is 5.19 or newer (multishot
  // accept and provided-buffer rings, which the completion operations use).
  // OK, or why not, in words for a log line.
  static absl::Status Probe();

  Uring() = default;
  Uring(const Uring&) = delete;
  Uring& operator=(const Uring&) = delete;
  ~Uring();

  // Sets up a ring of `entries` submissions (a power of two; the completion
  // queue gets `cq_entries`, also a power of two, at least 2x entries).
  absl::Status Open(unsigned entries, unsigned cq_entries);

  // Queue one request (false: the submission queue is full; Submit first).
  // A poll for `events` (poll(2) bits): one-shot (one completion, when the
  // file is ready, at once if it already is), or multishot (edge-triggered:
  // one completion per wakeup of the file, as epoll's EPOLLET).
  bool QueuePoll(int fd, uint32_t events, uint64_t user_data, bool multishot);
  // Removes the poll queued with `target`; its own completion has `user_data`.
  bool QueuePollRemove(uint64_t target, uint64_t user_data);
  // A recv of up to `length` bytes into `buffer`, which must stay valid until
  // the request's completion (result: the bytes received, 0 at end of
  // stream, or -errno). `poll_first`: wait for data before trying (the
  // caller expects none yet), instead of trying at submission.
  bool QueueRecv(int fd, void* buffer, size_t length, bool poll_first, uint64_t user_data);
  // A recv of up to the pool's buffer size into a buffer the kernel picks
  // from `group` (UringBufferPool) when data comes; the completion names it
  // (buffer), or fails with -ENOBUFS if the pool was empty.
  bool QueueRecvFromPool(int fd, uint16_t group, size_t max_length, bool poll_first,
                         uint64_t user_data);
  // A send of `length` bytes from `data` (valid until the completion; result:
  // the bytes sent, possibly fewer, or -errno; never SIGPIPE).
  bool QueueSend(int fd, const void* data, size_t length, uint64_t user_data);
  // A connect of socket `fd` (non-blocking) to the `length`-byte socket
  // address at `addr` (valid until the completion): result 0 once connected,
  // or -errno (-ECONNREFUSED, ...). The kernel waits for the handshake.
  bool QueueConnect(int fd, const void* addr, uint32_t length, uint64_t user_data);
  // A multishot accept on listening socket `fd`: one completion per
  // connection (result: the new fd, non-blocking and close-on-exec), each
  // with `more` while the request stays armed; it ends (`more` false) with
  // an error (-EMFILE, -EINVAL once the listener is shut down, ...), or
  // -ECANCELED. Holds a reference to the listener's file until it ends.
  bool QueueAcceptMultishot(int fd, uint64_t user_data);
  // Asks the kernel to cancel the request queued with `target`. Its own
  // completion (`user_data`) says 0 (found and cancelled), -ENOENT (already
  // completed) or -EALREADY (running; it completes by itself). The target
  // always completes once more: -ECANCELED if it did nothing, else with what
  // it did (a recv that got bytes returns them: cancel loses none).
  bool QueueCancel(uint64_t target, uint64_t user_data);
  // Cancels every request in the ring (shutdown); its own completion's
  // result is how many it found, or -errno.
  bool QueueCancelAll(uint64_t user_data);

  // Hands the queued requests to the kernel. Returns how many it took, or
  // -errno (EINTR and EAGAIN/EBUSY count as 0: try again later). The
  // requests' task work (a recv waiting for data) then belongs to the
  // calling thread.
  int Submit();

  // Submits what is queued and waits until a completion is ready or
  // `timeout_ns` passes (-1: forever; 0: just look), in one syscall. The
  // caller must be the only one queueing meanwhile. Returns 0 or -errno
  // (ETIME: the timeout passed; EINTR).
  int SubmitAndWait(int64_t timeout_ns);

  // Takes up to `capacity` ready completions into `out`; returns how many.
  int Harvest(UringCompletion* out, int capacity);

  int fd() const { return ring_fd_; }
  // Whether the ring was set up with IORING_SETUP_COOP_TASKRUN (see Open).
  bool cooperative_task_work() const { return cooperative_task_work_; }

 private:
  io_uring_sqe* next_sqe();
  unsigned unsubmitted() const;

  int ring_fd_ = -1;
  bool cooperative_task_work_ = false;
  void* sq_map_ = nullptr;
  size_t sq_map_size_ = 0;
  void* cq_map_ = nullptr;  // == sq_map_ with IORING_FEAT_SINGLE_MMAP.
  size_t cq_map_size_ = 0;
  io_uring_sqe* sqes_ = nullptr;
  size_t sqes_size_ = 0;

  // Submission ring: the kernel moves head, we move tail.
  unsigned* sq_head_ = nullptr;
  unsigned* sq_tail_ = nullptr;
  unsigned* sq_array_ = nullptr;
  unsigned sq_mask_ = 0;
  unsigned sq_entries_ = 0;

  // Completion ring: the kernel moves tail, we move head.
  unsigned* cq_head_ = nullptr;
  unsigned* cq_tail_ = nullptr;
  io_uring_cqe* cqes_ = nullptr;
  unsigned cq_mask_ = 0;
};

}  // namespace sys
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_SYS_LINUX_URING_H_
