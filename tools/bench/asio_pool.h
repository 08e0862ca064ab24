// What the Asio baselines share (asio_baseline.cc, asio_sync_baseline.cc):
// an io_context run by --workers threads (2 by default; the latches are in latch.h).
#ifndef NANORUN_TOOLS_BENCH_ASIO_POOL_H_
#define NANORUN_TOOLS_BENCH_ASIO_POOL_H_

#include <thread>
#include <vector>

#include "asio.hpp"
#include "tools/bench/latch.h"
#include "tools/bench/report.h"

namespace bench {

// An io_context with g_workers threads; work_guard keeps run() alive between posts.
class Pool {
 public:
  Pool() : guard_(asio::make_work_guard(ctx_)) {
    for (int i = 0; i < g_workers; ++i) threads_.emplace_back([this] { ctx_.run(); });
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

}  // namespace bench

#endif  // NANORUN_TOOLS_BENCH_ASIO_POOL_H_
