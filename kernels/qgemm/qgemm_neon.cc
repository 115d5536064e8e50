// AArch64 NEON without dotprod: SMULL-style widening products into int16 (u8·s8 fits int16
// exactly), then SADALP-style pairwise widening adds into int32 — exact, no int16 overflow.
#if defined(__aarch64__)
#include <arm_neon.h>

#include "kernels/qgemm/qgemm.h"

namespace qfarm::kernels {

void qgemm_u8s8_8x8__neon(int mr, int64_t k4, const uint8_t* a, int64_t lda, const int8_t* b,
                          int32_t* c, int64_t ldc) {
  for (int r = 0; r < mr; ++r) {
    int32x4_t acc0 = vdupq_n_s32(0), acc1 = vdupq_n_s32(0);
    for (int64_t q = 0; q < k4; ++q) {
      const uint8x8_t a4 = vreinterpret_u8_u32(vdup_n_u32(*reinterpret_cast<const uint32_t*>(a + r * lda + 4 * q)));
      const int16x8_t x = vreinterpretq_s16_u16(vmovl_u8(a4));  // a[k..k+3] twice, as int16
      const int8x16_t w01 = vld1q_s8(b + q * 32);                // columns 0..3 (4 k each)
      const int8x16_t w23 = vld1q_s8(b + q * 32 + 16);           // columns 4..7
      const int16x8_t p0 = vmulq_s16(x, vmovl_s8(vget_low_s8(w01)));
      const int16x8_t p1 = vmulq_s16(x, vmovl_s8(vget_high_s8(w01)));
      const int16x8_t p2 = vmulq_s16(x, vmovl_s8(vget_low_s8(w23)));
      const int16x8_t p3 = vmulq_s16(x, vmovl_s8(vget_high_s8(w23)));
      // Each int16 product is exact (|u8·s8| ≤ 32640); pairwise-add twice into int32 per column.
      acc0 = vaddq_s32(acc0, vpaddq_s32(vpaddlq_s16(p0), vpaddlq_s16(p1)));
      acc1 = vaddq_s32(acc1, vpaddq_s32(vpaddlq_s16(p2), vpaddlq_s16(p3)));
    }
    vst1q_s32(c + r * ldc, acc0);
    vst1q_s32(c + r * ldc + 4, acc1);
  }
}

}  // namespace qfarm::kernels
#endif
