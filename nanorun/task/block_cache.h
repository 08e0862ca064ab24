// A per-thread cache of recently freed small blocks, for the allocations
// nanorun makes on every spawn and every pending .then (the task, the
// continuation node, the promise state). A worker that completes tasks and
// spawns new ones reuses the same blocks without going through malloc's
// bins; perf and callgrind showed malloc/free at ~30% of spawn-heavy runs.
//
// Size classes are 16k - 8 bytes (24, 40, 56, ...), which is what glibc's
// chunks hold exactly, so rounding up costs no memory over plain malloc.
// Blocks the cache cannot supply are carved from 16 KiB slabs (one malloc for
// dozens of blocks; a slab is freed when its last block leaves the caches).
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
#include <new>

namespace nanorun {
inline namespace v0 {
namespace task {

// What AllocateBlock's blocks are aligned to (glibc's malloc; the cache keeps it).
// Objects that need more are rejected where nanorun allocates them itself
// (static_asserts in future/core.h), or, for BlockCached classes, allocated with
// the aligned operator new below.
constexpr size_t kBlockAlign = 16;

// Allocates at least `size` bytes, aligned to kBlockAlign.
// Never returns nullptr (allocation failure aborts, as operator new does
// with -fno-exceptions).
void* AllocateBlock(size_t size);
// Frees a block from AllocateBlock; `size` must be the size it was asked for.
void FreeBlock(void* block, size_t size) noexcept;

// Inherit to allocate a class's objects (with plain `new`/`delete`) from
// the block cache. An over-aligned class (a task whose body holds an alignas(64)
// callback, say) is allocated by the aligned global operator new instead: C++17
// picks these align_val_t forms for it, and without them it would silently get
// 16-byte storage from the cache.
struct BlockCached {
  static void* operator new(size_t size) { return AllocateBlock(size); }
  static void operator delete(void* p, size_t size) { FreeBlock(p, size); }
  static void* operator new(size_t size, std::align_val_t align) {
    return ::operator new(size, align);
  }
  static void operator delete(void* p, size_t size, std::align_val_t align) {
    (void)size;  // Sized deallocation is off by default in clang 14.
    ::operator delete(p, align);
  }
};

}  // namespace task
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_TASK_BLOCK_CACHE_H_
