// AVX2: VPMADDUBSW (u8·s8 pairs, saturated to int16) then VPMADDWD by ones into int32. The
// saturation is real, so this kernel declares pair_sat16 (profile `avx2-u8s8`).
#include <immintrin.h>

#include "kernels/qgemm/qgemm.h"

namespace qfarm::kernels {

void qgemm_u8s8_8x8__avx2(int mr, int64_t k4, const uint8_t* a, int64_t lda, const int8_t* b,
                          int32_t* c, int64_t ldc) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i acc[kMaxMr];
  for (int r = 0; r < kMaxMr; ++r) acc[r] = _mm256_setzero_si256();
  for (int64_t q = 0; q < k4; ++q) {
    const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + q * 32));
    for (int r = 0; r < mr; ++r) {
      int32_t a4;
      __builtin_memcpy(&a4, a + r * lda + 4 * q, 4);
      const __m256i x = _mm256_set1_epi32(a4);
      const __m256i pairs = _mm256_maddubs_epi16(x, w);  // saturating int16 pair sums
      acc[r] = _mm256_add_epi32(acc[r], _mm256_madd_epi16(pairs, ones));
    }
  }
  for (int r = 0; r < mr; ++r) _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + r * ldc), acc[r]);
}

}  // namespace qfarm::kernels
