// A per-thread cache of recently freed small blocks, for the allocations
// nanorun makes on every spawn and every pending .then (the task, the
// continuation node, the promise state). A worker that completes tasks and
// spawns new ones reuses the same blocks without going through malloc's
// bins; perf and callgrind showed malloc/free at ~30% of spawn-heavy runs.
//
// Size classes are 16k - 8 bytes (24, 40, 56, ...), which is what glibc's
// chunks hold exactly, so rounding up costs no memory over plain malloc.
// Each class keeps at most 256 blocks per thread; past that, batches of 128
// move to a process-wide depot (at most 512 KiB per class, one lock per
// batch), where a thread whose cache ran dry picks them up. This is what
// makes the common producer/consumer shape cheap: one worker spawns, another
// runs and frees. A thread's cache is emptied when it exits. Under AddressSanitizer or
// ThreadSanitizer the cache is off, so every block is a fresh allocation
// and use-after-free stays detectable.
#ifndef NANORUN_TASK_BLOCK_CACHE_H_
#define NANORUN_TASK_BLOCK_CACHE_H_

#include <cstddef>

namespace nanorun {
inline namespace v0 {
namespace task {

// Allocates at least `size` bytes, suitably aligned for any nanorun object.
// Never returns nullptr (allocation failure aborts, as operator new does
// with -fno-exceptions).
void* AllocateBlock(size_t size);
// Frees a block from AllocateBlock; `size` must be the size it was asked for.
void FreeBlock(void* block, size_t size) noexcept;

// Inherit to allocate a class's objects (with plain `new`/`delete`) from
// the block cache.
struct BlockCached {
  static void* operator new(size_t size) { return AllocateBlock(size); }
  static void operator delete(void* p, size_t size) { FreeBlock(p, size); }
};

}  // namespace task
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_TASK_BLOCK_CACHE_H_
