// Depthwise 3×3 stride-1 convolution of small planes (7×7, 14×14: a few hundred outputs each),
// requantized, on AVX-512 VNNI — channels-last, because per-plane work is what dominates planes
// this small. Per block of 32 channels:
//   1. 16×16 byte transposes put x − zx in a zero-padded [pixel][channel] int16 buffer;
//   2. each padded pixel j gets the interleaved pair (x[j], x[j+1]) per channel once, so a
//      kernel row of an output pixel is two VPDPWSSD: (x0, x1)·(w0, w1) and (x1, x2)·(0, w2);
//   3. the int32 sums (bias included) are requantized in lanes (kernels/requant_lanes.h) to
//      bytes, and 16×16 byte transposes write them back to the NCHW planes.
// Products are exact (|x − zx|, |w − zw| ≤ 255) and VPDPWSSD adds without saturating, so the
// sums wrap exactly like every other depthwise loop's.
#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "kernels/dwconv.h"
#include "kernels/requant_lanes.h"
#include "kernels/transpose_sse2.h"

// GCC 12 warns about the _mm512_undefined_* placeholders inside its own intrinsics (GCC bug
// 105593, a false positive); nothing of ours is uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace qfarm::kernels {
namespace {

constexpr int kBlock = 32;  // channels per block: one zmm of int16
inline __mmask16 Head(int64_t n) { return n >= 16 ? __mmask16{0xffff} : static_cast<__mmask16>((1u << n) - 1); }

struct Geometry {
  int64_t H, W, Wp, Hp, P;  // input plane, padded plane, outputs (= H·W)
  int64_t top, left;
  std::vector<int32_t> padded;  // pixel → its index in the padded plane (no divides per block)
};

// Rows of 16 bytes (row i at src + i·stride, rows ≥ rows_valid read as 0, `cols` bytes each)
// transposed; out[k] holds source column kBitReverse4[k].
inline void LoadTransposed(const uint8_t* src, int64_t stride, int64_t rows_valid, int64_t cols, __m128i r[16]) {
  for (int i = 0; i < 16; ++i) r[i] = i < rows_valid ? _mm_maskz_loadu_epi8(Head(cols), src + i * stride) : _mm_setzero_si128();
  Transpose16x16Bytes(r);
}

// x − zx of the block's channels into xt[padded pixel][32] (borders stay 0).
template <typename T>
void LoadInput(const Geometry& g, const uint8_t* x, int64_t channels, int32_t zx, int16_t* xt) {
  const __m256i vzx = _mm256_set1_epi16(static_cast<int16_t>(zx));
  for (int64_t half = 0; half < 2; ++half) {
    for (int64_t p0 = 0; p0 < g.P; p0 += 16) {
      __m128i r[16];
      LoadTransposed(x + half * 16 * g.P + p0, g.P, channels - half * 16, g.P - p0, r);
      for (int i = 0; i < 16; ++i) {
        const int64_t p = p0 + kBitReverse4[i];
        if (p >= g.P) continue;
        const __m256i v = T(-1) < 0 ? _mm256_cvtepi8_epi16(r[i]) : _mm256_cvtepu8_epi16(r[i]);
        int16_t* dst = xt + int64_t{g.padded[static_cast<size_t>(p)]} * kBlock + half * 16;
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), _mm256_sub_epi16(v, vzx));
      }
    }
  }
}

// w − zw of the block's channels as w16[tap][32] (channels past the block's end: 0).
void LoadWeights(const int8_t* w, const int32_t* zw, int64_t channels, int16_t* w16) {
  for (int64_t half = 0; half < 2; ++half) {
    alignas(32) int16_t z[16] = {};
    for (int64_t i = 0; i < 16 && half * 16 + i < channels; ++i) z[i] = static_cast<int16_t>(zw ? zw[half * 16 + i] : 0);
    const __m256i vz = _mm256_load_si256(reinterpret_cast<const __m256i*>(z));
    __m128i r[16];
    LoadTransposed(reinterpret_cast<const uint8_t*>(w) + half * 16 * 9, 9, channels - half * 16, 9, r);
    for (int i = 0; i < 16; ++i) {
      const int t = kBitReverse4[i];
      if (t >= 9) continue;
      const __m256i v = _mm256_sub_epi16(_mm256_cvtepi8_epi16(r[i]), vz);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(w16 + t * kBlock + half * 16), v);
    }
  }
}

