// AVX-512 VNNI (VPDPBUSD on 512-bit registers): 32 columns as two registers per row, four exact
// u8·s8 products per int32 lane. The row count is a template parameter and the loops are
// unrolled so the 2·MR accumulators stay in registers (16 of the 32 zmm at MR = 8).
#include <immintrin.h>

#include <algorithm>
#include <type_traits>

#include "kernels/qgemm/qgemm.h"
#include "kernels/qgemm/rows.h"
#include "kernels/requant_lanes.h"

namespace qfarm::kernels {
namespace {

// kS8U8: A holds s8 rows and B u8 panels (VPDPBUSD's unsigned operand is then the panel);
// otherwise A holds u8 rows and B s8 panels. Either way every product is exact. With one or two
// rows a single chain per register would wait on VPDPBUSD's latency every k step, so those
// tiles keep kChains partial sums (k steps round-robin) and add them at the end — integer adds,
// so the total is the same in any order.
// One- and two-row tiles stream their panel once (GEMV): fetch it ahead.
// lo/hi come in holding the sums' starting values (integer adds: where a term is added cannot
// change the total) and leave holding the sums. kHalf: only the panel's first 16 columns.
constexpr int kPrefetchBytes = 2048;

// Where A's rows are: a + r·lda, or (indirect im2col) run pointers p[r·stride].
struct StridedRows {
  const uint8_t* a;
  int64_t lda;
  const uint8_t* operator()(int r) const { return a + r * lda; }
};
struct RowPointers {
  const uint8_t* const* p;
  int stride;
  const uint8_t* operator()(int r) const { return p[r * stride]; }
};

template <int MR, bool kS8U8 = false, bool kHalf = false, typename Rows = StridedRows>
inline __attribute__((always_inline)) void Accumulate(int64_t k4, Rows rows, const void* b, __m512i (&lo)[MR],
                                                      __m512i (&hi)[MR]) {
  constexpr int kChains = MR <= 2 ? 4 : 1;
  const uint8_t* bb = static_cast<const uint8_t*>(b);
  __m512i l[kChains][MR], h[kChains][MR];
#pragma GCC unroll 8
  for (int c = 0; c < kChains; ++c)
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      l[c][r] = c == 0 ? lo[r] : _mm512_setzero_si512();
      h[c][r] = c == 0 ? hi[r] : _mm512_setzero_si512();
    }
  auto step = [&](int c, int64_t q) __attribute__((always_inline)) {
    if (MR <= 2) {
      _mm_prefetch(reinterpret_cast<const char*>(bb + q * 128 + kPrefetchBytes), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(bb + q * 128 + kPrefetchBytes + 64), _MM_HINT_T0);
    }
    const __m512i w0 = _mm512_loadu_si512(bb + q * 128);
    const __m512i w1 = kHalf ? w0 : _mm512_loadu_si512(bb + q * 128 + 64);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      int32_t a4;
      __builtin_memcpy(&a4, rows(r) + 4 * q, 4);
      const __m512i x = _mm512_set1_epi32(a4);
      l[c][r] = kS8U8 ? _mm512_dpbusd_epi32(l[c][r], w0, x) : _mm512_dpbusd_epi32(l[c][r], x, w0);
      if (!kHalf) h[c][r] = kS8U8 ? _mm512_dpbusd_epi32(h[c][r], w1, x) : _mm512_dpbusd_epi32(h[c][r], x, w1);
    }
  };
  int64_t q = 0;
  for (; q + kChains <= k4; q += kChains) {
#pragma GCC unroll 4
    for (int c = 0; c < kChains; ++c) step(c, q + c);
  }
  for (; q < k4; ++q) step(0, q);
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    lo[r] = l[0][r];
    hi[r] = h[0][r];
#pragma GCC unroll 4
    for (int c = 1; c < kChains; ++c) {
      lo[r] = _mm512_add_epi32(lo[r], l[c][r]);
      hi[r] = _mm512_add_epi32(hi[r], h[c][r]);
    }
  }
}

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

// GCC 12 warns about the _mm512_undefined_* placeholders inside its own intrinsics (GCC bug
// 105593, a false positive); nothing of ours is uninitialized.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

