// What the Asio baselines share (asio_baseline.cc, asio_sync_baseline.cc):
// an io_context run by 2 threads, and the latches the main thread waits on.
#ifndef NANORUN_TOOLS_BENCH_ASIO_POOL_H_
#define NANORUN_TOOLS_BENCH_ASIO_POOL_H_

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "asio.hpp"

namespace bench {

// An io_context with 2 threads; work_guard keeps run() alive between posts.
class Pool {
 public:
  Pool() : guard_(asio::make_work_guard(ctx_)) {
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ctx_.run(); });
  }
  ~Pool() {
    guard_.reset();
    ctx_.stop();
    for (auto& t : threads_) t.join();
  }
  asio::io_context& ctx() { return ctx_; }

 private:
  asio::io_context ctx_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::vector<std::thread> threads_;
};

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

#endif  // NANORUN_TOOLS_BENCH_ASIO_POOL_H_