// out bytes [pixel][32] → the block's NCHW planes (channels < channels).
void StoreOutput(const Geometry& g, const uint8_t* ot, int64_t channels, uint8_t* out) {
  for (int64_t half = 0; half < 2; ++half) {
    for (int64_t p0 = 0; p0 < g.P; p0 += 16) {
      __m128i r[16];
      LoadTransposed(ot + p0 * kBlock + half * 16, kBlock, g.P - p0, 16, r);
      for (int i = 0; i < 16; ++i) {
        const int64_t c = half * 16 + kBitReverse4[i];
        if (c < channels) _mm_mask_storeu_epi8(out + c * g.P + p0, Head(g.P - p0), r[i]);
      }
    }
  }
}

template <typename T, bool kSignedOut>
void Block(const Geometry& g, const DwSmallArgs& a, int64_t c0, int16_t* xt, int16_t* pair_lo, int16_t* pair_hi,
           uint8_t* ot) {
  const int64_t channels = std::min<int64_t>(kBlock, a.channels - c0);
  LoadInput<T>(g, static_cast<const uint8_t*>(a.x) + c0 * g.P, channels, a.zx, xt);
  const int64_t padded = g.Hp * g.Wp;
  for (int64_t j = 0; j + 1 < padded; ++j) {
    const __m512i x0 = _mm512_loadu_si512(xt + j * kBlock), x1 = _mm512_loadu_si512(xt + (j + 1) * kBlock);
    _mm512_storeu_si512(pair_lo + j * kBlock, _mm512_unpacklo_epi16(x0, x1));
    _mm512_storeu_si512(pair_hi + j * kBlock, _mm512_unpackhi_epi16(x0, x1));
  }
  alignas(64) int16_t w16[9 * kBlock];
  LoadWeights(a.w + c0 * 9, a.zw ? a.zw + c0 : nullptr, channels, w16);
  // VPUNPCK*WD pair channels 8L..8L+3 (lo) and 8L+4..8L+7 (hi) of each 128-bit lane L; these
  // index vectors move values between that order and channel order.
  const __m512i to_lo = _mm512_setr_epi32(0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27);
  const __m512i to_hi = _mm512_setr_epi32(4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
  const __m512i from0 = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
  const __m512i from1 = _mm512_setr_epi32(8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
  __m512i w01_lo[3], w01_hi[3], w2_lo[3], w2_hi[3];
  for (int ky = 0; ky < 3; ++ky) {
    const __m512i w0 = _mm512_load_si512(w16 + (3 * ky) * kBlock), w1 = _mm512_load_si512(w16 + (3 * ky + 1) * kBlock);
    const __m512i w2 = _mm512_load_si512(w16 + (3 * ky + 2) * kBlock), zero = _mm512_setzero_si512();
    w01_lo[ky] = _mm512_unpacklo_epi16(w0, w1);
    w01_hi[ky] = _mm512_unpackhi_epi16(w0, w1);
    w2_lo[ky] = _mm512_unpacklo_epi16(zero, w2);
    w2_hi[ky] = _mm512_unpackhi_epi16(zero, w2);
  }
  alignas(64) int32_t bias[kBlock] = {};
  alignas(64) float mult[kBlock] = {};
  for (int64_t c = 0; c < channels; ++c) {
    bias[c] = a.bias ? a.bias[c0 + c] : 0;
    mult[c] = a.mult[c0 + c];
  }
  const __m512i b0 = _mm512_load_si512(bias), b1 = _mm512_load_si512(bias + 16);
  const __m512i bias_lo = _mm512_permutex2var_epi32(b0, to_lo, b1), bias_hi = _mm512_permutex2var_epi32(b0, to_hi, b1);
  const __m512 m0 = _mm512_load_ps(mult), m1 = _mm512_load_ps(mult + 16);
  const RequantBounds512 bounds = MakeRequantBounds512(kSignedOut ? -128 : 0, kSignedOut ? 127 : 255, a.zy);
  auto requant = [&](__m512i v, __m512 m) __attribute__((always_inline)) {
    return _mm512_cvtepi32_epi8(Requantize512(v, m, bounds));
  };
  for (int64_t oy = 0, p = 0; oy < g.H; ++oy) {
    for (int64_t ox = 0; ox < g.W; ++ox, ++p) {
      __m512i lo = bias_lo, hi = bias_hi;
#pragma GCC unroll 3
      for (int ky = 0; ky < 3; ++ky) {
        const int64_t j = (oy + ky) * g.Wp + ox;
        lo = _mm512_dpwssd_epi32(lo, _mm512_loadu_si512(pair_lo + j * kBlock), w01_lo[ky]);
        hi = _mm512_dpwssd_epi32(hi, _mm512_loadu_si512(pair_hi + j * kBlock), w01_hi[ky]);
        lo = _mm512_dpwssd_epi32(lo, _mm512_loadu_si512(pair_lo + (j + 1) * kBlock), w2_lo[ky]);
        hi = _mm512_dpwssd_epi32(hi, _mm512_loadu_si512(pair_hi + (j + 1) * kBlock), w2_hi[ky]);
      }
      _mm_storeu_si128(reinterpret_cast<__m128i*>(ot + p * kBlock), requant(_mm512_permutex2var_epi32(lo, from0, hi), m0));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(ot + p * kBlock + 16),
                       requant(_mm512_permutex2var_epi32(lo, from1, hi), m1));
    }
  }
  StoreOutput(g, ot, channels, a.out + c0 * g.P);
}

}  // namespace

