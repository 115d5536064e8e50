// AVX-512 VNNI (VPDPBUSD on 512-bit registers): 16 columns, four exact u8·s8 products per lane.
#include <immintrin.h>

#include "kernels/qgemm/qgemm.h"

namespace qfarm::kernels {

void qgemm_u8s8_8x16__avx512vnni(int mr, int64_t k4, const uint8_t* a, int64_t lda,
                                 const int8_t* b, int32_t* c, int64_t ldc) {
  __m512i acc[kMaxMr];
  for (int r = 0; r < kMaxMr; ++r) acc[r] = _mm512_setzero_si512();
  for (int64_t q = 0; q < k4; ++q) {
    const __m512i w = _mm512_loadu_si512(b + q * 64);
    for (int r = 0; r < mr; ++r) {
      int32_t a4;
      __builtin_memcpy(&a4, a + r * lda + 4 * q, 4);
      acc[r] = _mm512_dpbusd_epi32(acc[r], _mm512_set1_epi32(a4), w);
    }
  }
  for (int r = 0; r < mr; ++r) _mm512_storeu_si512(c + r * ldc, acc[r]);
}

}  // namespace qfarm::kernels
