#include "kernels/gemm.h"

#include <algorithm>
#include <cstring>

#include "kernels/parallel.h"
#include "kernels/vector_clones.h"

namespace qfarm::kernels {
namespace {

// Rows per fused kernel call when A needs no packing per tile (the kernel loops over them in
// tiles of kMaxMr): short-k layers would otherwise pay the per-call set-up every 8 rows. 256
// rather than 64: the ResNet 3×3 +2%, the 14×14 pointwise layers and the large GEMM +1–2%
// (three alternating runs), fewer calls and the row pointers built in longer runs.
constexpr int kFusedRows = 256;
// Short k (qgemm.h kShortK4) takes kShortKRows rows per call instead, cut into pieces of exactly
// that many (the last shorter) so that only the last piece leaves rows to the 8-row tiles; the
// B panel is at most 1 KiB, so a short last piece costs nothing to speak of.
constexpr int kMaxFusedRows = std::max(kFusedRows, kShortKRows);

// B this small stays in one core's L2 (2 MiB on the AMX parts) beside A and the output, so every
// thread can hold all of it (QGemm's split between threads).
constexpr int64_t kBFitsL2 = int64_t{1} << 20;

// t[n] = base·colsum[n] + (bias ? bias[n] : 0) + (zw ? step·zw[n] : 0) for n in [c0, c1),
// modulo 2^32, in passes the compiler vectorizes (one clone per vector width).
QFARM_VECTOR_CLONES void ColumnTermsOver(const int32_t* colsum, const int32_t* bias, const int32_t* zw, uint32_t base,
                                         uint32_t step, int64_t c0, int64_t c1, uint32_t* t) {
  for (int64_t n = c0; n < c1; ++n) t[n] = base * static_cast<uint32_t>(colsum[n]);
  if (bias) {
    for (int64_t n = c0; n < c1; ++n) t[n] += static_cast<uint32_t>(bias[n]);
  }
  if (zw && step) {
    for (int64_t n = c0; n < c1; ++n) t[n] += step * static_cast<uint32_t>(zw[n]);
  }
}

// Per-column part of the correction for columns [c0, c1) into t (indexed by column): bias −
// (128·signed + za)·Σw + K·za·zw, modulo 2^32 (with per-row zero points only bias −
// 128·signed·Σw; the za terms go per row). Each thread forms the columns it covers, once per
// call: the 1×768→3072 GEMV's 1,536 columns a thread took 1,400–2,200 TSC cycles in a scalar
// loop, about 6% of its two-thread call.
void ColumnTerms(const GemmProblem& p, int64_t c0, int64_t c1, uint32_t* t) {
  const PackedWeights& b = *p.b;
  const uint32_t za = p.a_row_zero ? 0u : static_cast<uint32_t>(p.a_zero);
  const uint32_t offset = p.a_signed ? 128u : 0u;
  ColumnTermsOver(b.col_sum.data(), p.bias, p.b_zero, 0u - (offset + za), static_cast<uint32_t>(b.k) * za, c0, c1, t);
}

// Whether z[0..n) are all equal (no early exit, so that it vectorizes).
QFARM_VECTOR_CLONES bool AllEqual(const int32_t* z, int64_t n) {
  int32_t differ = 0;
  for (int64_t i = 0; i < n; ++i) differ |= z[i] ^ z[0];
  return differ == 0;
}

struct Corrections {
  const uint32_t* col_term;  // ColumnTerms, for the columns the range covers
  const uint32_t* zw;        // per-column weight zero points, or nullptr when all equal zw_all
  uint32_t zw_all;
  const uint32_t* col_sum;   // Σw per column (per-row zero points only)
  uint32_t k;
};

// tile[r][j] += col_term[j] − zw[j]·Σx_r + bias_r − za_r·Σw_j + K·za_r·zw_j (per-row zero points
// and bias when given), modulo 2^32: Σ(x − za)(w − zw) + bias from the raw Σx·w (ARITHMETIC.md
// zp_fold=fold_after). With one weight zero point for every column the row terms fold into one
// constant per row, so the common cases are one pass of one or two vector adds.
template <bool kZwPerColumn, bool kRowZa>
QFARM_VECTOR_CLONES void CorrectRows(uint32_t* tile, int64_t ld, int rows, int64_t cols, const Corrections& c,
                                     const int32_t* row_sum, const int32_t* row_za, const int32_t* row_bias) {
  for (int r = 0; r < rows; ++r) {
    uint32_t* t = tile + r * ld;
    const uint32_t rs = static_cast<uint32_t>(row_sum[r]);
    const uint32_t za = kRowZa ? static_cast<uint32_t>(row_za[r]) : 0u;
    uint32_t rc = row_bias ? static_cast<uint32_t>(row_bias[r]) : 0u;
    if (!kZwPerColumn) rc += za * c.k * c.zw_all - c.zw_all * rs;
    for (int64_t j = 0; j < cols; ++j) {
      uint32_t v = t[j] + rc + c.col_term[j];
      if (kZwPerColumn) v += za * c.k * c.zw[j] - c.zw[j] * rs;
      if (kRowZa) v -= za * c.col_sum[j];
      t[j] = v;
    }
  }
}

void Correct(int32_t* tile, int64_t ld, int rows, int64_t cols, const Corrections& c, const int32_t* row_sum,
             const int32_t* row_za, const int32_t* row_bias) {
  uint32_t* t = reinterpret_cast<uint32_t*>(tile);
  if (c.zw) {
    row_za ? CorrectRows<true, true>(t, ld, rows, cols, c, row_sum, row_za, row_bias)
           : CorrectRows<true, false>(t, ld, rows, cols, c, row_sum, row_za, row_bias);
  } else {
    row_za ? CorrectRows<false, true>(t, ld, rows, cols, c, row_sum, row_za, row_bias)
           : CorrectRows<false, false>(t, ld, rows, cols, c, row_sum, row_za, row_bias);
  }
}

// The fused output description of rows [m0, m0 + mr) × `panels` column panels from `panel`: the
// per-row parts of Correct (one weight zero point for all columns, per-tensor za) become
// row_const.
FusedOutput FusedTileOutput(const GemmProblem& p, const Corrections& corr, int64_t m0, int mr,
                            const int32_t* row_sum, int64_t panel, int32_t* row_const, int64_t panels = 1) {
  const PackedWeights& b = *p.b;
  const FusedRequant& f = *p.fused;
  const int64_t n0 = panel * b.nr;
  bool any = false;
  // Nothing per row without a row bias or a weight zero point (symmetric weights): no loop.
  const bool rows_vary = p.row_bias || (row_sum && corr.zw_all != 0);
  for (int r = 0; rows_vary && r < mr; ++r) {
    uint32_t rc = p.row_bias ? static_cast<uint32_t>(p.row_bias[m0 + r]) : 0u;
    if (row_sum) rc -= corr.zw_all * static_cast<uint32_t>(row_sum[r]);
    row_const[r] = static_cast<int32_t>(rc);
    any = any || rc != 0;
  }
  uint8_t* const out = f.wide_period ? f.out + n0 : f.out + m0 * f.ldo + n0;  // wide: rows mapped from m0
  return FusedOutput{any ? row_const : nullptr, nullptr, reinterpret_cast<const int32_t*>(corr.col_term + n0), nullptr,
                     f.mult + n0, f.zy, f.out_signed, out, f.ldo,
                     static_cast<int>(std::min<int64_t>(panels * b.nr, b.n - n0)), f.mult_below_one,
                     m0, f.wide_period, f.wide_valid};
}

// The u8·s8 fused form adds per-column terms only: one weight zero point, per-tensor za.
bool FusesOutput(const QGemmKernel& kernel, const GemmProblem& p, const Corrections& corr) {
  return p.fused && kernel.fused && !corr.zw && !p.a_row_zero;
}

// Rows [m0, m0 + mr) × panels [panel_begin, panel_end) in one call of the kernel's fused panels
// form (rows outermost inside it).
void FusedPanels(const QGemmKernel& kernel, const GemmProblem& p, const Corrections& corr, int64_t m0, int mr,
                 const uint8_t* a_tile, int64_t lda_tile, const int32_t* row_sum, int64_t panel_begin,
                 int64_t panel_end) {
  const PackedWeights& b = *p.b;
  int32_t row_const[kMaxFusedRows];
  const FusedOutput o = FusedTileOutput(p, corr, m0, mr, row_sum, panel_begin, row_const, panel_end - panel_begin);
  kernel.fused_panels(mr, b.k4, a_tile, lda_tile, b.data.data() + panel_begin * b.k4 * b.nr * 4,
                      static_cast<int>(panel_end - panel_begin), o);
}

// A tile through the kernel's fused u8·s8 output stage.
void FusedTile(const QGemmKernel& kernel, const GemmProblem& p, const Corrections& corr, int64_t m0, int mr,
               const uint8_t* a_tile, int64_t lda_tile, const int32_t* row_sum, int64_t panel) {
  const PackedWeights& b = *p.b;
  int32_t row_const[kMaxFusedRows];
  const FusedOutput o = FusedTileOutput(p, corr, m0, mr, row_sum, panel, row_const);
  kernel.fused(mr, b.k4, a_tile, lda_tile, b.data.data() + panel * b.k4 * b.nr * 4, o);
}

// One tile: rows [m0, m0 + mr) of packed A (row sums in row_sum) times one column panel, corrected
// and handed to the sink (or copied into C) while in L1.
void Tile(const QGemmKernel& kernel, const GemmProblem& p, const Corrections& corr, int64_t m0, int mr,
          const uint8_t* a_tile, int64_t lda_tile, const int32_t* row_sum, int64_t panel, int32_t* tile) {
  const PackedWeights& b = *p.b;
  const int64_t n0 = panel * b.nr, cols = std::min<int64_t>(b.nr, b.n - n0);
  if (FusesOutput(kernel, p, corr)) {
    return FusedTile(kernel, p, corr, m0, mr, a_tile, lda_tile, row_sum, panel);
  }
  kernel.ukernel(mr, b.k4, a_tile, lda_tile, b.data.data() + panel * b.k4 * b.nr * 4, tile, b.nr);
  const Corrections at{corr.col_term + n0, corr.zw ? corr.zw + n0 : nullptr, corr.zw_all, corr.col_sum + n0, corr.k};
  Correct(tile, b.nr, mr, cols, at, row_sum, p.a_row_zero ? p.a_row_zero + m0 : nullptr,
          p.row_bias ? p.row_bias + m0 : nullptr);
  if (p.sink) {
    (*p.sink)(CTile{m0, n0, mr, cols, tile, b.nr});
    return;
  }
  for (int r = 0; r < mr; ++r) {
    std::memcpy(p.c + (m0 + r) * p.ldc + n0, tile + r * b.nr, static_cast<size_t>(cols) * sizeof(int32_t));
  }
}

// Whether rows can go through the indirect fused form (GemmProblem::a_runs).
bool UsesRuns(const QGemmKernel& kernel, const GemmProblem& p, const Corrections& corr) {
  return p.a_runs && kernel.fused_indirect && p.fused && !corr.zw && corr.zw_all == 0 && !p.a_row_zero &&
         !p.a_signed;
}

// Whether rows can go through the fused segments form (GemmProblem::a_segments).
bool UsesSegments(const QGemmKernel& kernel, const GemmProblem& p, const Corrections& corr) {
  return p.a_segments && kernel.fused_segments && p.fused && !corr.zw && corr.zw_all == 0 && !p.a_row_zero &&
         !p.a_signed;
}

// [row_begin, row_end) cut into pieces of at most `step` rows and near-equal size: 49 rows with
// step 8 are 7 pieces of 7, 300 rows with step 256 two of 150 — never a sliver at the end, which
// costs a B panel's whole traffic for one or two rows (the fused kernels cut a piece into
// near-equal tiles of at most kMaxMr rows the same way). With `align` > 1 (a kernel's
// QGemmKernel::row_block) every piece but the last is a multiple of it.
template <typename Fn>
void ForEachRowPiece(int64_t row_begin, int64_t row_end, int64_t step, Fn fn, int64_t align = 1) {
  const int64_t rows = row_end - row_begin, units = (rows + align - 1) / align;
  const int64_t pieces = (units + step / align - 1) / (step / align);
  for (int64_t i = 0; i < pieces; ++i) {
    const int64_t m0 = row_begin + align * (units * i / pieces);
    const int64_t m1 = std::min(row_end, row_begin + align * (units * (i + 1) / pieces));
    fn(m0, static_cast<int>(m1 - m0));
  }
}

// Rows [row_begin, row_end) × panels [panel_begin, panel_end) through the indirect fused form,
// up to kFusedRows rows per call.
void GemmRangeRuns(const QGemmKernel& kernel, const GemmProblem& p, const Corrections& corr, int64_t row_begin,
                   int64_t row_end, int64_t panel_begin, int64_t panel_end) {
  const PackedWeights& b = *p.b;
  const GemmProblem::RowRuns& runs = *p.a_runs;
  thread_local std::vector<const uint8_t*> ptrs;
  ptrs.resize(static_cast<size_t>(kFusedRows * runs.segments));
  int32_t row_const[kFusedRows];
  ForEachRowPiece(
      row_begin, row_end, kFusedRows,
      [&](int64_t m0, int mr) {
        runs.fn(m0, mr, ptrs.data());
        for (int64_t panel = panel_begin; panel < panel_end; ++panel) {
          const FusedOutput o = FusedTileOutput(p, corr, m0, mr, nullptr, panel, row_const);
          kernel.fused_indirect(mr, runs.segments, runs.seg_k4, ptrs.data(), b.data.data() + panel * b.k4 * b.nr * 4, o);
        }
      },
      kernel.row_block);
}

// GemmProblem::a_pieces × panels [panel_begin, panel_end): one call of the kernel's pieces form,
// else each piece as rows of its own.
void SegmentPieces(const QGemmKernel& kernel, const GemmProblem& p, const Corrections& corr, int64_t panel_begin,
                   int64_t panel_end) {
  const PackedWeights& b = *p.b;
  const GemmProblem::RowSegments& segs = *p.a_segments;
  const int panels = static_cast<int>(panel_end - panel_begin);
  const int8_t* panel = b.data.data() + panel_begin * b.k4 * b.nr * 4;
  int32_t row_const[1];  // unused: no per-row terms in the segments form's problems (UsesSegments)
  if (kernel.fused_segment_pieces) {
    const FusedOutput o = FusedTileOutput(p, corr, 0, 0, nullptr, panel_begin, row_const, panels);
    return kernel.fused_segment_pieces(p.a_pieces, p.a_piece_count, segs.segments, segs.seg_k4, panel, panels, o);
  }
  for (int64_t q = 0; q < panels; ++q) {
    FusedOutput po = FusedTileOutput(p, corr, 0, 0, nullptr, panel_begin + q, row_const);
    for (int i = 0; i < p.a_piece_count; ++i) {
      const SegmentPiece& piece = p.a_pieces[i];
      po.out = piece.out + q * b.nr;
      kernel.fused_segments(piece.rows, segs.segments, segs.seg_k4, piece.base, piece.lda, panel + q * b.k4 * b.nr * 4,
                            po);
    }
  }
}

// Rows [row_begin, row_end) × panels [panel_begin, panel_end) through the fused segments form:
// the kernel's panels form in one call (it keeps nothing per row, and its last block's output
// stage, the one no tile products overlap, then runs once instead of once per piece: the ResNet
// 3×3 76–80 → 73–74 µs), else up to kFusedRows rows per call and panel.
void GemmRangeSegments(const QGemmKernel& kernel, const GemmProblem& p, const Corrections& corr, int64_t row_begin,
                       int64_t row_end, int64_t panel_begin, int64_t panel_end) {
  const PackedWeights& b = *p.b;
  const GemmProblem::RowSegments& segs = *p.a_segments;
  int32_t row_const[kFusedRows];
  const uint8_t* base[kMaxSegments];
  auto bases = [&](int64_t m0) {
    for (int s = 0; s < segs.segments; ++s) base[s] = segs.base[s] + m0 * segs.lda;
  };
  if (p.a_pieces) return SegmentPieces(kernel, p, corr, panel_begin, panel_end);
  if (kernel.fused_segments_panels && !p.row_bias) {  // row_const stays unused (no per-row terms)
    const int mr = static_cast<int>(row_end - row_begin);
    bases(row_begin);
    const FusedOutput o =
        FusedTileOutput(p, corr, row_begin, mr, nullptr, panel_begin, row_const, panel_end - panel_begin);
    return kernel.fused_segments_panels(mr, segs.segments, segs.seg_k4, base, segs.lda,
                                        b.data.data() + panel_begin * b.k4 * b.nr * 4,
                                        static_cast<int>(panel_end - panel_begin), o);
  }
  ForEachRowPiece(
      row_begin, row_end, kFusedRows,
      [&](int64_t m0, int mr) {
        bases(m0);
        for (int64_t panel = panel_begin; panel < panel_end; ++panel) {
          const FusedOutput o = FusedTileOutput(p, corr, m0, mr, nullptr, panel, row_const);
          kernel.fused_segments(mr, segs.segments, segs.seg_k4, base, segs.lda,
                                b.data.data() + panel * b.k4 * b.nr * 4, o);
        }
      },
      kernel.row_block);
}

// Rows [row_begin, row_end) × panels [panel_begin, panel_end) of the product, A rows packed per
// tile of kMaxMr rows unless A comes packed.
void GemmRange(const QGemmKernel& kernel, const GemmProblem& p, const Corrections& corr, int64_t row_begin,
               int64_t row_end, int64_t panel_begin, int64_t panel_end) {
  const PackedWeights& b = *p.b;
  // Scratch kept per thread between calls (QGemm never nests): layers of a few microseconds
  // would otherwise spend a good part of them in malloc.
  thread_local std::vector<int32_t> tile;
  tile.resize(static_cast<size_t>(kMaxMr * b.nr));
  if (p.a_packed && p.columns_outer) {
    const uint8_t* a = static_cast<const uint8_t*>(p.a);
    for (int64_t panel = panel_begin; panel < panel_end; ++panel) {
      ForEachRowPiece(row_begin, row_end, kMaxMr, [&](int64_t m0, int mr) {
        Tile(kernel, p, corr, m0, mr, a + m0 * p.lda, p.lda, p.a_row_sum + m0, panel, tile.data());
      });
    }
    return;
  }
  const int64_t lda_packed = b.k4 * 4;
  // uint8 rows whose k is a multiple of 4 are already in the kernels' form; their sums only
  // matter when some weight zero point is nonzero.
  const bool in_place = !p.a_rows && !p.a_packed && !p.a_signed && b.k == lda_packed && !corr.zw && corr.zw_all == 0;
  thread_local std::vector<uint8_t> a_pack;
  a_pack.resize(p.a_packed || in_place ? 0 : static_cast<size_t>(kMaxMr * lda_packed));
  const bool wide = (p.a_packed || in_place) && p.fused && kernel.fused && !corr.zw && !p.a_row_zero;
  const bool short_k = wide && b.k4 <= kShortK4;
  const int step = short_k ? kShortKRows : wide ? kFusedRows : kMaxMr;
  thread_local std::vector<int32_t> row_sum;
  row_sum.assign(static_cast<size_t>(step), 0);
  auto piece = [&](int64_t m0, int mr) {
    const uint8_t* a_tile = a_pack.data();
    int64_t lda_tile = lda_packed;
    if (p.a_rows) {
      (*p.a_rows)(m0, mr, a_pack.data(), row_sum.data());
    } else if (p.a_packed) {
      a_tile = static_cast<const uint8_t*>(p.a) + m0 * p.lda;
      lda_tile = p.lda;
      std::copy(p.a_row_sum + m0, p.a_row_sum + m0 + mr, row_sum.begin());
    } else if (in_place) {
      a_tile = static_cast<const uint8_t*>(p.a) + m0 * p.lda;
      lda_tile = p.lda;
    } else {
      for (int r = 0; r < mr; ++r) {
        const void* src = static_cast<const uint8_t*>(p.a) + (m0 + r) * p.lda;
        row_sum[static_cast<size_t>(r)] = PackARow(src, p.a_signed, b.k, lda_packed, a_pack.data() + r * lda_packed);
      }
    }
    if (kernel.fused_panels && FusesOutput(kernel, p, corr)) {
      return FusedPanels(kernel, p, corr, m0, mr, a_tile, lda_tile, row_sum.data(), panel_begin, panel_end);
    }
    for (int64_t panel = panel_begin; panel < panel_end; ++panel) {
      Tile(kernel, p, corr, m0, mr, a_tile, lda_tile, row_sum.data(), panel, tile.data());
    }
  };
  if (!short_k) return ForEachRowPiece(row_begin, row_end, step, piece, wide ? kernel.row_block : 1);
  for (int64_t m0 = row_begin; m0 < row_end; m0 += step) piece(m0, static_cast<int>(std::min<int64_t>(step, row_end - m0)));
}

}  // namespace

int32_t PackARow(const void* src, bool is_signed, int64_t k, int64_t padded_k, uint8_t* dst) {
  uint32_t sum = 0;
  if (is_signed) {
    const int8_t* x = static_cast<const int8_t*>(src);
    for (int64_t i = 0; i < k; ++i) {
      const int8_t v = x[i];  // read once: src may be dst
      dst[i] = static_cast<uint8_t>(static_cast<uint8_t>(v) ^ 0x80u);  // x + 128
      sum += static_cast<uint32_t>(int32_t{v});
    }
  } else {
    const uint8_t* x = static_cast<const uint8_t*>(src);
    for (int64_t i = 0; i < k; ++i) {
      const uint8_t v = x[i];
      dst[i] = v;
      sum += v;
    }
  }
  for (int64_t i = k; i < padded_k; ++i) dst[i] = 0;
  return static_cast<int32_t>(sum);
}

void QGemm(const QGemmKernel& kernel, const GemmProblem& p, int threads) {
  const int64_t n = p.b->n;
  const bool uniform = !p.b_zero || AllEqual(p.b_zero, n);
  const Corrections corr{nullptr, uniform ? nullptr : reinterpret_cast<const uint32_t*>(p.b_zero),
                         uniform && p.b_zero && n > 0 ? static_cast<uint32_t>(p.b_zero[0]) : 0u,
                         reinterpret_cast<const uint32_t*>(p.b->col_sum.data()), static_cast<uint32_t>(p.b->k)};
  const int64_t work = p.m * p.b->n * p.b->k;
  const int64_t panels = (p.b->n + p.b->nr - 1) / p.b->nr, tiles = (p.m + kMaxMr - 1) / kMaxMr;
  // Panels when they are walked outermost, when there are fewer row tiles than threads (a GEMV
  // has one: each thread then packs the few A rows itself), and when B is the larger operand and
  // there are enough panels to share: each thread then streams only its part of B through its
  // cache, and A, the smaller, is read by all. Except, for a kernel with a row block (AMX), where
  // B fits one core's L2 anyway and every thread gets two blocks or more: each block's A rows
  // then meet all the panels from L1 (the 128×768×768 GEMM on two threads 20.0–20.5 → 19.0–19.6
  // µs, medians of 18–30; the AVX-512 VNNI kernel, with no row block, was slower split by rows,
  // 103 → 110). Where B does not fit (BERT's feed-forward GEMMs) rows were 25–60% slower.
  const int64_t b_bytes = p.b->k4 * 4 * p.b->n;
  const bool rows_fit = kernel.row_block > 1 && b_bytes <= kBFitsL2 && p.m >= 2 * kernel.row_block * threads;
  const bool b_larger = b_bytes > 2 * p.m * p.b->k4 * 4 && panels >= 4 * threads && !rows_fit;
  // A kernel with a row block (AMX: two groups of 16 tile rows) runs a thread's rows short of one
  // group on the VNNI loop: give each thread all rows and a share of the panels instead. (Split
  // where a thread got fewer than two whole blocks, as until session 19, the 7×7 960→160 layer's
  // 49 rows on two threads ran at 2,270 G ops/s; split by rows, 24 and 25 a thread, each ending
  // in an overlapping tile (qgemm_amx.cc OnTiles), at 2,610–2,790 — also above its single
  // thread, 2,650–2,710 — and 960→320 at 3,760–3,890 against 3,730–3,820.)
  const bool few_blocks = threads > 1 && kernel.row_block > 1 && p.m < kernel.row_block / 2 * threads &&
                          panels >= threads;
  const bool split_panels = (p.a_packed && p.columns_outer) || (tiles < threads && panels > tiles) ||
                            (threads > 1 && (b_larger || few_blocks) && !p.a_rows && !p.a_runs && !p.a_segments);
  const int64_t units = split_panels ? panels : tiles;
  const int t = p.a_pieces ? 1  // pieces run on the calling thread (GemmProblem::a_pieces)
                            : static_cast<int>(std::max<int64_t>(1, std::min<int64_t>({threads, units, work / (1 << 18) + 1})));
  // Each thread takes whole row tiles (or whole panels), so every output has one writer.
  const auto gemm_range = UsesSegments(kernel, p, corr) ? GemmRangeSegments
                          : UsesRuns(kernel, p, corr)   ? GemmRangeRuns
                                                        : GemmRange;
  auto range = [&](int i) {
    const int64_t begin = units * i / t, end = units * (i + 1) / t;
    const int64_t c0 = split_panels ? begin * p.b->nr : 0, c1 = split_panels ? std::min(n, end * p.b->nr) : n;
    thread_local std::vector<uint32_t> col_term;  // indexed by column; this range's columns filled
    col_term.resize(static_cast<size_t>(n));
    ColumnTerms(p, c0, c1, col_term.data());
    Corrections mine = corr;
    mine.col_term = col_term.data();
    if (split_panels) {
      gemm_range(kernel, p, mine, 0, p.m, begin, end);
    } else {
      gemm_range(kernel, p, mine, begin * kMaxMr, std::min<int64_t>(p.m, end * kMaxMr), 0, panels);
    }
    if (kernel.release) kernel.release();
  };
  RunRanges(t, range);
}

}  // namespace qfarm::kernels
