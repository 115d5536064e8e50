// AVX-512 VNNI (VPDPBUSD on 512-bit registers): 32 columns as two registers per row, four exact
// u8·s8 products per int32 lane. The row count is a template parameter and the loops are
// unrolled so the 2·MR accumulators stay in registers (16 of the 32 zmm at MR = 8).
#include <immintrin.h>

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
constexpr int kPrefetchBytes = 2048;

template <int MR, bool kS8U8 = false>
inline __attribute__((always_inline)) void Accumulate(int64_t k4, const void* a, int64_t lda, const void* b,
                                                      __m512i (&lo)[MR], __m512i (&hi)[MR]) {
  constexpr int kChains = MR <= 2 ? 4 : 1;
  const uint8_t* ab = static_cast<const uint8_t*>(a);
  const uint8_t* bb = static_cast<const uint8_t*>(b);
  __m512i l[kChains][MR], h[kChains][MR];
#pragma GCC unroll 8
  for (int c = 0; c < kChains; ++c)
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) l[c][r] = h[c][r] = _mm512_setzero_si512();
  auto step = [&](int c, int64_t q) __attribute__((always_inline)) {
    if (MR <= 2) {
      _mm_prefetch(reinterpret_cast<const char*>(bb + q * 128 + kPrefetchBytes), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(bb + q * 128 + kPrefetchBytes + 64), _MM_HINT_T0);
    }
    const __m512i w0 = _mm512_loadu_si512(bb + q * 128);
    const __m512i w1 = _mm512_loadu_si512(bb + q * 128 + 64);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      int32_t a4;
      __builtin_memcpy(&a4, ab + r * lda + 4 * q, 4);
      const __m512i x = _mm512_set1_epi32(a4);
      l[c][r] = kS8U8 ? _mm512_dpbusd_epi32(l[c][r], w0, x) : _mm512_dpbusd_epi32(l[c][r], x, w0);
      h[c][r] = kS8U8 ? _mm512_dpbusd_epi32(h[c][r], w1, x) : _mm512_dpbusd_epi32(h[c][r], x, w1);
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

template <int MR, bool kS8U8 = false>
__attribute__((noinline)) void Tile(int64_t k4, const void* a, int64_t lda, const void* b, int32_t* c, int64_t ldc) {
  __m512i lo[MR], hi[MR];
  Accumulate<MR, kS8U8>(k4, a, lda, b, lo, hi);
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

// One 16-column half of a row: the correction (integer adds wrapping as in kernels/gemm.cc
// Correct), then Requantizer's float32/half-even operations (kernels/requant_lanes.h).
// kS8U8 (convolutions): per-row multipliers, row_factor·col_factor when kRowFactor, no col_term;
// otherwise (matmuls): col_term and per-column multipliers, no row_factor.
template <bool kSigned, bool kS8U8, bool kRowFactor>
inline __attribute__((always_inline)) void Finish(__m512i v, int r, int j0, __mmask16 k, const FusedOutput& o,
                                                  __m512 m) {
  v = _mm512_add_epi32(v, _mm512_set1_epi32(o.row_const[r]));
  if (!kS8U8) v = _mm512_add_epi32(v, _mm512_maskz_loadu_epi32(k, o.col_term + j0));
  if (kRowFactor) {
    v = _mm512_add_epi32(v, _mm512_mullo_epi32(_mm512_set1_epi32(o.row_factor[r]),
                                               _mm512_maskz_loadu_epi32(k, o.col_factor + j0)));
  }
  const RequantBounds512 bounds = MakeRequantBounds512(kSigned ? -128 : 0, kSigned ? 127 : 255, o.zy);
  _mm512_mask_cvtepi32_storeu_epi8(static_cast<uint8_t*>(o.out) + r * o.ldo + j0, k, Requantize512(v, m, bounds));
}

template <int MR, bool kSigned, bool kS8U8, bool kRowFactor>
void TileRequant(int64_t k4, const void* a, int64_t lda, const void* b, const FusedOutput& o) {
  // The sums go through an L1 buffer: with the epilogue in the same register allocation GCC 12
  // copies every accumulator once per k step (16 extra moves in the inner loop).
  alignas(64) int32_t c[MR][32];
  Tile<MR, kS8U8>(k4, a, lda, b, &c[0][0], 32);
  const __mmask16 klo = o.cols >= 16 ? __mmask16{0xffff} : static_cast<__mmask16>((1u << o.cols) - 1);
  const __mmask16 khi = o.cols >= 32 ? __mmask16{0xffff}
                        : o.cols > 16 ? static_cast<__mmask16>((1u << (o.cols - 16)) - 1)
                                      : __mmask16{0};
  __m512 mlo = _mm512_setzero_ps(), mhi = _mm512_setzero_ps();
  if (!kS8U8) {
    mlo = _mm512_maskz_loadu_ps(klo, o.mult);
    mhi = _mm512_maskz_loadu_ps(khi, o.mult + 16);
  }
  if (khi) {
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      if (kS8U8) mlo = mhi = _mm512_set1_ps(o.mult[r]);
      Finish<kSigned, kS8U8, kRowFactor>(_mm512_load_si512(c[r]), r, 0, klo, o, mlo);
      Finish<kSigned, kS8U8, kRowFactor>(_mm512_load_si512(c[r] + 16), r, 16, khi, o, mhi);
    }
    return;
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    if (kS8U8) mlo = _mm512_set1_ps(o.mult[r]);
    Finish<kSigned, kS8U8, kRowFactor>(_mm512_load_si512(c[r]), r, 0, klo, o, mlo);
  }
}

template <bool kS8U8, bool kRowFactor>
void Requant(int mr, int64_t k4, const void* a, int64_t lda, const void* b, const FusedOutput& o) {
  DispatchRows(mr, [&](auto rows) {
    constexpr int R = decltype(rows)::value;
    o.out_signed ? TileRequant<R, true, kS8U8, kRowFactor>(k4, a, lda, b, o)
                 : TileRequant<R, false, kS8U8, kRowFactor>(k4, a, lda, b, o);
  });
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

void qgemm_s8u8_8x32_requant__avx512vnni(int mr, int64_t k4, const int8_t* a, int64_t lda, const uint8_t* b,
                                         const FusedOutput& o) {
  o.row_factor ? Requant<true, true>(mr, k4, a, lda, b, o) : Requant<true, false>(mr, k4, a, lda, b, o);
}

}  // namespace qfarm::kernels
