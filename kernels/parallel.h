// A tiny fork-join helper for the kernels: runs fn(begin, end) over [0, count) split into at
// most `threads` contiguous ranges on std::threads (the calling thread takes the first). Kernels
// split independent outputs only (rows of C, channel planes, element ranges), never a reduction,
// so a result never depends on the thread count. fn must not throw.
#pragma once

#include <algorithm>
#include <cstdint>
#include <thread>
#include <vector>

namespace qfarm::kernels {

// `grain`: the smallest range worth a thread (ranges are multiples of it except the last).
template <typename Fn>
void ParallelFor(int64_t count, int threads, int64_t grain, Fn fn) {
  if (count <= 0) return;
  grain = std::max<int64_t>(1, grain);
  const int64_t blocks = (count + grain - 1) / grain;
  const int64_t t = std::min<int64_t>(std::max(1, threads), blocks);
  if (t <= 1) {
    fn(int64_t{0}, count);
    return;
  }
  std::vector<std::thread> pool;
  for (int64_t i = 1; i < t; ++i) {
    const int64_t begin = blocks * i / t * grain, end = std::min(count, blocks * (i + 1) / t * grain);
    if (begin < end) pool.emplace_back([&fn, begin, end] { fn(begin, end); });
  }
  fn(int64_t{0}, std::min(count, blocks / t * grain));
  for (std::thread& th : pool) th.join();
}

}  // namespace qfarm::kernels
