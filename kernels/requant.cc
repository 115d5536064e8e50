#include "kernels/requant.h"

#include <algorithm>
#if defined(__x86_64__)
#include <immintrin.h>

#include "kernels/requant_lanes.h"
#endif
#include <cmath>

namespace qfarm::kernels {
namespace {

template <typename T>
constexpr int32_t kQLo = T(-1) < 0 ? -128 : 0;
template <typename T>
constexpr int32_t kQHi = T(-1) < 0 ? 127 : 255;

// out[i] = clamp(round_half_even(clamp(float(acc[i]) · m[i], lo, hi)) + zy). The float clamp
// bounds lie one past the output range, so clamping first cannot change the saturated result.
// kOne: one multiplier (*m) for the whole row (one output channel per row).
template <typename T, bool kOne = false>
inline void RowScalar(const int32_t* acc, const float* m, int64_t n, int32_t zy, T* out) {
  const float lo = static_cast<float>(kQLo<T> - zy - 1), hi = static_cast<float>(kQHi<T> - zy + 1);
  for (int64_t c = 0; c < n; ++c) {
    float v = static_cast<float>(acc[c]) * m[kOne ? 0 : c];
    v = v < lo ? lo : (v > hi ? hi : v);  // no NaN can reach here: finite acc × finite m
    const int32_t q = static_cast<int32_t>(std::nearbyint(v)) + zy;  // default mode: half-even
    out[c] = static_cast<T>(std::clamp(q, kQLo<T>, kQHi<T>));
  }
}

#if defined(__x86_64__)
// CVTDQ2PS, MULPS, MINPS/MAXPS and CVTPS2DQ (half-even under the default MXCSR) are each the
// same IEEE operation as RowScalar's, so the bytes match; values clamped to the output range
// narrow to bytes without saturation (VPMOVDB truncates, PACKS/PACKUS cannot saturate).
// GCC 12 warns about the _mm512_undefined_* placeholders inside its own intrinsics (GCC bug
// 105593, a false positive); nothing of ours is uninitialized.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
template <typename T, bool kOne>
__attribute__((target("avx512f"))) void RowAvx512(const int32_t* acc, const float* m, int64_t n, int32_t zy, T* out) {
  const RequantBounds512 bounds = MakeRequantBounds512(kQLo<T>, kQHi<T>, zy);
  const __m512 one = _mm512_set1_ps(*m);
  auto block = [&](int64_t c, __mmask16 k) __attribute__((always_inline, target("avx512f"))) {
    const __m512 mv = kOne ? one : _mm512_maskz_loadu_ps(k, m + c);
    _mm512_mask_cvtepi32_storeu_epi8(out + c, k, Requantize512(_mm512_maskz_loadu_epi32(k, acc + c), mv, bounds));
  };
  int64_t c = 0;
  for (; c + 16 <= n; c += 16) block(c, __mmask16{0xffff});
  if (c < n) block(c, static_cast<__mmask16>((1u << (n - c)) - 1));
}
#pragma GCC diagnostic pop

template <typename T, bool kOne>
__attribute__((target("avx2"))) void RowAvx2(const int32_t* acc, const float* m, int64_t n, int32_t zy, T* out) {
  const __m256 vlo = _mm256_set1_ps(static_cast<float>(kQLo<T> - zy - 1));
  const __m256 vhi = _mm256_set1_ps(static_cast<float>(kQHi<T> - zy + 1));
  const __m256i vzy = _mm256_set1_epi32(zy), vqlo = _mm256_set1_epi32(kQLo<T>), vqhi = _mm256_set1_epi32(kQHi<T>);
  const __m256 one = _mm256_set1_ps(*m);
  int64_t c = 0;
  for (; c + 8 <= n; c += 8) {
    __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + c))),
                             kOne ? one : _mm256_loadu_ps(m + c));
    v = _mm256_min_ps(_mm256_max_ps(v, vlo), vhi);
    __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(v), vzy);
    q = _mm256_min_epi32(_mm256_max_epi32(q, vqlo), vqhi);
    const __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    const __m128i b8 = T(-1) < 0 ? _mm_packs_epi16(w16, w16) : _mm_packus_epi16(w16, w16);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out + c), b8);
  }
  RowScalar<T, kOne>(acc + c, kOne ? m : m + c, n - c, zy, out + c);
}
#endif

template <typename T, bool kOne = false>
void Row(const int32_t* acc, const float* m, int64_t n, int32_t zy, T* out) {
#if defined(__x86_64__)
  static const bool avx512 = __builtin_cpu_supports("avx512f"), avx2 = __builtin_cpu_supports("avx2");
  if (avx512) return RowAvx512<T, kOne>(acc, m, n, zy, out);
  if (avx2) return RowAvx2<T, kOne>(acc, m, n, zy, out);
#endif
  RowScalar<T, kOne>(acc, m, n, zy, out);
}

