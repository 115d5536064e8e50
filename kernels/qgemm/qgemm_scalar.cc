// Portable reference microkernel: the same packed layout, plain loops, int32 wrap-around.
#include "kernels/qgemm/qgemm.h"

namespace qfarm::kernels {

void qgemm_u8s8_8x8__scalar(int mr, int64_t k4, const uint8_t* a, int64_t lda, const int8_t* b,
                            int32_t* c, int64_t ldc) {
  constexpr int kNr = 8;
  for (int r = 0; r < mr; ++r) {
    uint32_t acc[kNr] = {};
    for (int64_t q = 0; q < k4; ++q) {
      for (int j = 0; j < kNr; ++j) {
        for (int i = 0; i < 4; ++i) {
          acc[j] += static_cast<uint32_t>(int32_t{a[r * lda + 4 * q + i]} * b[(q * kNr + j) * 4 + i]);
        }
      }
    }
    for (int j = 0; j < kNr; ++j) c[r * ldc + j] = static_cast<int32_t>(acc[j]);
  }
}

}  // namespace qfarm::kernels
