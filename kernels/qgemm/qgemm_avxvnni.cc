// AVX-VNNI (VEX VPDPBUSD on 256-bit registers): four exact u8·s8 products per int32 lane.
// The row count is a template parameter so the accumulators stay in registers.
#include <immintrin.h>

#include "kernels/qgemm/qgemm.h"
#include "kernels/qgemm/rows.h"

namespace qfarm::kernels {
namespace {

template <int MR>
void Tile(int64_t k4, const uint8_t* a, int64_t lda, const int8_t* b, int32_t* c, int64_t ldc) {
  __m256i acc[MR];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) acc[r] = _mm256_setzero_si256();
  for (int64_t q = 0; q < k4; ++q) {
    const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + q * 32));
  #pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
      int32_t a4;
      __builtin_memcpy(&a4, a + r * lda + 4 * q, 4);
      acc[r] = _mm256_dpbusd_avx_epi32(acc[r], _mm256_set1_epi32(a4), w);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + r * ldc), acc[r]);
}

}  // namespace

void qgemm_u8s8_8x8__avxvnni(int mr, int64_t k4, const uint8_t* a, int64_t lda, const int8_t* b,
                             int32_t* c, int64_t ldc) {
  DispatchRows(mr, [&](auto rows) { Tile<decltype(rows)::value>(k4, a, lda, b, c, ldc); });
}

}  // namespace qfarm::kernels
