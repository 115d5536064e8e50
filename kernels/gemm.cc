#include "kernels/gemm.h"

#include <algorithm>
#include <cstring>
#include <thread>

namespace qfarm::kernels {
namespace {

#if defined(__x86_64__)
// The correction loops are plain integer code; one clone per vector width, picked at load time.
#define QFARM_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define QFARM_VECTOR_CLONES
#endif

// Per-column part of the correction, once per GEMM: bias − (128·signed + za)·Σw + K·za·zw,
// modulo 2^32 (with per-row zero points only bias − 128·signed·Σw; the za terms go per row).
std::vector<uint32_t> ColumnTerms(const GemmProblem& p) {
  const PackedWeights& b = *p.b;
  const uint32_t za = p.a_row_zero ? 0u : static_cast<uint32_t>(p.a_zero);
  const uint32_t offset = p.a_signed ? 128u : 0u;
  std::vector<uint32_t> t(static_cast<size_t>(b.n));
  for (int64_t n = 0; n < b.n; ++n) {
    const uint32_t colsum = static_cast<uint32_t>(b.col_sum[static_cast<size_t>(n)]);
    const uint32_t zw = static_cast<uint32_t>(p.b_zero ? p.b_zero[n] : 0);
    uint32_t v = p.bias ? static_cast<uint32_t>(p.bias[n]) : 0u;
    v -= (offset + za) * colsum;
    v += static_cast<uint32_t>(b.k) * za * zw;
    t[static_cast<size_t>(n)] = v;
  }
  return t;
}

bool AnyNonZero(const int32_t* v, int64_t n) {
  return v && std::any_of(v, v + n, [](int32_t x) { return x != 0; });
}

struct Corrections {
  const uint32_t* col_term;  // ColumnTerms
  const uint32_t* zw;        // per-column weight zero points, or nullptr when all are 0
  const uint32_t* col_sum;   // Σw per column (per-row zero points only)
  uint32_t k;
};

// tile[r][j] += col_term[j] − zw[j]·Σx_r (− za_r·Σw_j + K·za_r·zw_j with per-row zero points),
// modulo 2^32: Σ(x − za)(w − zw) + bias from the raw Σx·w (ARITHMETIC.md zp_fold=fold_after).
QFARM_VECTOR_CLONES void Correct(int32_t* tile, int64_t ld, int rows, int64_t cols, const Corrections& c,
                                 const int32_t* row_sum, const int32_t* row_za) {
  for (int r = 0; r < rows; ++r) {
    uint32_t* t = reinterpret_cast<uint32_t*>(tile + r * ld);
    const uint32_t rs = static_cast<uint32_t>(row_sum[r]);
    if (c.zw) {
      for (int64_t j = 0; j < cols; ++j) t[j] += c.col_term[j] - c.zw[j] * rs;
    } else {
      for (int64_t j = 0; j < cols; ++j) t[j] += c.col_term[j];
    }
    if (row_za) {
      const uint32_t za = static_cast<uint32_t>(row_za[r]);
      for (int64_t j = 0; j < cols; ++j) t[j] += za * (c.k * (c.zw ? c.zw[j] : 0u) - c.col_sum[j]);
    }
  }
}

// Rows [row_begin, row_end) of the product: A rows packed, each tile of at most kMaxMr rows ×
// nr columns computed, corrected and handed to the sink (or copied into C) while in L1.
void GemmRows(const QGemmKernel& kernel, const GemmProblem& p, const Corrections& corr, int64_t row_begin,
              int64_t row_end) {
  const PackedWeights& b = *p.b;
  const int64_t lda_packed = b.k4 * 4;
  std::vector<uint8_t> a_pack(p.a_packed ? 0 : static_cast<size_t>(kMaxMr * lda_packed), 0);
  std::vector<int32_t> row_sum(kMaxMr);
  std::vector<int32_t> tile(static_cast<size_t>(kMaxMr * b.nr));
  const int64_t panels = (b.n + b.nr - 1) / b.nr;
  for (int64_t m0 = row_begin; m0 < row_end; m0 += kMaxMr) {
    const int mr = static_cast<int>(std::min<int64_t>(kMaxMr, row_end - m0));
    const uint8_t* a_tile = a_pack.data();
    int64_t lda_tile = lda_packed;
    if (p.a_packed) {
      a_tile = static_cast<const uint8_t*>(p.a) + m0 * p.lda;
      lda_tile = p.lda;
      std::copy(p.a_row_sum + m0, p.a_row_sum + m0 + mr, row_sum.begin());
    } else {
      for (int r = 0; r < mr; ++r) {
        const void* src = static_cast<const uint8_t*>(p.a) + (m0 + r) * p.lda;
        row_sum[static_cast<size_t>(r)] = PackARow(src, p.a_signed, b.k, lda_packed, a_pack.data() + r * lda_packed);
      }
    }
    const int32_t* row_za = p.a_row_zero ? p.a_row_zero + m0 : nullptr;
    for (int64_t panel = 0; panel < panels; ++panel) {
      const int64_t n0 = panel * b.nr, cols = std::min<int64_t>(b.nr, b.n - n0);
      kernel.ukernel(mr, b.k4, a_tile, lda_tile, b.data.data() + panel * b.k4 * b.nr * 4, tile.data(), b.nr);
      const Corrections at{corr.col_term + n0, corr.zw ? corr.zw + n0 : nullptr, corr.col_sum + n0, corr.k};
      Correct(tile.data(), b.nr, mr, cols, at, row_sum.data(), row_za);
      if (p.sink) {
        (*p.sink)(CTile{m0, n0, mr, cols, tile.data(), b.nr});
        continue;
      }
      for (int r = 0; r < mr; ++r) {
        std::memcpy(p.c + (m0 + r) * p.ldc + n0, tile.data() + r * b.nr, static_cast<size_t>(cols) * sizeof(int32_t));
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
  const std::vector<uint32_t> col_term = ColumnTerms(p);
  const bool zw = AnyNonZero(p.b_zero, p.b->n);
  const Corrections corr{col_term.data(), zw ? reinterpret_cast<const uint32_t*>(p.b_zero) : nullptr,
                         reinterpret_cast<const uint32_t*>(p.b->col_sum.data()), static_cast<uint32_t>(p.b->k)};
  const int64_t work = p.m * p.b->n * p.b->k;
  const int64_t max_threads = std::max<int64_t>(1, (p.m + kMaxMr - 1) / kMaxMr);
  const int t = static_cast<int>(std::min<int64_t>({threads, max_threads, work / (1 << 18) + 1}));
  if (t <= 1) {
    GemmRows(kernel, p, corr, 0, p.m);
    return;
  }
  // Row blocks are multiples of the tile height so every output is computed by one thread.
  const int64_t tiles = (p.m + kMaxMr - 1) / kMaxMr;
  std::vector<std::thread> pool;
  for (int i = 0; i < t; ++i) {
    const int64_t begin = tiles * i / t * kMaxMr;
    const int64_t end = std::min<int64_t>(p.m, tiles * (i + 1) / t * kMaxMr);
    if (begin < end) pool.emplace_back([&kernel, &p, &corr, begin, end] { GemmRows(kernel, p, corr, begin, end); });
  }
  for (std::thread& th : pool) th.join();
}

}  // namespace qfarm::kernels
