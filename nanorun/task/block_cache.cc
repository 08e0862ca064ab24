// The per-thread block cache (see block_cache.h).
#include "nanorun/task/block_cache.h"

#include <atomic>
#include <cstdint>
#include <mutex>
#include <new>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define NANORUN_BLOCK_CACHE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define NANORUN_BLOCK_CACHE 0
#endif
#endif
#ifndef NANORUN_BLOCK_CACHE
#define NANORUN_BLOCK_CACHE 1
#endif

#if NANORUN_BLOCK_CACHE

namespace nanorun {
inline namespace v0 {
namespace task {
namespace {

constexpr size_t kClasses = 32;  // Up to 16 * 32 - 8 = 504 bytes.
// A thread keeps at most kMaxCachedPerClass blocks of a class; past that it
// hands kBatch of them to the process-wide depot in one go.
constexpr uint32_t kMaxCachedPerClass = 256;
constexpr uint32_t kBatch = 128;
// The depot keeps at most this many bytes per class; the rest is freed.
constexpr size_t kDepotBytesPerClass = 512 * 1024;

// Class c holds blocks of 16 * (c + 1) - 8 bytes.
size_t ClassOf(size_t size) { return (size + 8 + 15) / 16 - 1; }
size_t ClassSize(size_t c) { return 16 * (c + 1) - 8; }

// A free block: `next` links blocks; the first block of a batch in the
// depot also links to the next batch (blocks are at least 24 bytes).
struct FreeBlockLink {
  FreeBlockLink* next;
  FreeBlockLink* next_batch;
};

// Where the blocks of the cached classes come from: 16 KiB slabs, aligned to
// their size, each holding one class, carved by one thread with a bump
// pointer. One class per slab keeps a freed spike from staying resident: the
// blocks the caches and the depot keep pin only slabs of their own class
// (mixed slabs let a few kept blocks of each class pin nearly every slab). A slab is one malloc
// for dozens of blocks; before, every block the cache could not supply was
// its own malloc and free (callgrind, spawn_many: ~265 of ~900 instructions
// per spawn were glibc's, as 100,000 live tasks outgrow any cache). A block
// finds its slab by masking its address. Each block's stride is its class
// size plus the 8 bytes a glibc chunk header takes, so a slab costs the same
// memory per block as malloc did.
//
// `live` counts the slab's carved blocks not yet released (released: freed
// past the caches and the depot), plus kCarving while a thread still carves
// from it; the carver adds its count only when it retires the slab, so
// carving needs no atomic operation. The last release frees the slab.
constexpr size_t kSlabBytes = 16 * 1024;
constexpr size_t kSlabHeader = 16;  // Keeps blocks 16-byte aligned.
constexpr uint32_t kCarving = 1u << 30;

struct Slab {
  std::atomic<uint32_t> live;
};

// Trivially destructible, like the cache: usable during thread exit.
struct Carver {
  char* next;
  char* end;
  Slab* slab;
  uint32_t carved;
};
thread_local Carver tl_carvers[kClasses];

void FreeSlab(Slab* slab) {
  slab->~Slab();
  ::operator delete(static_cast<void*>(slab), std::align_val_t(kSlabBytes));
}

// The carver lets go of its slab: from now on only releases count.
void RetireSlab(Carver& carver) {
  if (carver.slab == nullptr) return;
  Slab* slab = carver.slab;
  uint32_t carved = carver.carved;
  carver.slab = nullptr;
  carver.next = carver.end = nullptr;
  if (slab->live.fetch_sub(kCarving - carved, std::memory_order_acq_rel) == kCarving - carved) {
    FreeSlab(slab);  // Every block carved from it is already released.
  }
}

__attribute__((noinline)) void NewSlab(Carver& carver) {
  RetireSlab(carver);
  void* memory = ::operator new(kSlabBytes, std::align_val_t(kSlabBytes));
  auto* slab = new (memory) Slab{{kCarving}};
  carver.slab = slab;
  carver.carved = 0;
  carver.next = static_cast<char*>(memory) + kSlabHeader;
  carver.end = static_cast<char*>(memory) + kSlabBytes;
}

size_t Stride(size_t c) { return 16 * (c + 1); }

void* Carve(size_t c, bool thread_exiting) {
  Carver& carver = tl_carvers[c];
  if (static_cast<size_t>(carver.end - carver.next) < Stride(c)) NewSlab(carver);
  void* block = carver.next;
  carver.next += Stride(c);
  ++carver.carved;
  // During thread exit nothing would retire this slab later: retire it now
  // (the block just carved keeps it alive until released).
  if (thread_exiting) RetireSlab(carver);
  return block;
}

// A block leaves the caches for good.
void ReleaseBlock(void* block) {
  auto* slab = reinterpret_cast<Slab*>(reinterpret_cast<uintptr_t>(block) & ~(kSlabBytes - 1));
  if (slab->live.fetch_sub(1, std::memory_order_acq_rel) == 1) FreeSlab(slab);
}

void FreeList(FreeBlockLink* b) {
  while (b != nullptr) {
    FreeBlockLink* next = b->next;
    ReleaseBlock(b);
    b = next;
  }
}

// Moves whole batches between threads: the spawning worker allocates, the
// worker that ran the task frees; without the depot the freeing side would
// overflow into malloc (and its arena locks) while the other side starves.
class Depot {
 public:
  ~Depot() {
    for (size_t c = 0; c < kClasses; ++c) {
      while (FreeBlockLink* batch = batches_[c]) {
        batches_[c] = batch->next_batch;
        FreeList(batch);
      }
    }
  }
  // Takes ownership of a batch of kBatch blocks; false if full (keep it).
  bool put(size_t c, FreeBlockLink* batch) {
    std::lock_guard<std::mutex> lock(mu_[c]);
    if (count_[c] * kBatch * ClassSize(c) >= kDepotBytesPerClass) return false;
    batch->next_batch = batches_[c];
    batches_[c] = batch;
    ++count_[c];
    available_[c].store(count_[c], std::memory_order_relaxed);
    return true;
  }
  FreeBlockLink* take(size_t c) {
    // Checked without the lock first: a thread whose cache ran dry asks on
    // every allocation, and the depot is usually empty (callgrind showed
    // the lock at ~30 instructions per allocation in long .then chains).
    if (available_[c].load(std::memory_order_relaxed) == 0) return nullptr;
    std::lock_guard<std::mutex> lock(mu_[c]);
    FreeBlockLink* batch = batches_[c];
    if (batch != nullptr) {
      batches_[c] = batch->next_batch;
      --count_[c];
      available_[c].store(count_[c], std::memory_order_relaxed);
    }
    return batch;
  }

 private:
  std::mutex mu_[kClasses];
  FreeBlockLink* batches_[kClasses] = {};
  size_t count_[kClasses] = {};
  // count_ published for the lock-free emptiness check (a hint: a stale
  // value only costs one lock or one missed batch).
  std::atomic<size_t> available_[kClasses] = {};
};

Depot& GlobalDepot() {
  static Depot* depot = new Depot();  // Never destroyed: threads may outlive
  return *depot;                      // static destruction. Reachable: no leak.
}

// Trivially destructible, so it stays usable while other thread_local
// destructors run; `Drainer` below empties it at thread exit.
struct Cache {
  FreeBlockLink* head[kClasses];
  uint32_t count[kClasses];
  bool closed;
  bool drainer_registered;  // Set once tl_drainer was constructed.
};
thread_local Cache tl_cache;

struct Drainer {
  ~Drainer() {
    for (size_t c = 0; c < kClasses; ++c) {
      FreeList(tl_cache.head[c]);
      tl_cache.head[c] = nullptr;
      tl_cache.count[c] = 0;
    }
    tl_cache.closed = true;  // Later frees on this thread go straight back.
    for (Carver& carver : tl_carvers) RetireSlab(carver);
  }
};
thread_local Drainer tl_drainer;

// Constructs tl_drainer (registering its destructor) the first time this
// thread keeps blocks; later calls are one load and one branch, instead of
// the TLS guard check a plain reference to tl_drainer costs every time.
inline void EnsureDrainer(Cache& cache) {
  if (!cache.drainer_registered) {
    (void)&tl_drainer;
    cache.drainer_registered = true;
  }
}

// The slow paths stay out of line: inlined, they made the compiler save six
// registers on every call (callgrind: ~35 instructions per free, ~15 now).
__attribute__((noinline)) void Refill(Cache& cache, size_t c) {
  if (cache.closed) return;
  if (FreeBlockLink* batch = GlobalDepot().take(c)) {
    EnsureDrainer(cache);  // This thread now holds blocks: drain at exit.
    cache.head[c] = batch;
    cache.count[c] = kBatch;
  }
}

// Hands the kBatch most recently freed blocks of class c to the depot.
__attribute__((noinline)) void Spill(Cache& cache, size_t c) {
  FreeBlockLink* batch = cache.head[c];
  FreeBlockLink* last = batch;
  for (uint32_t i = 1; i < kBatch; ++i) last = last->next;
  FreeBlockLink* rest = last->next;
  last->next = nullptr;
  // Depot full: give the batch back to the allocator instead (still one
  // walk per kBatch frees).
  if (!GlobalDepot().put(c, batch)) FreeList(batch);
  cache.head[c] = rest;
  cache.count[c] -= kBatch;
}

}  // namespace

void* AllocateBlock(size_t size) {
  size_t c = ClassOf(size);
  if (c < kClasses) {
    Cache& cache = tl_cache;
    if (__builtin_expect(cache.head[c] == nullptr, 0)) Refill(cache, c);
    if (FreeBlockLink* b = cache.head[c]) {
      cache.head[c] = b->next;
      --cache.count[c];
      return b;
    }
    EnsureDrainer(cache);  // This thread now carves: retire its slab at exit.
    return Carve(c, cache.closed);
  }
  return ::operator new(size);
}

void FreeBlock(void* block, size_t size) noexcept {
  size_t c = ClassOf(size);
  Cache& cache = tl_cache;
  if (c < kClasses && !cache.closed) {
    EnsureDrainer(cache);  // This thread now holds blocks: drain them at exit.
    if (__builtin_expect(cache.count[c] == kMaxCachedPerClass, 0)) Spill(cache, c);
    auto* b = static_cast<FreeBlockLink*>(block);
    b->next = cache.head[c];
    cache.head[c] = b;
    ++cache.count[c];
    return;
  }
  if (c < kClasses) {
    ReleaseBlock(block);  // A closed cache (thread exit): straight back.
    return;
  }
  ::operator delete(block);
}

}  // namespace task
}  // namespace v0
}  // namespace nanorun

#else  // !NANORUN_BLOCK_CACHE

namespace nanorun {
inline namespace v0 {
namespace task {

// Sanitizer builds: every block is a plain allocation, so ASan and TSan see
// each allocation and free.
void* AllocateBlock(size_t size) { return ::operator new(size); }
void FreeBlock(void* block, size_t) noexcept { ::operator delete(block); }

}  // namespace task
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_BLOCK_CACHE
