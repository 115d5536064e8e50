// AVX-512 VNNI (VPDPBUSD on 512-bit registers): 32 columns as two registers per row, four exact
// u8·s8 products per int32 lane. The row count is a template parameter and the loops are
// unrolled so the 2·MR accumulators stay in registers (16 of the 32 zmm at MR = 8).
#include <immintrin.h>

#include "kernels/qgemm/qgemm.h"
#include "kernels/qgemm/rows.h"

namespace qfarm::kernels {
namespace {

template <int MR>
void Tile(int64_t k4, const uint8_t* a, int64_t lda, const int8_t* b, int32_t* c, int64_t ldc) {
  __m512i lo[MR], hi[MR];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) lo[r] = hi[r] = _mm512_setzero_si512();
  for (int64_t q = 0; q < k4; ++q) {
    const __m512i w0 = _mm512_loadu_si512(b + q * 128);
    const __m512i w1 = _mm512_loadu_si512(b + q * 128 + 64);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      int32_t a4;
      __builtin_memcpy(&a4, a + r * lda + 4 * q, 4);
      const __m512i x = _mm512_set1_epi32(a4);
      lo[r] = _mm512_dpbusd_epi32(lo[r], x, w0);
      hi[r] = _mm512_dpbusd_epi32(hi[r], x, w1);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    _mm512_storeu_si512(c + r * ldc, lo[r]);
    _mm512_storeu_si512(c + r * ldc + 16, hi[r]);
  }
}

}  // namespace

void qgemm_u8s8_8x32__avx512vnni(int mr, int64_t k4, const uint8_t* a, int64_t lda,
                                 const int8_t* b, int32_t* c, int64_t ldc) {
  DispatchRows(mr, [&](auto rows) { Tile<decltype(rows)::value>(k4, a, lda, b, c, ldc); });
}

}  // namespace qfarm::kernels
