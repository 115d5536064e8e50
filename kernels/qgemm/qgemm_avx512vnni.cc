// AVX-512 VNNI (VPDPBUSD on 512-bit registers): 32 columns as two registers per row, four exact
// u8·s8 products per int32 lane. The row count is a template parameter and the loops are
// unrolled so the 2·MR accumulators stay in registers (16 of the 32 zmm at MR = 8).
#include <immintrin.h>

#include <algorithm>
#include <type_traits>

#include "kernels/qgemm/avx512_tile.h"
#include "kernels/qgemm/qgemm.h"
#include "kernels/qgemm/rows.h"

namespace qfarm::kernels {
namespace {

template <int MR>
__attribute__((noinline)) void Tile(int64_t k4, const void* a, int64_t lda, const void* b, int32_t* c, int64_t ldc) {
  __m512i lo[MR], hi[MR];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) lo[r] = hi[r] = _mm512_setzero_si512();
  Accumulate<MR>(k4, StridedRows{static_cast<const uint8_t*>(a), lda}, b, lo, hi);
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    _mm512_storeu_si512(c + r * ldc, lo[r]);
    _mm512_storeu_si512(c + r * ldc + 16, hi[r]);
  }
}

// GCC 12's false warnings inside its intrinsics (avx512_tile.h).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

// `tiles` tiles of MR rows from row r0 of the block, each its k loop then its output stage; the
// panel's values formed once for all of them.
template <int MR, bool kSigned, bool kS8U8, bool kRowFactor, bool kHalf, bool kClamp>
__attribute__((noinline)) void TileRun(int tiles, int r0, int64_t k4, const uint8_t* a, int64_t lda, const void* b,
                                       const FusedOutput& o) {
  const PanelStage<kSigned, kS8U8, kRowFactor, kHalf> ps(o);
  for (int t = 0; t < tiles; ++t, r0 += MR) {
    __m512i lo[MR], hi[MR];
    InitSums<MR>(SumStart{ps.start_lo, ps.start_hi, o.row_const ? o.row_const + r0 : nullptr}, lo, hi);
    Accumulate<MR, kS8U8, kHalf>(k4, StridedRows{a + r0 * lda, lda}, b, lo, hi);
    Epilogue<MR, kSigned, kS8U8, kRowFactor, kHalf, kClamp>(lo, hi, ps, o, r0);
  }
}

// The same over rows given as `segments` runs of seg_k4 k-quads, B's k in run order:
// runs(s, r0) gives run s of the rows from r0 on (RowPointers or StridedRows); kWide: the rows
// may be wide (FusedOutput::wide_period).
template <int MR, bool kSigned, bool kHalf, bool kClamp, bool kWide, typename Runs>
__attribute__((noinline)) void TileRunSegments(int tiles, int r0, int segments, int64_t seg_k4, Runs runs,
                                               const void* b, const FusedOutput& o) {
  const PanelStage<kSigned, false, false, kHalf> ps(o);
  for (int t = 0; t < tiles; ++t, r0 += MR) {
    __m512i lo[MR], hi[MR];
    InitSums<MR>(SumStart{ps.start_lo, ps.start_hi, o.row_const ? o.row_const + r0 : nullptr}, lo, hi);
    for (int seg = 0; seg < segments; ++seg) {
      Accumulate<MR, false, kHalf>(seg_k4, runs(seg, r0), static_cast<const uint8_t*>(b) + seg * seg_k4 * 128, lo, hi);
    }
    Epilogue<MR, kSigned, false, false, kHalf, kClamp, kWide>(lo, hi, ps, o, r0);
  }
}

