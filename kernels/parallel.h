// Fork-join for the kernels: RunRanges(t, fn) runs fn(0..t−1) at once, fn(0) on the calling
// thread and the others on a persistent pool (workers spin briefly between calls, then sleep),
// so a layer of a few microseconds can still use every core. When the pool is busy (another
// caller, a nested call) or too small, the ranges run on fresh std::threads instead. Kernels
// split independent outputs only (rows of C, channel planes, element ranges), never a
// reduction, so a result never depends on the thread count or on who ran which range.
// fn must not throw. The pool has one worker per core but the caller's; QFARM_POOL_WORKERS=n
// (read once, at the first call) sets another number, 0 for none (every call on fresh threads).
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>

namespace qfarm::kernels {

void RunRanges(int t, const std::function<void(int)>& fn);

// fn(begin, end) over [0, count) split into at most `threads` contiguous ranges; `grain`: the
// smallest range worth a thread (ranges are multiples of it except the last).
template <typename Fn>
void ParallelFor(int64_t count, int threads, int64_t grain, Fn fn) {
  if (count <= 0) return;
  grain = std::max<int64_t>(1, grain);
  const int64_t blocks = (count + grain - 1) / grain;
  const int t = static_cast<int>(std::min<int64_t>(std::max(1, threads), blocks));
  if (t <= 1) {
    fn(int64_t{0}, count);
    return;
  }
  RunRanges(t, [&](int i) {
    const int64_t begin = blocks * i / t * grain, end = std::min(count, blocks * (i + 1) / t * grain);
    if (begin < end) fn(begin, end);
  });
}

}  // namespace qfarm::kernels
