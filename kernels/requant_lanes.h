// The float32/half-even requantization of 16 int32 lanes on AVX-512, shared by Requantizer's
// AVX-512 rows (requant.cc), the fused microkernels (qgemm/qgemm_avx512vnni.cc) and the
// small-plane depthwise loop (dwconv_small_avx512.cc).
//
// CVTDQ2PS, MULPS and CVTPS2DQ (half-even under the default MXCSR) are RowScalar's IEEE
// operations. RowScalar clamps the float to [qlo − zy − 1, qhi − zy + 1] and the integer to
// [qlo, qhi]; clamping the float to the exact bounds [qlo − zy, qhi − zy] (integers, exact in
// float) gives the same values, since a value rounding outside the range ends at the same end
// either way, and leaves no integer clamp to do. The result lies in [qlo, qhi], so VPMOVDB
// narrows it to the output byte exactly.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace qfarm::kernels {

struct RequantBounds512 {
  __m512 lo, hi;  // qlo − zy, qhi − zy
  __m512i zy;
};

__attribute__((target("avx512f"), always_inline)) inline RequantBounds512 MakeRequantBounds512(int32_t qlo,
                                                                                                int32_t qhi,
                                                                                                int32_t zy) {
  return {_mm512_set1_ps(static_cast<float>(qlo - zy)), _mm512_set1_ps(static_cast<float>(qhi - zy)),
          _mm512_set1_epi32(zy)};
}

// int32 lanes acc·m requantized: output values in [qlo, qhi], still as int32.
__attribute__((target("avx512f"), always_inline)) inline __m512i Requantize512(__m512i acc, __m512 m,
                                                                               const RequantBounds512& b) {
  const __m512 f = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(acc), m), b.lo), b.hi);
  return _mm512_add_epi32(_mm512_cvtps_epi32(f), b.zy);
}

// Two 16-lane int32 vectors requantized and packed to 32 bytes (RequantizePack512 below), with
// fewer operations than Requantize512 plus VPMOVDB: only the upper float clamp, to qhi − zy; VPACKSSDW, VPADDSW of zy and
// VPACKUSWB/VPACKSSWB then give clamp(r + zy, qlo, qhi) for r = round(f) exactly: r ≤ qhi − zy
// (rounding is monotonic and the bound an integer), r ≥ −32768 passes the 16-bit steps
// unchanged or saturates only below −32768 + 255 < qlo, and r < −32768 (CVTPS2DQ's
// 0x80000000 for values below −2³¹ included) saturates to −32768, below qlo too; so the
// byte pack's saturation is the clamp. A permutation of dwords undoes the packs' lane order.
struct PackBounds512 {
  __m512 hi;     // qhi − zy
  __m512i zy16;  // zy in 16-bit lanes
};
__attribute__((target("avx512f,avx512bw"), always_inline)) inline PackBounds512 MakePackBounds512(int32_t qhi,
                                                                                                  int32_t zy) {
  return {_mm512_set1_ps(static_cast<float>(qhi - zy)), _mm512_set1_epi16(static_cast<int16_t>(zy))};
}
// float(v)·m, clamped from above to qhi − zy. The clamp is there only for CVTPS2DQ: a float at
// or beyond 2^31 would come back as 0x80000000, below qlo. When every multiplier is below 1 in
// magnitude (FusedOutput::mult_below_one) no float gets there — |float(acc)| ≤ 2^31 and
// |m| ≤ 1 − 2^−24 keep the exact product within 2^31 − 128, a float — so r = round(f) is a
// valid int32 and the packs below saturate it alone: r ≥ qhi − zy ends at qhi whether or not
// VPACKSSDW or VPADDSW saturate first (32767 + zy ≥ qhi for every 8-bit zy). kClamp = false
// is that case.
template <bool kClamp>
__attribute__((target("avx512f,avx512bw"), always_inline)) inline __m512 ScaleClamp512(__m512i v, __m512 m,
                                                                                      const PackBounds512& bounds) {
  const __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(v), m);
  return kClamp ? _mm512_min_ps(f, bounds.hi) : f;
}
// The two 16-lane halves a and b requantized, their bytes in the low 32 of the result (a's
// first); kHalf: a only, its bytes in the low 16.
template <bool kSigned, bool kHalf = false, bool kClamp = true>
__attribute__((target("avx512f,avx512bw"), always_inline)) inline __m512i RequantizePack512(
    __m512i a, __m512i b, __m512 ma, __m512 mb, const PackBounds512& bounds) {
  a = _mm512_cvtps_epi32(ScaleClamp512<kClamp>(a, ma, bounds));
  if (!kHalf) b = _mm512_cvtps_epi32(ScaleClamp512<kClamp>(b, mb, bounds));
  // 128-bit lane L now holds words a[4L..4L+3], b[4L..4L+3]; after the byte pack, dword 4L is
  // a's bytes 4L..4L+3 and dword 4L+1 b's.
  __m512i p = _mm512_adds_epi16(_mm512_packs_epi32(a, kHalf ? a : b), bounds.zy16);
  p = kSigned ? _mm512_packs_epi16(p, p) : _mm512_packus_epi16(p, p);
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  return _mm512_permutexvar_epi32(order, p);
}

// One row's halves (lo: outputs 0..15, hi: 16..31) stored at out under mask k.
template <bool kSigned, bool kHalf, bool kClamp = true>
__attribute__((target("avx512f,avx512bw"), always_inline)) inline void RequantizeStore512(
    __m512i lo, __m512i hi, __m512 mlo, __m512 mhi, const PackBounds512& b, void* out, __mmask64 k) {
  _mm512_mask_storeu_epi8(out, k, RequantizePack512<kSigned, kHalf, kClamp>(lo, hi, mlo, mhi, b));
}

// Two rows of at most 16 outputs each (row0, row1, one multiplier vector m): row0's bytes to
// out0, row1's to out1, each under mask k — one pack for both.
template <bool kSigned, bool kClamp = true>
__attribute__((target("avx512f,avx512bw"), always_inline)) inline void RequantizeStoreRows512(
    __m512i row0, __m512i row1, __m512 m, const PackBounds512& b, uint8_t* out0, uint8_t* out1, __mmask16 k) {
  const __m512i p = RequantizePack512<kSigned, false, kClamp>(row0, row1, m, m, b);
  if (out1 == out0 + 16 && k == 0xffff) {  // adjacent whole rows (16 output channels): one store
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out0), _mm512_castsi512_si256(p));
    return;
  }
  _mm512_mask_storeu_epi8(out0, k, p);
  // Bytes 16..31 belong at out1: a masked store whose masked-off bytes are never touched.
  _mm512_mask_storeu_epi8(out1 - 16, static_cast<__mmask64>(k) << 16, p);
}

}  // namespace qfarm::kernels