// Short-k tiles (k4 ≤ qgemm.h kShortK4: pointwise layers of at most 32 input channels). With so few k
// steps the tile's set-up and output stage cost as much as its k loop, so here k is a template
// parameter and fully unrolled, taller tiles give more independent sums, and one call runs
// `tiles` tiles into the same output stage as the other tiles (Epilogue). Rows are
// dense (lda = 4·K4, as pointwise inputs read in place and packed rows are); u8·s8 only, with
// nothing per row (row_const null). kHalf: panels of at most 16 valid columns. kClamp: false when
// every multiplier is below 1 (no float clamp needed, kernels/requant_lanes.h ScaleClamp512):
// the output stage is as long as the k loop here, and the clamp is 7–9% of these layers.
template <bool kHalf>
constexpr int kShortMr = kHalf ? 16 : 12;  // 16 or 24 sums, of 32 registers
static_assert(kShortKRows % kShortMr<true> == 0 && kShortKRows % kShortMr<false> == 0);

template <int K4, bool kSigned, bool kHalf, bool kClamp>
__attribute__((noinline)) void ShortKTiles(int tiles, const uint8_t* a, const void* b, const FusedOutput& o) {
  constexpr int MR = kShortMr<kHalf>;
  constexpr int64_t lda = 4 * K4;
  const PanelStage<kSigned, false, false, kHalf> ps(o);
  const uint8_t* bb = static_cast<const uint8_t*>(b);
  for (int t = 0, r0 = 0; t < tiles; ++t, r0 += MR, a += MR * lda) {
    __m512i lo[MR], hi[MR];
    InitSums<MR>(SumStart{ps.start_lo, ps.start_hi, nullptr}, lo, hi);
#pragma GCC unroll 8
    for (int q = 0; q < K4; ++q) {
      const __m512i w0 = _mm512_loadu_si512(bb + q * 128);
      const __m512i w1 = kHalf ? w0 : _mm512_loadu_si512(bb + q * 128 + 64);
#pragma GCC unroll 16
      for (int r = 0; r < MR; ++r) {
        int32_t a4;
        __builtin_memcpy(&a4, a + r * lda + 4 * q, 4);
        const __m512i x = _mm512_set1_epi32(a4);
        lo[r] = _mm512_dpbusd_epi32(lo[r], x, w0);
        if (!kHalf) hi[r] = _mm512_dpbusd_epi32(hi[r], x, w1);
      }
    }
    Epilogue<MR, kSigned, false, false, kHalf, kClamp>(lo, hi, ps, o, r0);
  }
}

// Rows [0, mr) through ShortKTiles where they apply; returns how many rows it covered (whole
// tiles, from the first row).
int ShortKRows(int mr, int64_t k4, const void* a, int64_t lda, const void* b, const FusedOutput& o) {
  const int tile = o.cols <= 16 ? kShortMr<true> : kShortMr<false>;
  if (k4 > kShortK4 || lda != 4 * k4 || o.row_const || mr < tile) return 0;
  const int tiles = mr / tile;
  const uint8_t* rows = static_cast<const uint8_t*>(a);
  auto run = [&](auto k4_constant) {
    DispatchStage<true>(o, [&](auto is_signed, auto half, auto clamp) {
      ShortKTiles<decltype(k4_constant)::value, is_signed, half, clamp>(tiles, rows, b, o);
    });
  };
  switch (k4) {
    case 1: run(std::integral_constant<int, 1>{}); break;
    case 2: run(std::integral_constant<int, 2>{}); break;
    case 3: run(std::integral_constant<int, 3>{}); break;
    case 4: run(std::integral_constant<int, 4>{}); break;
    case 5: run(std::integral_constant<int, 5>{}); break;
    case 6: run(std::integral_constant<int, 6>{}); break;
    case 7: run(std::integral_constant<int, 7>{}); break;
    default: run(std::integral_constant<int, 8>{}); break;
  }
  return tiles * tile;
}

