#include "kernels/gemm.h"

#include <algorithm>
#include <thread>

namespace qfarm::kernels {
namespace {

// Rows [row_begin, row_end) of the product, packed and corrected.
void GemmRows(const QGemmKernel& kernel, const GemmProblem& p, int64_t row_begin, int64_t row_end) {
  const PackedWeights& b = *p.b;
  const int64_t lda_packed = b.k4 * 4;
  std::vector<uint8_t> a_pack(p.a_packed ? 0 : static_cast<size_t>(kMaxMr * lda_packed), 0);
  std::vector<int32_t> row_sum(kMaxMr);
  std::vector<int32_t> tile(static_cast<size_t>(kMaxMr * b.nr));
  const int64_t panels = (b.n + b.nr - 1) / b.nr;
  const size_t esize = 1;
  for (int64_t m0 = row_begin; m0 < row_end; m0 += kMaxMr) {
    const int mr = static_cast<int>(std::min<int64_t>(kMaxMr, row_end - m0));
    const uint8_t* a_tile = nullptr;
    int64_t lda_tile = lda_packed;
    if (p.a_packed) {
      a_tile = static_cast<const uint8_t*>(p.a) + m0 * p.lda;
      lda_tile = p.lda;
      for (int r = 0; r < mr; ++r) row_sum[static_cast<size_t>(r)] = p.a_row_sum[m0 + r];
    } else {
      for (int r = 0; r < mr; ++r) {
        const void* src = static_cast<const uint8_t*>(p.a) + static_cast<size_t>((m0 + r) * p.lda) * esize;
        row_sum[static_cast<size_t>(r)] = PackARow(src, p.a_signed, b.k, lda_packed, a_pack.data() + r * lda_packed);
      }
      a_tile = a_pack.data();
    }
    for (int64_t panel = 0; panel < panels; ++panel) {
      kernel.ukernel(mr, b.k4, a_tile, lda_tile, b.data.data() + panel * b.k4 * b.nr * 4,
                     tile.data(), b.nr);
      const int64_t cols = std::min<int64_t>(b.nr, b.n - panel * b.nr);
      for (int r = 0; r < mr; ++r) {
        const uint32_t za = static_cast<uint32_t>(p.a_row_zero ? p.a_row_zero[m0 + r] : p.a_zero);
        for (int64_t j = 0; j < cols; ++j) {
          const int64_t n = panel * b.nr + j;
          const uint32_t colsum = static_cast<uint32_t>(b.col_sum[static_cast<size_t>(n)]);
          const uint32_t zw = static_cast<uint32_t>(p.b_zero ? p.b_zero[n] : 0);
          // Σx·w − 128·Σw (offset) − za·Σw − zw·Σx + K·za·zw + bias, modulo 2^32.
          uint32_t v = static_cast<uint32_t>(tile[static_cast<size_t>(r * b.nr + j)]);
          if (p.a_signed) v -= 128u * colsum;
          v -= za * colsum;
          v -= zw * static_cast<uint32_t>(row_sum[static_cast<size_t>(r)]);
          v += static_cast<uint32_t>(b.k) * za * zw;
          if (p.bias) v += static_cast<uint32_t>(p.bias[n]);
          p.c[(m0 + r) * p.ldc + n] = static_cast<int32_t>(v);
        }
      }
    }
  }
}

}  // namespace

int32_t PackARow(const void* src, bool is_signed, int64_t k, int64_t padded_k, uint8_t* dst) {
  uint32_t sum = 0;
  if (is_signed) {
    const int8_t* x = static_cast<const int8_t*>(src);
    for (int64_t i = 0; i < k; ++i) {
      dst[i] = static_cast<uint8_t>(static_cast<uint8_t>(x[i]) ^ 0x80u);  // x + 128
      sum += static_cast<uint32_t>(int32_t{x[i]});
    }
  } else {
    const uint8_t* x = static_cast<const uint8_t*>(src);
    for (int64_t i = 0; i < k; ++i) {
      dst[i] = x[i];
      sum += x[i];
    }
  }
  for (int64_t i = k; i < padded_k; ++i) dst[i] = 0;
  return static_cast<int32_t>(sum);
}

void QGemm(const QGemmKernel& kernel, const GemmProblem& p, int threads) {
  const int64_t work = p.m * p.b->n * p.b->k;
  const int64_t max_threads = std::max<int64_t>(1, (p.m + kMaxMr - 1) / kMaxMr);
  const int t = static_cast<int>(std::min<int64_t>({threads, max_threads, work / (1 << 18) + 1}));
  if (t <= 1) {
    GemmRows(kernel, p, 0, p.m);
    return;
  }
  // Row blocks are multiples of the tile height so every output is computed by one thread.
  const int64_t tiles = (p.m + kMaxMr - 1) / kMaxMr;
  std::vector<std::thread> pool;
  for (int i = 0; i < t; ++i) {
    const int64_t begin = tiles * i / t * kMaxMr;
    const int64_t end = std::min<int64_t>(p.m, tiles * (i + 1) / t * kMaxMr);
    if (begin < end) pool.emplace_back([&kernel, &p, begin, end] { GemmRows(kernel, p, begin, end); });
  }
  for (std::thread& th : pool) th.join();
}

}  // namespace qfarm::kernels
