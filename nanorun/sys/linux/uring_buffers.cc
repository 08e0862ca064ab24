// The provided-buffer ring (see uring_buffers.h).
#include "nanorun/sys/linux/uring_buffers.h"

#include <errno.h>
#include <linux/io_uring.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "nanorun/sys/linux/uring.h"

namespace nanorun {
inline namespace v0 {
namespace sys {

UringBufferPool::~UringBufferPool() {
  if (ring_ != nullptr) {
    io_uring_buf_reg reg;
    memset(&reg, 0, sizeof(reg));
    reg.bgid = group_;
    // Fails only if the ring is already gone, which drops the group anyway.
    (void)syscall(__NR_io_uring_register, ring_fd_, IORING_UNREGISTER_PBUF_RING, &reg, 1);
    munmap(ring_, ring_bytes_);
  }
  free(memory_);
}

absl::Status UringBufferPool::Open(Uring& ring, uint16_t group, unsigned count, unsigned size) {
  if (count == 0 || count > 32768 || (count & (count - 1)) != 0 || size == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "io_uring buffer pool: ", count, " buffers of ", size,
        " bytes; the count must be a power of two up to 32768 and the size positive"));
  }
  // The kernel reads the array from page-aligned memory we map.
  ring_bytes_ = sizeof(io_uring_buf) * count;
  void* array = mmap(nullptr, ring_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                     -1, 0);
  if (array == MAP_FAILED) {
    return absl::ResourceExhaustedError(
        absl::StrCat("io_uring buffer pool: mmap of its ring: ", strerror(errno)));
  }
  memory_ = static_cast<char*>(malloc(static_cast<size_t>(count) * size));
  if (memory_ == nullptr) {
    munmap(array, ring_bytes_);
    return absl::ResourceExhaustedError("io_uring buffer pool: out of memory for its buffers");
  }
  io_uring_buf_reg reg;
  memset(&reg, 0, sizeof(reg));
  reg.ring_addr = reinterpret_cast<uint64_t>(array);
  reg.ring_entries = count;
  reg.bgid = group;
  if (syscall(__NR_io_uring_register, ring.fd(), IORING_REGISTER_PBUF_RING, &reg, 1) < 0) {
    int err = errno;
    munmap(array, ring_bytes_);
    free(memory_);
    memory_ = nullptr;
    return absl::UnavailableError(absl::StrCat(
        "io_uring_register(PBUF_RING) for buffer group ", group, ": ", strerror(err)));
  }
  ring_ = static_cast<io_uring_buf_ring*>(array);
  ring_fd_ = ring.fd();
  group_ = group;
  count_ = count;
  size_ = size;
  for (unsigned id = 0; id < count; ++id) Recycle(static_cast<uint16_t>(id));
  return absl::OkStatus();
}

void UringBufferPool::Recycle(uint16_t id) {
  // Not ring_->bufs: in C++, the 6.1 uapi header's __DECLARE_FLEX_ARRAY puts
  // an empty struct (size 1, padded to 8) before the array, so `bufs` lands
  // at offset 8 instead of 0 and every entry is written 8 bytes late (the
  // first entry's address then overlapped the tail; the kernel saw an empty
  // pool). The entries start at the ring's first byte, as the kernel reads
  // them, and the tail is the first entry's `resv`.
  io_uring_buf* entries = reinterpret_cast<io_uring_buf*>(ring_);
  io_uring_buf& slot = entries[tail_ & (count_ - 1)];
  slot.addr = reinterpret_cast<uint64_t>(memory_ + static_cast<size_t>(id) * size_);
  slot.len = size_;
  slot.bid = id;
  ++tail_;
  // The entry is written before the kernel can see the tail that covers it.
  __atomic_store_n(&entries[0].resv, tail_, __ATOMIC_RELEASE);
}

}  // namespace sys
}  // namespace v0
}  // namespace nanorun
