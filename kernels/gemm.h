// The integer GEMM driver: packs weights once, packs activation rows, tiles the output over a
// microkernel (qgemm/qgemm.h) and applies the zero-point and bias corrections, all in int32
// with wrap-around — equal to reference/'s DotAccumulate under acc_bits=32, acc_overflow=wrap
// (and pair_sat16 when the kernel saturates pairs). Threads split output rows only, never the
// k reduction, so results do not depend on the thread count.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "common/no_init_allocator.h"
#include "kernels/qgemm/qgemm.h"

namespace qfarm::kernels {

// B [K × N] int8 packed for a kernel of width nr, with its raw column sums Σ_k w[k][n].
struct PackedWeights {
  int64_t k = 0, k4 = 0, n = 0;
  int nr = 0;
  std::vector<int8_t, NoInitAllocator<int8_t>> data;  // every byte written by whoever packs it
  std::vector<int32_t> col_sum;
};

// w(k, n) reads element (k, n) of B from any layout.
template <typename Reader>
PackedWeights PackWeights(int64_t k, int64_t n, int nr, Reader w) {
  PackedWeights p;
  p.k = k;
  p.k4 = (k + 3) / 4;
  p.n = n;
  p.nr = nr;
  const int64_t panels = (n + nr - 1) / nr;
  p.data.assign(static_cast<size_t>(panels * p.k4 * nr * 4), 0);
  p.col_sum.assign(static_cast<size_t>(n), 0);
  for (int64_t j = 0; j < n; ++j) {
    const int64_t panel = j / nr, col = j % nr;
    for (int64_t kk = 0; kk < k; ++kk) {
      const int8_t v = w(kk, j);
      p.data[static_cast<size_t>(((panel * p.k4 + kk / 4) * nr + col) * 4 + kk % 4)] = v;
      p.col_sum[static_cast<size_t>(j)] += v;
    }
  }
  return p;
}

// A finished block of C, already corrected (zero points, bias) and wrapped to int32: rows
// [m0, m0 + rows) × columns [n0, n0 + cols), element (r, j) at data[r·ld + j].
struct CTile {
  int64_t m0, n0;
  int rows;
  int64_t cols;
  const int32_t* data;
  int64_t ld;
};
// Consumes tiles while they are in L1 (requantization, layout changes). Called from the GEMM's
// threads, each tile exactly once, so it must only write the tile's own outputs.
using TileSink = std::function<void(const CTile&)>;

// Requantization fused into the microkernel (kernels whose QGemmKernel::fused is set, and only
// when one weight zero point serves every column and za is per-tensor): float32 multipliers,
// half-even, 8-bit outputs; element (m, n) goes to out[m·ldo + n]. Same bytes as a sink running
// Requantizer.
struct FusedRequant {
  const float* mult;  // per column of the whole product
  int32_t zy;
  bool out_signed;
  uint8_t* out;
  int64_t ldo;
  bool mult_below_one = false;  // Requantizer::MultipliersBelowOne
  // Rows are wide (qgemm.h FusedOutput::wide_period): row p's output is row (p / wide_period)·
  // wide_valid + p % wide_period of out, none where p % wide_period ≥ wide_valid.
  int64_t wide_period = 0;
  int64_t wide_valid = 0;
};

struct GemmProblem {
  int64_t m = 0;
  const void* a = nullptr;  // [m × k] activations, row stride lda
  int64_t lda = 0;
  bool a_signed = false;    // int8 activations (offset by +128 internally)
  int32_t a_zero = 0;       // activation zero point
  const int32_t* a_row_zero = nullptr;  // per-row zero points (MatMulInteger), or nullptr
  // A already in the microkernels' form (im2col writes it so): uint8 rows of lda ≥ 4·ceil(k/4)
  // bytes, int8 values offset by +128, zero bytes after k, and a_row_sum[r] = Σ_k of the
  // original (un-offset) values modulo 2^32. a_signed still says what the values were.
  bool a_packed = false;
  const int32_t* a_row_sum = nullptr;
  // Or rows made on demand, a row tile at a time (im2col straight into L1): a_rows(m0, rows, dst,
  // row_sum) writes rows [m0, m0 + rows) in the packed form above, dst row stride 4·ceil(k/4).
  const std::function<void(int64_t m0, int rows, uint8_t* dst, int32_t* row_sum)>* a_rows = nullptr;
  // Or, where the kernel has a fused indirect form (QGemmKernel::fused_indirect) and the fused
  // output applies, rows as runs read in place: a_runs(m0, rows, ptrs) sets ptrs[r·segments + s]
  // to run s (seg_k4·4 bytes) of row m0 + r. uint8 A with no weight zero point only (no row sums).
  struct RowRuns {
    int segments;
    int64_t seg_k4;
    std::function<void(int64_t m0, int rows, const uint8_t** ptrs)> fn;
  };
  const RowRuns* a_runs = nullptr;
  // Or, where the kernel has a fused segments form (QGemmKernel::fused_segments) and the fused
  // output applies, rows of a padded plane read in place: row r's run s (seg_k4·4 bytes) at
  // base[s] + r·lda, s < segments ≤ kMaxSegments. uint8 A with no weight zero point only.
  struct RowSegments {
    int segments;
    int64_t seg_k4;
    const uint8_t* base[kMaxSegments];
    int64_t lda;
  };
  const RowSegments* a_segments = nullptr;
  // Or, with a_segments' segments and seg_k4 (its base and lda unused), several such runs of
  // rows in one call, each with its own bases, row stride and output (qgemm.h SegmentPiece; its
  // out replaces fused->out, m is unused): on one thread, through the kernel's pieces form where
  // it has one, else piece by piece. Only where the segments form applies (no weight zero point,
  // uint8 A, no per-row terms), as a_segments.
  const SegmentPiece* a_pieces = nullptr;
  int a_piece_count = 0;
  const PackedWeights* b = nullptr;
  const int32_t* b_zero = nullptr;  // per-column weight zero points, or nullptr (all 0)
  const int32_t* bias = nullptr;    // per-column int32 bias, or nullptr
  const int32_t* row_bias = nullptr;  // per-row int32 bias, or nullptr
  int32_t* c = nullptr;             // [m × n] output, row stride ldc (unused with a sink)
  int64_t ldc = 0;
  const TileSink* sink = nullptr;   // when set, receives every tile instead of c
  const FusedRequant* fused = nullptr;  // preferred over the sink where the kernel can
  // Walk column panels outermost (packed A only): B streams through once while the rows of A,
  // fewer and reused by every panel, stay in cache; threads then split panels, not rows.
  bool columns_outer = false;
};

// C = Σ_k (a − za)(w − zw) + bias, wrapped to int32. `threads` ≥ 1.
void QGemm(const QGemmKernel& kernel, const GemmProblem& p, int threads);

// Copies row `src` (k values, int8 when is_signed) into the packed form: +128 for int8, zeros up
// to `padded_k`; returns Σ of the original values modulo 2^32 (as int32). src may be dst (the
// row is then packed in place).
int32_t PackARow(const void* src, bool is_signed, int64_t k, int64_t padded_k, uint8_t* dst);

}  // namespace qfarm::kernels