bool DwSmallAvailable() {
  static const bool ok = __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                         __builtin_cpu_supports("avx512vnni");
  return ok;
}

bool DwSmallEligible(const ConvGeometry& g) {
  return g.kernel[0] == 3 && g.kernel[1] == 3 && g.stride[0] == 1 && g.stride[1] == 1 && g.dilation[0] == 1 &&
         g.dilation[1] == 1 && g.out[0] == g.in[0] && g.out[1] == g.in[1] && g.in[0] * g.in[1] <= 256 &&
         g.pad_begin[0] <= 2 && g.pad_begin[1] <= 2;
}

void DepthwiseSmallRequantAvx512(const DwSmallArgs& a, int64_t c_begin, int64_t c_end) {
  const ConvGeometry& cg = *a.g;
  Geometry g{cg.in[0], cg.in[1], cg.in[1] + cg.pad_begin[1] + cg.pad_end[1], cg.in[0] + cg.pad_begin[0] + cg.pad_end[0],
             cg.in[0] * cg.in[1], cg.pad_begin[0], cg.pad_begin[1], {}};
  for (int64_t y = 0; y < g.H; ++y)
    for (int64_t x = 0; x < g.W; ++x) g.padded.push_back(static_cast<int32_t>((y + g.top) * g.Wp + x + g.left));
  std::vector<int16_t> xt(static_cast<size_t>(g.Hp * g.Wp * kBlock), 0);
  std::vector<int16_t> pair_lo(static_cast<size_t>(g.Hp * g.Wp * kBlock)), pair_hi(pair_lo.size());
  std::vector<uint8_t> ot(static_cast<size_t>((g.P + 15) / 16 * 16 * kBlock));
  for (int64_t c0 = c_begin; c0 < c_end; c0 += kBlock) {
    DwSmallArgs b = a;
    b.channels = std::min(c_end, a.channels);
    if (a.x_signed) {
      a.out_signed ? Block<int8_t, true>(g, b, c0, xt.data(), pair_lo.data(), pair_hi.data(), ot.data())
                   : Block<int8_t, false>(g, b, c0, xt.data(), pair_lo.data(), pair_hi.data(), ot.data());
    } else {
      a.out_signed ? Block<uint8_t, true>(g, b, c0, xt.data(), pair_lo.data(), pair_hi.data(), ot.data())
                   : Block<uint8_t, false>(g, b, c0, xt.data(), pair_lo.data(), pair_hi.data(), ot.data());
    }
  }
}

}  // namespace qfarm::kernels