inline __mmask16 LaneMask(int n) {
  return n >= 16 ? __mmask16{0xffff} : n <= 0 ? __mmask16{0} : static_cast<__mmask16>((1u << n) - 1);
}

// The output stage's per-panel values (qgemm.h FusedOutput), formed once per run of tiles:
// masks for the valid columns, the sums' per-column starting values (col_term, u8·s8 only),
// per-column multipliers (u8·s8) or col_factor (kRowFactor), and the pack bounds.
template <bool kSigned, bool kS8U8, bool kRowFactor, bool kHalf>
struct PanelStage {
  __mmask16 klo, khi;
  __mmask64 kout;
  __m512i start_lo, start_hi, cf_lo, cf_hi;
  __m512 mlo, mhi;
  PackBounds512 bounds;
  uint8_t* out;
  int64_t ldo;

  explicit PanelStage(const FusedOutput& o)
      : klo(LaneMask(o.cols)),
        khi(LaneMask(o.cols - 16)),
        kout(o.cols >= 32 ? __mmask64{0xffffffff} : (__mmask64{1} << o.cols) - 1),
        start_lo(kS8U8 ? _mm512_setzero_si512() : _mm512_maskz_loadu_epi32(klo, o.col_term)),
        start_hi(kS8U8 || kHalf ? _mm512_setzero_si512() : _mm512_maskz_loadu_epi32(khi, o.col_term + 16)),
        cf_lo(kRowFactor ? _mm512_maskz_loadu_epi32(klo, o.col_factor) : _mm512_setzero_si512()),
        cf_hi(kRowFactor && !kHalf ? _mm512_maskz_loadu_epi32(khi, o.col_factor + 16) : _mm512_setzero_si512()),
        mlo(kS8U8 ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(klo, o.mult)),
        mhi(kS8U8 || kHalf ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(khi, o.mult + 16)),
        bounds(MakePackBounds512(kSigned ? 127 : 255, o.zy)),
        out(static_cast<uint8_t*>(o.out)),
        ldo(o.ldo) {}
};

// The fused kernels' sums start from the correction terms that do not depend on the k loop —
// row_const (when set), and col_term (u8·s8) in start — and stay in registers through the k loop
// into the output stage. This file is built with -fno-tree-pre (kernels/CMakeLists.txt): with
// the k loop and the output stage in one function, GCC 12's partial-redundancy elimination
// otherwise copies every accumulator once per k step (a third slower).
struct SumStart {
  __m512i lo, hi;
  const int32_t* row_const;  // this tile's, or nullptr
};

template <int MR>
inline __attribute__((always_inline)) void InitSums(const SumStart& s, __m512i (&lo)[MR], __m512i (&hi)[MR]) {
  if (!s.row_const) {  // all zero (matmuls without weight zero points)
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      lo[r] = s.lo;
      hi[r] = s.hi;
    }
    return;
  }
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
    const __m512i rc = _mm512_set1_epi32(s.row_const[r]);
    lo[r] = _mm512_add_epi32(s.lo, rc);
    hi[r] = _mm512_add_epi32(s.hi, rc);
  }
}

