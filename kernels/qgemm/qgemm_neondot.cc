// AArch64 NEON with the dotprod extension: USDOT would take u8·s8 directly but needs i8mm; with
// plain SDOT the uint8 activations are re-centred to int8 (x − 128) and the driver's +128
// compensation is undone here by adding 128·Σw per column, so the result equals Σ u8·s8.
#if defined(__aarch64__)
#include <arm_neon.h>

#include "kernels/qgemm/qgemm.h"

namespace qfarm::kernels {

void qgemm_u8s8_8x8__neondot(int mr, int64_t k4, const uint8_t* a, int64_t lda, const int8_t* b,
                             int32_t* c, int64_t ldc) {
  int32x4_t colsum0 = vdupq_n_s32(0), colsum1 = vdupq_n_s32(0);
  const int8x16_t ones = vdupq_n_s8(1);
  for (int64_t q = 0; q < k4; ++q) {
    colsum0 = vdotq_s32(colsum0, ones, vld1q_s8(b + q * 32));
    colsum1 = vdotq_s32(colsum1, ones, vld1q_s8(b + q * 32 + 16));
  }
  const int32x4_t comp0 = vshlq_n_s32(colsum0, 7), comp1 = vshlq_n_s32(colsum1, 7);
  for (int r = 0; r < mr; ++r) {
    int32x4_t acc0 = comp0, acc1 = comp1;
    for (int64_t q = 0; q < k4; ++q) {
      const uint32_t bits = *reinterpret_cast<const uint32_t*>(a + r * lda + 4 * q) ^ 0x80808080u;
      const int8x16_t x = vreinterpretq_s8_u32(vdupq_n_u32(bits));
      acc0 = vdotq_s32(acc0, x, vld1q_s8(b + q * 32));
      acc1 = vdotq_s32(acc1, x, vld1q_s8(b + q * 32 + 16));
    }
    vst1q_s32(c + r * ldc, acc0);
    vst1q_s32(c + r * ldc + 4, acc1);
  }
}

}  // namespace qfarm::kernels
#endif
