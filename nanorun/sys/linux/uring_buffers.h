// Linux: a pool of receive buffers the kernel picks from (io_uring's provided
// buffer ring, IORING_REGISTER_PBUF_RING, 5.19), so a recv in flight names
// no memory of its caller: the kernel chooses a buffer only when data comes,
// and says which in the completion (UringCompletion::buffer). The reactor's
// completion operations copy the bytes out and give the buffer back. Why:
// a dropped read must let go of its caller's buffer at once (docs/net.md),
// and a recv request that named that buffer could still be written into
// until its cancellation completed.
//
// Thread safety: Recycle is not thread-safe (the caller serializes it, as it
// does the ring's submissions). The pool outlives nothing: destroy it before
// the ring, after every recv that selects from it has completed.
#ifndef NANORUN_SYS_LINUX_URING_BUFFERS_H_
#define NANORUN_SYS_LINUX_URING_BUFFERS_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"

struct io_uring_buf_ring;

namespace nanorun {
inline namespace v0 {
namespace sys {

class Uring;

class UringBufferPool {
 public:
  UringBufferPool() = default;
  UringBufferPool(const UringBufferPool&) = delete;
  UringBufferPool& operator=(const UringBufferPool&) = delete;
  ~UringBufferPool();

  // Registers `count` buffers (a power of two, at most 32768) of `size` bytes
  // each with `ring` as buffer group `group`; all start in the pool.
  absl::Status Open(Uring& ring, uint16_t group, unsigned count, unsigned size);

  uint16_t group() const { return group_; }
  unsigned buffer_size() const { return size_; }
  // The bytes of buffer `id` (from a completion).
  const char* data(uint16_t id) const { return memory_ + static_cast<size_t>(id) * size_; }
  // Gives buffer `id` back to the kernel once its bytes were copied out.
  void Recycle(uint16_t id);

 private:
  int ring_fd_ = -1;
  uint16_t group_ = 0;
  unsigned count_ = 0;
  unsigned size_ = 0;
  io_uring_buf_ring* ring_ = nullptr;  // The shared array the kernel reads.
  size_t ring_bytes_ = 0;
  char* memory_ = nullptr;             // count_ * size_ bytes.
  uint16_t tail_ = 0;                  // Ours; published to ring_'s tail.
};

}  // namespace sys
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_SYS_LINUX_URING_BUFFERS_H_
