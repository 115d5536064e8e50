// AVX2: VPMADDUBSW (u8·s8 pairs, saturated to int16) then VPMADDWD by ones into int32. The
// saturation is real, so this kernel declares pair_sat16 (profile `avx2-u8s8`). The row count
// is a template parameter so the accumulators stay in registers.
#include <immintrin.h>

#include "kernels/qgemm/qgemm.h"
#include "kernels/qgemm/rows.h"

namespace qfarm::kernels {
namespace {

template <int MR>
void Tile(int64_t k4, const uint8_t* a, int64_t lda, const int8_t* b, int32_t* c, int64_t ldc) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i acc[MR];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) acc[r] = _mm256_setzero_si256();
  for (int64_t q = 0; q < k4; ++q) {
    const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + q * 32));
  #pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
      int32_t a4;
      __builtin_memcpy(&a4, a + r * lda + 4 * q, 4);
      const __m256i pairs = _mm256_maddubs_epi16(_mm256_set1_epi32(a4), w);  // saturating int16 pair sums
      acc[r] = _mm256_add_epi32(acc[r], _mm256_madd_epi16(pairs, ones));
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + r * ldc), acc[r]);
}

}  // namespace

void qgemm_u8s8_8x8__avx2(int mr, int64_t k4, const uint8_t* a, int64_t lda, const int8_t* b,
                          int32_t* c, int64_t ldc) {
  DispatchRows(mr, [&](auto rows) { Tile<decltype(rows)::value>(k4, a, lda, b, c, ldc); });
}

}  // namespace qfarm::kernels
