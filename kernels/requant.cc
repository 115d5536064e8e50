#include "kernels/requant.h"

#include <algorithm>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <cmath>

namespace qfarm::kernels {
namespace {

template <typename T>
inline __attribute__((always_inline)) void FastFloat32Loop(const std::vector<RequantParams>& rp, int32_t zy, const AccBlock& b, T* y) {
  const float lo = static_cast<float>(DTypeMin(sizeof(T) == 1 && T(-1) < 0 ? DType::kInt8 : DType::kUInt8) - zy - 1);
  const float hi = static_cast<float>(DTypeMax(sizeof(T) == 1 && T(-1) < 0 ? DType::kInt8 : DType::kUInt8) - zy + 1);
  const int32_t qlo = T(-1) < 0 ? -128 : 0, qhi = T(-1) < 0 ? 127 : 255;
  float m[64];
  for (int64_t c0 = 0; c0 < b.cols; c0 += 64) {
    const int64_t nc = std::min<int64_t>(64, b.cols - c0);
    for (int64_t c = 0; c < nc; ++c) m[c] = static_cast<float>(rp[static_cast<size_t>(b.channel0 + c0 + c)].multiplier);
    for (int64_t r = 0; r < b.rows; ++r) {
      if (b.channel_per_row) std::fill(m, m + nc, static_cast<float>(rp[static_cast<size_t>(b.channel0 + r)].multiplier));
      const int32_t* acc = b.acc + r * b.cols + c0;
      T* out = y + b.offset + r * b.row_stride + c0 * b.col_stride;
      for (int64_t c = 0; c < nc; ++c) {
        float v = static_cast<float>(acc[c]) * m[c];
        v = v < lo ? lo : (v > hi ? hi : v);  // no NaN can reach here: finite acc × finite m
        const int32_t q = static_cast<int32_t>(std::nearbyint(v)) + zy;  // default mode: half-even
        out[c * b.col_stride] = static_cast<T>(q < qlo ? qlo : q > qhi ? qhi : q);
      }
    }
  }
}

#if defined(__x86_64__)
// AVX2: eight channels at a time. CVTDQ2PS, MULPS, MINPS/MAXPS and CVTPS2DQ (half-even under
// the default MXCSR) are each the same IEEE operation as the scalar loop's, so the bytes match.
template <typename T>
__attribute__((target("avx2"))) void FastFloat32Avx2(const std::vector<RequantParams>& rp, int32_t zy,
                                                     const AccBlock& b, T* y) {
  constexpr bool kSigned = T(-1) < 0;
  const int32_t qlo = kSigned ? -128 : 0, qhi = kSigned ? 127 : 255;
  const __m256 vlo = _mm256_set1_ps(static_cast<float>(qlo - zy - 1));
  const __m256 vhi = _mm256_set1_ps(static_cast<float>(qhi - zy + 1));
  const __m256i vzy = _mm256_set1_epi32(zy), vqlo = _mm256_set1_epi32(qlo), vqhi = _mm256_set1_epi32(qhi);
  const int64_t channels = b.channel_per_row ? b.rows : b.cols;
  std::vector<float> mv(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) mv[static_cast<size_t>(c)] = static_cast<float>(rp[static_cast<size_t>(b.channel0 + c)].multiplier);
  std::vector<float> row_m(b.channel_per_row ? static_cast<size_t>(b.cols) : 0);
  alignas(32) int32_t q[8];
  for (int64_t r = 0; r < b.rows; ++r) {
    const int32_t* acc = b.acc + r * b.cols;
    if (b.channel_per_row) std::fill(row_m.begin(), row_m.end(), mv[static_cast<size_t>(r)]);
    const std::vector<float>& m = b.channel_per_row ? row_m : mv;
    T* out = y + b.offset + r * b.row_stride;
    int64_t c = 0;
    for (; c + 8 <= b.cols; c += 8) {
      __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + c))),
                               _mm256_loadu_ps(m.data() + c));
      v = _mm256_min_ps(_mm256_max_ps(v, vlo), vhi);
      __m256i qi = _mm256_add_epi32(_mm256_cvtps_epi32(v), vzy);
      qi = _mm256_min_epi32(_mm256_max_epi32(qi, vqlo), vqhi);
      _mm256_store_si256(reinterpret_cast<__m256i*>(q), qi);
      for (int k = 0; k < 8; ++k) out[(c + k) * b.col_stride] = static_cast<T>(q[k]);
    }
    for (; c < b.cols; ++c) {
      float v = static_cast<float>(acc[c]) * m[static_cast<size_t>(c)];
      v = v < qlo - zy - 1 ? static_cast<float>(qlo - zy - 1) : (v > qhi - zy + 1 ? static_cast<float>(qhi - zy + 1) : v);
      const int32_t qs = static_cast<int32_t>(std::nearbyint(v)) + zy;
      out[c * b.col_stride] = static_cast<T>(qs < qlo ? qlo : qs > qhi ? qhi : qs);
    }
  }
}
#endif

template <typename T>
void FastFloat32(const std::vector<RequantParams>& rp, int32_t zy, const AccBlock& b, T* y) {
#if defined(__x86_64__)
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (avx2) return FastFloat32Avx2(rp, zy, b, y);
#endif
  FastFloat32Loop(rp, zy, b, y);
}

}  // namespace

void RequantizeBlock(const Profile& p, const std::vector<RequantParams>& rp, int32_t zy,
                     const AccBlock& b, Tensor& y) {
  const bool fast = p.requant == Requant::kFloat32 && p.rounding == Rounding::kHalfEven;
  if (fast && y.dtype() == DType::kUInt8) return FastFloat32(rp, zy, b, y.data<uint8_t>().data());
  if (fast && y.dtype() == DType::kInt8) return FastFloat32(rp, zy, b, y.data<int8_t>().data());
  const DType t = y.dtype();
  for (int64_t r = 0; r < b.rows; ++r) {
    for (int64_t c = 0; c < b.cols; ++c) {
      const int64_t ch = b.channel0 + (b.channel_per_row ? r : c);
      const int64_t v = Requantize(p, rp[static_cast<size_t>(ch)], b.acc[r * b.cols + c]);
      y.SetInt(b.offset + r * b.row_stride + c * b.col_stride, FinishOutput(v, zy, t, DTypeMin(t), DTypeMax(t)));
    }
  }
}

void StoreBlock(const AccBlock& b, Tensor& y) {
  int32_t* out = y.data<int32_t>().data();
  for (int64_t r = 0; r < b.rows; ++r) {
    for (int64_t c = 0; c < b.cols; ++c) out[b.offset + r * b.row_stride + c * b.col_stride] = b.acc[r * b.cols + c];
  }
}

}  // namespace qfarm::kernels
