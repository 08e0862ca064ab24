// Linux: the io_uring wrapper (see uring.h). The rings are shared memory with
// the kernel: each side publishes its index with a release store and reads
// the other's with an acquire load, as io_uring(7) describes.
#include "nanorun/sys/linux/uring.h"

#include <errno.h>
#include <linux/io_uring.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"

namespace nanorun {
inline namespace v0 {
namespace sys {
namespace {

int SetUp(unsigned entries, io_uring_params* params) {
  return static_cast<int>(syscall(__NR_io_uring_setup, entries, params));
}

int Enter(int fd, unsigned to_submit, unsigned min_complete, unsigned flags, const void* arg,
          size_t arg_size) {
  long r = syscall(__NR_io_uring_enter, fd, to_submit, min_complete, flags, arg, arg_size);
  return r < 0 ? -errno : static_cast<int>(r);
}

unsigned LoadAcquire(const unsigned* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
void StoreRelease(unsigned* p, unsigned v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

// "6.1.0-18-amd64" -> true for 5.19 and newer.
bool KernelAtLeast(int major, int minor) {
  struct utsname u;
  if (uname(&u) != 0) return false;
  int have_major = 0, have_minor = 0;
  if (std::sscanf(u.release, "%d.%d", &have_major, &have_minor) != 2) return false;
  return have_major > major || (have_major == major && have_minor >= minor);
}

// Sets up a ring from a thread of its own. The kernel remembers the thread
// that set a ring up among the ring's users, and when the ring is torn down
// it sends each user still alive task work that it delivers as if a signal
// were pending: that thread's next blocking syscall (an epoll_wait, a read)
// fails with EINTR. Measured: a loop that destroyed an io_uring runtime and
// then waited in epoll_wait on the same thread saw EINTR every time (and
// net_bench's client, which did not retry on it, stopped). A helper thread
// that has exited gets nothing. The workers that park in the ring are users
// too, but they have exited before a runtime's ring is closed.
int SetUpAside(unsigned entries, io_uring_params* params, int* err) {
  int fd = -1;
  std::thread([&] {
    fd = SetUp(entries, params);
    *err = errno;
  }).join();
  return fd;
}

}  // namespace

absl::Status Uring::Probe() {
  io_uring_params params;
  memset(&params, 0, sizeof(params));
  int err = 0;
  int fd = SetUpAside(4, &params, &err);
  if (fd < 0) {
    if (err == EPERM || err == ENOSYS) {
      return absl::UnavailableError(absl::StrCat(
          "io_uring_setup: ", strerror(err),
          " (forbidden here: a seccomp filter, such as a container's default profile, or "
          "/proc/sys/kernel/io_uring_disabled)"));
    }
    return absl::UnavailableError(absl::StrCat("io_uring_setup: ", strerror(err)));
  }
  absl::Status status;
  const unsigned needed_features = IORING_FEAT_NODROP | IORING_FEAT_EXT_ARG;
  if ((params.features & needed_features) != needed_features) {
    status = absl::UnavailableError(
        "io_uring lacks IORING_FEAT_NODROP or IORING_FEAT_EXT_ARG (kernel older than 5.11)");
  } else if (!KernelAtLeast(5, 19)) {
    status = absl::UnavailableError(
        "kernel older than 5.19 (io_uring's multishot accept and provided-buffer rings)");
  } else {
    // Which operations this kernel knows (IORING_REGISTER_PROBE, 5.6+).
    constexpr unsigned kOps = 64;
    std::string buffer(sizeof(io_uring_probe) + kOps * sizeof(io_uring_probe_op), '\0');
    auto* probe = reinterpret_cast<io_uring_probe*>(&buffer[0]);
    if (syscall(__NR_io_uring_register, fd, IORING_REGISTER_PROBE, probe, kOps) < 0) {
      status = absl::UnavailableError(
          absl::StrCat("io_uring_register(PROBE): ", strerror(errno)));
    } else {
      const int needed_ops[] = {IORING_OP_POLL_ADD, IORING_OP_POLL_REMOVE,
                                IORING_OP_ASYNC_CANCEL, IORING_OP_RECV, IORING_OP_SEND,
                                IORING_OP_ACCEPT, IORING_OP_CONNECT};
      for (int op : needed_ops) {
        if (op > probe->last_op || !(probe->ops[op].flags & IO_URING_OP_SUPPORTED)) {
          status = absl::UnavailableError(absl::StrCat("io_uring lacks operation ", op));
          break;
        }
      }
    }
  }
  close(fd);
  return status;
}

Uring::~Uring() {
  if (sqes_ != nullptr) munmap(sqes_, sqes_size_);
  if (cq_map_ != nullptr && cq_map_ != sq_map_) munmap(cq_map_, cq_map_size_);
  if (sq_map_ != nullptr) munmap(sq_map_, sq_map_size_);
  if (ring_fd_ >= 0) close(ring_fd_);
}

absl::Status Uring::Open(unsigned entries, unsigned cq_entries) {
  io_uring_params params;
  memset(&params, 0, sizeof(params));
  // COOP_TASKRUN (5.19): a completion that is task work of a thread busy in
  // user space waits for that thread's next entry into the kernel (a
  // syscall, or at the latest its next timer tick) instead of interrupting
  // it at once; a sleeping thread is still woken. Without it each accept or
  // recv that completed in the kernel interrupted the worker that queued it:
  // measured 1.6x on tcp_accept with ring accepts, 1.14x with readiness
  // (docs/performance.md, 2026-12-07).
  params.flags = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP | IORING_SETUP_COOP_TASKRUN;
  params.cq_entries = cq_entries;
  const io_uring_params asked = params;
  int err = 0;
  ring_fd_ = SetUpAside(entries, &params, &err);
  if (ring_fd_ < 0 && err == EINVAL) {
    // A kernel that passed the probe but refuses the flag: run without it.
    params = asked;
    params.flags &= ~IORING_SETUP_COOP_TASKRUN;
    ring_fd_ = SetUpAside(entries, &params, &err);
  }
  if (ring_fd_ < 0) {
    ring_fd_ = -1;
    return absl::InternalError(absl::StrCat("io_uring_setup: ", strerror(err)));
  }
  cooperative_task_work_ = (params.flags & IORING_SETUP_COOP_TASKRUN) != 0;
  sq_map_size_ = params.sq_off.array + params.sq_entries * sizeof(unsigned);
  cq_map_size_ = params.cq_off.cqes + params.cq_entries * sizeof(io_uring_cqe);
  bool single_map = params.features & IORING_FEAT_SINGLE_MMAP;
  if (single_map && cq_map_size_ > sq_map_size_) sq_map_size_ = cq_map_size_;
  void* sq = mmap(nullptr, sq_map_size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                  ring_fd_, IORING_OFF_SQ_RING);
  if (sq == MAP_FAILED) return absl::InternalError(absl::StrCat("mmap(SQ ring): ", strerror(errno)));
  sq_map_ = sq;
  if (single_map) {
    cq_map_ = sq_map_;
  } else {
    void* cq = mmap(nullptr, cq_map_size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                    ring_fd_, IORING_OFF_CQ_RING);
    if (cq == MAP_FAILED) {
      return absl::InternalError(absl::StrCat("mmap(CQ ring): ", strerror(errno)));
    }
    cq_map_ = cq;
  }
  sqes_size_ = params.sq_entries * sizeof(io_uring_sqe);
  void* sqes = mmap(nullptr, sqes_size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                    ring_fd_, IORING_OFF_SQES);
  if (sqes == MAP_FAILED) return absl::InternalError(absl::StrCat("mmap(SQEs): ", strerror(errno)));
  sqes_ = static_cast<io_uring_sqe*>(sqes);

  char* sq_base = static_cast<char*>(sq_map_);
  sq_head_ = reinterpret_cast<unsigned*>(sq_base + params.sq_off.head);
  sq_tail_ = reinterpret_cast<unsigned*>(sq_base + params.sq_off.tail);
  sq_array_ = reinterpret_cast<unsigned*>(sq_base + params.sq_off.array);
  sq_mask_ = *reinterpret_cast<unsigned*>(sq_base + params.sq_off.ring_mask);
  sq_entries_ = params.sq_entries;
  char* cq_base = static_cast<char*>(cq_map_);
  cq_head_ = reinterpret_cast<unsigned*>(cq_base + params.cq_off.head);
  cq_tail_ = reinterpret_cast<unsigned*>(cq_base + params.cq_off.tail);
  cqes_ = reinterpret_cast<io_uring_cqe*>(cq_base + params.cq_off.cqes);
  cq_mask_ = *reinterpret_cast<unsigned*>(cq_base + params.cq_off.ring_mask);
  return absl::OkStatus();
}

io_uring_sqe* Uring::next_sqe() {
  unsigned tail = *sq_tail_;  // Only we write it.
  if (tail - LoadAcquire(sq_head_) >= sq_entries_) return nullptr;
  unsigned index = tail & sq_mask_;
  io_uring_sqe* sqe = &sqes_[index];
  memset(sqe, 0, sizeof(*sqe));
  sq_array_[index] = index;
  return sqe;
}

bool Uring::QueuePoll(int fd, uint32_t events, uint64_t user_data, bool multishot) {
  io_uring_sqe* sqe = next_sqe();
  if (sqe == nullptr) return false;
  sqe->opcode = IORING_OP_POLL_ADD;
  sqe->fd = fd;
  sqe->poll32_events = events;  // Native endianness on little-endian Linux.
  sqe->len = multishot ? IORING_POLL_ADD_MULTI : 0;
  sqe->user_data = user_data;
  StoreRelease(sq_tail_, *sq_tail_ + 1);
  return true;
}

bool Uring::QueueRecv(int fd, void* buffer, size_t length, bool poll_first, uint64_t user_data) {
  io_uring_sqe* sqe = next_sqe();
  if (sqe == nullptr) return false;
  sqe->opcode = IORING_OP_RECV;
  sqe->fd = fd;
  sqe->addr = reinterpret_cast<uint64_t>(buffer);
  sqe->len = static_cast<uint32_t>(length);
  if (poll_first) sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
  sqe->user_data = user_data;
  StoreRelease(sq_tail_, *sq_tail_ + 1);
  return true;
}

bool Uring::QueueRecvFromPool(int fd, uint16_t group, size_t max_length, bool poll_first,
                              uint64_t user_data) {
  io_uring_sqe* sqe = next_sqe();
  if (sqe == nullptr) return false;
  sqe->opcode = IORING_OP_RECV;
  sqe->fd = fd;
  sqe->flags = IOSQE_BUFFER_SELECT;
  sqe->buf_group = group;
  // At most this much of the buffer the kernel picks (0: all of it).
  sqe->len = static_cast<uint32_t>(max_length);
  if (poll_first) sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
  sqe->user_data = user_data;
  StoreRelease(sq_tail_, *sq_tail_ + 1);
  return true;
}

bool Uring::QueueSend(int fd, const void* data, size_t length, uint64_t user_data) {
  io_uring_sqe* sqe = next_sqe();
  if (sqe == nullptr) return false;
  sqe->opcode = IORING_OP_SEND;
  sqe->fd = fd;
  sqe->addr = reinterpret_cast<uint64_t>(data);
  sqe->len = static_cast<uint32_t>(length);
  sqe->msg_flags = MSG_NOSIGNAL;  // A reset peer is an EPIPE result, never a signal.
  sqe->user_data = user_data;
  StoreRelease(sq_tail_, *sq_tail_ + 1);
  return true;
}

bool Uring::QueueConnect(int fd, const void* addr, uint32_t length, uint64_t user_data) {
  io_uring_sqe* sqe = next_sqe();
  if (sqe == nullptr) return false;
  sqe->opcode = IORING_OP_CONNECT;
  sqe->fd = fd;
  sqe->addr = reinterpret_cast<uint64_t>(addr);
  sqe->off = length;  // The address length goes where a file offset would.
  sqe->user_data = user_data;
  StoreRelease(sq_tail_, *sq_tail_ + 1);
  return true;
}

bool Uring::QueueAcceptMultishot(int fd, uint64_t user_data) {
  io_uring_sqe* sqe = next_sqe();
  if (sqe == nullptr) return false;
  sqe->opcode = IORING_OP_ACCEPT;
  sqe->fd = fd;
  // No address: one request serves many connections, and a shared buffer
  // would be overwritten by the next; the caller asks getpeername.
  sqe->accept_flags = SOCK_NONBLOCK | SOCK_CLOEXEC;
  sqe->ioprio = IORING_ACCEPT_MULTISHOT;
  sqe->user_data = user_data;
  StoreRelease(sq_tail_, *sq_tail_ + 1);
  return true;
}

bool Uring::QueueCancel(uint64_t target, uint64_t user_data) {
  io_uring_sqe* sqe = next_sqe();
  if (sqe == nullptr) return false;
  sqe->opcode = IORING_OP_ASYNC_CANCEL;
  sqe->fd = -1;
  sqe->addr = target;
  sqe->user_data = user_data;
  StoreRelease(sq_tail_, *sq_tail_ + 1);
  return true;
}

bool Uring::QueueCancelAll(uint64_t user_data) {
  io_uring_sqe* sqe = next_sqe();
  if (sqe == nullptr) return false;
  sqe->opcode = IORING_OP_ASYNC_CANCEL;
  sqe->fd = -1;
  sqe->cancel_flags = IORING_ASYNC_CANCEL_ALL | IORING_ASYNC_CANCEL_ANY;
  sqe->user_data = user_data;
  StoreRelease(sq_tail_, *sq_tail_ + 1);
  return true;
}

bool Uring::QueuePollRemove(uint64_t target, uint64_t user_data) {
  io_uring_sqe* sqe = next_sqe();
  if (sqe == nullptr) return false;
  sqe->opcode = IORING_OP_POLL_REMOVE;
  sqe->fd = -1;
  sqe->addr = target;
  sqe->user_data = user_data;
  StoreRelease(sq_tail_, *sq_tail_ + 1);
  return true;
}

unsigned Uring::unsubmitted() const {
  // Queued entries the kernel has not consumed yet: it moves the head as it
  // takes them, whichever thread's io_uring_enter that was.
  return LoadAcquire(sq_tail_) - LoadAcquire(sq_head_);
}

int Uring::Submit() {
  unsigned to_submit = unsubmitted();
  if (to_submit == 0) return 0;
  int r = Enter(ring_fd_, to_submit, 0, 0, nullptr, 0);
  if (r == -EINTR || r == -EAGAIN || r == -EBUSY) return 0;
  return r;
}

int Uring::SubmitAndWait(int64_t timeout_ns) {
  // Entries another thread queues meanwhile wait for the next enter (or
  // that thread's own Submit); asking for more than are left is harmless.
  unsigned to_submit = unsubmitted();
  // Nothing to hand over and something to harvest already: no syscall.
  if (to_submit == 0 && LoadAcquire(cq_tail_) != *cq_head_) return 0;
  int r;
  if (timeout_ns == 0) {
    // Just look: GETEVENTS with min_complete 0 also flushes completions the
    // kernel holds back (task work, overflow) without blocking.
    r = Enter(ring_fd_, to_submit, 0, IORING_ENTER_GETEVENTS, nullptr, 0);
  } else {
    io_uring_getevents_arg arg;
    memset(&arg, 0, sizeof(arg));
    struct __kernel_timespec ts;
    if (timeout_ns > 0) {
      ts.tv_sec = timeout_ns / 1000000000;
      ts.tv_nsec = timeout_ns % 1000000000;
      arg.ts = reinterpret_cast<uint64_t>(&ts);
    }
    r = Enter(ring_fd_, to_submit, 1, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &arg,
              sizeof(arg));
  }
  // The result is how many entries the kernel took, or, when it took none,
  // the wait's outcome; entries it did not take stay queued for next time.
  return r < 0 ? r : 0;
}

int Uring::Harvest(UringCompletion* out, int capacity) {
  unsigned head = *cq_head_;  // Only the harvesting thread writes it.
  unsigned tail = LoadAcquire(cq_tail_);
  int n = 0;
  while (head != tail && n < capacity) {
    const io_uring_cqe& cqe = cqes_[head & cq_mask_];
    out[n].user_data = cqe.user_data;
    out[n].result = cqe.res;
    out[n].more = cqe.flags & IORING_CQE_F_MORE;
    out[n].buffer = (cqe.flags & IORING_CQE_F_BUFFER)
                        ? static_cast<int32_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT)
                        : -1;
    ++n;
    ++head;
  }
  StoreRelease(cq_head_, head);
  return n;
}

}  // namespace sys
}  // namespace v0
}  // namespace nanorun