// Rows [r_begin, mr) of a block as near-equal tiles of at most kMaxMr rows (the first ones one
// row taller), in order: at most two runs, one call each. No division per tile: this runs for
// every block of short layers.
template <typename Run>
inline void ForEachRun(int r_begin, int mr, Run run) {
  const int n = mr - r_begin;
  if (n <= 0) return;
  const int tiles = (n + kMaxMr - 1) / kMaxMr, base = n / tiles, extra = n % tiles;
  if (extra) DispatchRows(base + 1, [&](auto rows) { run(rows, extra, r_begin); });
  DispatchRows(base, [&](auto rows) { run(rows, tiles - extra, r_begin + extra * (base + 1)); });
}

template <bool kS8U8, bool kRowFactor>
void RequantRows(int r_begin, int mr, int64_t k4, const void* a, int64_t lda, const void* b, const FusedOutput& o) {
  const uint8_t* rows = static_cast<const uint8_t*>(a);
  ForEachRun(r_begin, mr, [&](auto tile_rows, int tiles, int r0) {
    DispatchStage<!kS8U8>(o, [&](auto is_signed, auto half, auto clamp) {
      TileRun<decltype(tile_rows)::value, is_signed, kS8U8, kRowFactor, half, clamp>(tiles, r0, k4, rows, lda, b, o);
    });
  });
}

template <bool kS8U8, bool kRowFactor>
void Requant(int mr, int64_t k4, const void* a, int64_t lda, const void* b, const FusedOutput& o) {
  // GEMV tiles (mr ≤ kMaxMr): nothing else first.
  const int done = kS8U8 || kRowFactor || mr <= kMaxMr ? 0 : ShortKRows(mr, k4, a, lda, b, o);
  if (done < mr) RequantRows<kS8U8, kRowFactor>(done, mr, k4, a, lda, b, o);
}

#pragma GCC diagnostic pop

}  // namespace

void qgemm_u8s8_8x32__avx512vnni(int mr, int64_t k4, const uint8_t* a, int64_t lda,
                                 const int8_t* b, int32_t* c, int64_t ldc) {
  DispatchRows(mr, [&](auto rows) { Tile<decltype(rows)::value>(k4, a, lda, b, c, ldc); });
}

void qgemm_u8s8_8x32_requant__avx512vnni(int mr, int64_t k4, const uint8_t* a, int64_t lda, const int8_t* b,
                                         const FusedOutput& o) {
  Requant<false, false>(mr, k4, a, lda, b, o);
}

void qgemm_u8s8_8x32_requant_indirect__avx512vnni(int mr, int segments, int64_t seg_k4, const uint8_t* const* rows,
                                                  const int8_t* b, const FusedOutput& o) {
  auto runs = [=](int seg, int r0) { return RowPointers{rows + r0 * segments + seg, segments}; };
  ForEachRun(0, mr, [&](auto tile_rows, int tiles, int r0) {
    DispatchStage<true>(o, [&](auto is_signed, auto half, auto clamp) {
      TileRunSegments<decltype(tile_rows)::value, is_signed, half, clamp, false>(tiles, r0, segments, seg_k4, runs, b, o);
    });
  });
}

void qgemm_u8s8_8x32_requant_segments__avx512vnni(int mr, int segments, int64_t seg_k4, const uint8_t* const* base,
                                                  int64_t lda, const int8_t* b, const FusedOutput& o) {
  auto runs = [=](int seg, int r0) { return StridedRows{base[seg] + r0 * lda, lda}; };
  ForEachRun(0, mr, [&](auto tile_rows, int tiles, int r0) {
    DispatchStage<true>(o, [&](auto is_signed, auto half, auto clamp) {
      TileRunSegments<decltype(tile_rows)::value, is_signed, half, clamp, true>(tiles, r0, segments, seg_k4, runs, b, o);
    });
  });
}

void qgemm_s8u8_8x32_requant__avx512vnni(int mr, int64_t k4, const int8_t* a, int64_t lda, const uint8_t* b,
                                         const FusedOutput& o) {
  o.row_factor ? Requant<true, true>(mr, k4, a, lda, b, o) : Requant<true, false>(mr, k4, a, lda, b, o);
}

}  // namespace qfarm::kernels
