// Tells ThreadSanitizer about an ordering it cannot see: one that runs
// through the kernel. A thread queues an io_uring request naming an object
// it just wrote, the kernel completes it, and another thread reads the
// completion and touches the object. The ring's acquire/release pairs order
// this for real, but TSan sees no edge between the two threads' user-space
// accesses. HappensBefore(p) on the writer and HappensAfter(p) on the reader
// draw that edge. Both compile to nothing without TSan.
#ifndef NANORUN_SYS_HAPPENS_BEFORE_H_
#define NANORUN_SYS_HAPPENS_BEFORE_H_

#if defined(__SANITIZE_THREAD__)
#define NANORUN_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define NANORUN_TSAN 1
#endif
#endif

#ifdef NANORUN_TSAN
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
#endif

namespace nanorun {
inline namespace v0 {
namespace sys {

inline void HappensBefore(void* addr) {
#ifdef NANORUN_TSAN
  __tsan_release(addr);
#else
  (void)addr;
#endif
}

inline void HappensAfter(void* addr) {
#ifdef NANORUN_TSAN
  __tsan_acquire(addr);
#else
  (void)addr;
#endif
}

}  // namespace sys
}  // namespace v0
}  // namespace nanorun

#endif  // NANORUN_SYS_HAPPENS_BEFORE_H_