constexpr int64_t kChunk = 256;  // columns per stack buffer
constexpr int64_t kRowChunk = 8;

}  // namespace

Requantizer::Requantizer(const Profile& p, std::vector<RequantParams> rp, int32_t zy, int64_t channels)
    : profile_(p), rp_(std::move(rp)), zy_(zy),
      fast_(p.requant == Requant::kFloat32 && p.rounding == Rounding::kHalfEven) {
  if (rp_.size() == 1) {
    multiplier_.assign(static_cast<size_t>(channels), static_cast<float>(rp_[0].multiplier));
  } else {
    multiplier_.reserve(rp_.size());
    for (const RequantParams& r : rp_) multiplier_.push_back(static_cast<float>(r.multiplier));
  }
  // Over the distinct parameters (one for a per-tensor weight scale), not the per-channel copies.
  below_one_ = std::all_of(rp_.begin(), rp_.end(),
                           [](const RequantParams& r) { return std::fabs(static_cast<float>(r.multiplier)) < 1.0f; });
}

void Requantizer::Run(const AccBlock& b, Tensor& y) const {
  if (fast_ && y.dtype() == DType::kUInt8) return RunFast(b, y.data<uint8_t>().data());
  if (fast_ && y.dtype() == DType::kInt8) return RunFast(b, y.data<int8_t>().data());
  RunGeneral(b, y);
}

// Rows written contiguously (col_stride 1), or columns contiguous (row_stride 1: row = output
// position, column = channel of an NCHW output) through a small transposing buffer.
template <typename T>
void Requantizer::RunFast(const AccBlock& b, T* y) const {
  const int64_t ld = b.ld();
  T qb[kRowChunk * kChunk];
  for (int64_t c0 = 0; c0 < b.cols; c0 += kChunk) {
    const int64_t nc = std::min(kChunk, b.cols - c0);
    const float* m = multiplier_.data() + b.channel0 + c0;
    if (b.col_stride == 1) {
      for (int64_t r = 0; r < b.rows; ++r) {
        const int32_t* acc = b.acc + r * ld + c0;
        T* out = y + b.offset + r * b.row_stride + c0;
        if (b.channel_per_row) {
          Row<T, true>(acc, &multiplier_[static_cast<size_t>(b.channel0 + r)], nc, zy_, out);
        } else {
          Row<T>(acc, m, nc, zy_, out);
        }
      }
      continue;
    }
    for (int64_t r0 = 0; r0 < b.rows; r0 += kRowChunk) {
      const int64_t nr = std::min(kRowChunk, b.rows - r0);
      for (int64_t r = 0; r < nr; ++r) {
        const int32_t* acc = b.acc + (r0 + r) * ld + c0;
        if (b.channel_per_row) {
          Row<T, true>(acc, &multiplier_[static_cast<size_t>(b.channel0 + r0 + r)], nc, zy_, qb + r * kChunk);
        } else {
          Row<T>(acc, m, nc, zy_, qb + r * kChunk);
        }
      }
      for (int64_t c = 0; c < nc; ++c) {
        T* out = y + b.offset + r0 * b.row_stride + (c0 + c) * b.col_stride;
        for (int64_t r = 0; r < nr; ++r) out[r * b.row_stride] = qb[r * kChunk + c];
      }
    }
  }
}

void Requantizer::RunGeneral(const AccBlock& b, Tensor& y) const {
  const DType t = y.dtype();
  for (int64_t r = 0; r < b.rows; ++r) {
    for (int64_t c = 0; c < b.cols; ++c) {
      const int64_t ch = b.channel0 + (b.channel_per_row ? r : c);
      const RequantParams& rp = rp_[rp_.size() == 1 ? 0 : static_cast<size_t>(ch)];
      const int64_t v = Requantize(profile_, rp, b.acc[r * b.ld() + c]);
      y.SetInt(b.offset + r * b.row_stride + c * b.col_stride, FinishOutput(v, zy_, t, DTypeMin(t), DTypeMax(t)));
    }
  }
}

void StoreBlock(const AccBlock& b, Tensor& y) {
  int32_t* out = y.data<int32_t>().data();
  for (int64_t r = 0; r < b.rows; ++r) {
    for (int64_t c = 0; c < b.cols; ++c) out[b.offset + r * b.row_stride + c * b.col_stride] = b.acc[r * b.ld() + c];
  }
}

}  // namespace qfarm::kernels
