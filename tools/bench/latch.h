// The latches the peer baselines' main threads wait on (Asio, oneTBB): a
// one-shot Done, and a Countdown that sets it at zero.
#ifndef NANORUN_TOOLS_BENCH_LATCH_H_
#define NANORUN_TOOLS_BENCH_LATCH_H_

#include <atomic>
#include <condition_variable>
#include <mutex>

namespace bench {

// A one-shot latch the main thread waits on.
class Done {
 public:
  void set() {
    std::lock_guard<std::mutex> l(mu_);
    done_ = true;
    cv_.notify_all();
  }
  void wait() {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [this] { return done_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
};

struct Countdown {
  explicit Countdown(long n) : left(n) {}
  void hit() {
    if (left.fetch_sub(1, std::memory_order_acq_rel) == 1) done.set();
  }
  std::atomic<long> left;
  Done done;
};

}  // namespace bench

#endif  // NANORUN_TOOLS_BENCH_LATCH_H_