// The output stage of the tile whose first row is row r0 of the block, from its sums: row_factor·col_factor
// where kRowFactor (integer adds wrapping as in kernels/gemm.cc Correct), then Requantizer's
// float32/half-even operations, packed to bytes (kernels/requant_lanes.h RequantizeStore512).
// kS8U8 (convolutions): per-row multipliers; otherwise (matmuls) per-column ones. kClamp: false
// when every multiplier is below 1 (no float clamp needed, kernels/requant_lanes.h ScaleClamp512).
template <int MR, bool kSigned, bool kS8U8, bool kRowFactor, bool kHalf, bool kClamp>
inline __attribute__((always_inline)) void Epilogue(const __m512i (&sum_lo)[MR], const __m512i (&sum_hi)[MR],
                                                    const PanelStage<kSigned, kS8U8, kRowFactor, kHalf>& ps,
                                                    const FusedOutput& o, int r0) {
  uint8_t* out = ps.out + r0 * ps.ldo;
  int r = 0;
  if (kHalf && !kS8U8 && !kRowFactor) {  // matmul rows of at most 16 columns in pairs: one pack per two rows
#pragma GCC unroll 8
    for (; r + 2 <= MR; r += 2) {
      RequantizeStoreRows512<kSigned, kClamp>(sum_lo[r], sum_lo[r + 1], ps.mlo, ps.bounds, out + r * ps.ldo,
                                              out + (r + 1) * ps.ldo, ps.klo);
    }
  }
#pragma GCC unroll 16
  for (; r < MR; ++r) {
    const __m512 mlo = kS8U8 ? _mm512_set1_ps(o.mult[r0 + r]) : ps.mlo;
    const __m512 mhi = kS8U8 ? mlo : ps.mhi;
    __m512i lo = sum_lo[r], hi = kHalf ? lo : sum_hi[r];
    if (kRowFactor) {
      const __m512i f = _mm512_set1_epi32(o.row_factor[r0 + r]);
      lo = _mm512_add_epi32(lo, _mm512_mullo_epi32(f, ps.cf_lo));
      if (!kHalf) hi = _mm512_add_epi32(hi, _mm512_mullo_epi32(f, ps.cf_hi));
    }
    RequantizeStore512<kSigned, kHalf, kClamp>(lo, hi, mlo, mhi, ps.bounds, out + r * ps.ldo, ps.kout);
  }
}

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

// The same over indirect rows: `segments` runs of seg_k4 k-quads per row, B's k in run order.
template <int MR, bool kSigned, bool kHalf, bool kClamp>
__attribute__((noinline)) void TileRunIndirect(int tiles, int r0, int segments, int64_t seg_k4,
                                               const uint8_t* const* rows, const void* b, const FusedOutput& o) {
  const PanelStage<kSigned, false, false, kHalf> ps(o);
  for (int t = 0; t < tiles; ++t, r0 += MR) {
    __m512i lo[MR], hi[MR];
    InitSums<MR>(SumStart{ps.start_lo, ps.start_hi, o.row_const ? o.row_const + r0 : nullptr}, lo, hi);
    for (int seg = 0; seg < segments; ++seg) {
      Accumulate<MR, false, kHalf>(seg_k4, RowPointers{rows + r0 * segments + seg, segments},
                                   static_cast<const uint8_t*>(b) + seg * seg_k4 * 128, lo, hi);
    }
    Epilogue<MR, kSigned, false, false, kHalf, kClamp>(lo, hi, ps, o, r0);
  }
}

// f(kSigned, kHalf, kClamp), each a std::bool_constant, for the output stage o describes: signed
// output, at most 16 valid columns, and the float clamp unless kMayDropClamp and every
// multiplier is below 1 (the s8·u8 form's per-row multipliers are not checked, so it keeps it).
template <bool kMayDropClamp, typename F>
inline void DispatchStage(const FusedOutput& o, F f) {
  auto clamp = [&](auto is_signed, auto half) {
    if constexpr (kMayDropClamp) {
      if (o.mult_below_one) return f(is_signed, half, std::false_type{});
    }
    f(is_signed, half, std::true_type{});
  };
  auto half = [&](auto is_signed) { o.cols <= 16 ? clamp(is_signed, std::true_type{}) : clamp(is_signed, std::false_type{}); };
  o.out_signed ? half(std::true_type{}) : half(std::false_type{});
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
  ForEachRun(0, mr, [&](auto tile_rows, int tiles, int r0) {
    DispatchStage<true>(o, [&](auto is_signed, auto half, auto clamp) {
      TileRunIndirect<decltype(tile_rows)::value, is_signed, half, clamp>(tiles, r0, segments, seg_k4, rows, b, o);
    });
  });
}

void qgemm_s8u8_8x32_requant__avx512vnni(int mr, int64_t k4, const int8_t* a, int64_t lda, const uint8_t* b,
                                         const FusedOutput& o) {
  o.row_factor ? Requant<true, true>(mr, k4, a, lda, b, o) : Requant<true, false>(mr, k4, a, lda, b, o);
}

}  // namespace qfarm::kernels
