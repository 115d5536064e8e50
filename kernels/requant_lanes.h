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

}  // namespace qfarm::kernels
