// The depthwise loops compiled with -mavx512f -mavx512bw: the direct 3×3 / 5×5 stride-1 plane
// loop on zmm (VPMADDWD, 32 outputs per kernel-row step, masked stores for row tails) and, for
// every other shape, the portable loops built with these flags.
#include <immintrin.h>

#include <bit>
#include <type_traits>

#include "kernels/dwconv_direct.h"
#include "kernels/dwconv_impl.h"

// GCC 12 warns about the _mm512_undefined_* placeholders inside its own intrinsics (GCC bug
// 105593, a false positive); nothing of ours is uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace qfarm::kernels {
namespace {

struct Zmm {
  using Reg = __m512i;
  static constexpr int kLanes = 16;
  static constexpr int kRows = 4;
  static Reg Load(const int16_t* p) { return _mm512_loadu_si512(p); }
  static Reg Set1(int32_t v) { return _mm512_set1_epi32(v); }
  static Reg Madd(Reg a, Reg b) { return _mm512_madd_epi16(a, b); }
  static Reg Add(Reg a, Reg b) { return _mm512_add_epi32(a, b); }
  template <typename T>
  static Reg Widen(__m256i bytes, __m512i z) {
    const __m512i v = std::is_signed_v<T> ? _mm512_cvtepi8_epi16(bytes) : _mm512_cvtepu8_epi16(bytes);
    return _mm512_sub_epi16(v, z);  // in [−255, 255]: no wrap
  }
  // Masked loads and stores only for the tail: measured clearly faster on Zen 5 than masking all.
  template <typename T>
  static void WidenRow(const T* src, int64_t n, int32_t zx, int16_t* dst) {
    const __m512i z = _mm512_set1_epi16(static_cast<int16_t>(zx));
    int64_t j = 0;
    for (; j + 32 <= n; j += 32) {
      _mm512_storeu_si512(dst + j, Widen<T>(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + j)), z));
    }
    if (j == n) return;
    const __mmask32 m = static_cast<__mmask32>((uint32_t{1} << (n - j)) - 1);
    _mm512_mask_storeu_epi16(dst + j, m, Widen<T>(_mm512_castsi512_si256(_mm512_maskz_loadu_epi8(m, src + j)), z));
  }
  // even = e0..e15, odd = o0..o15 → e0 o0 e1 o1 … e15 o15 (VPERMT2D picks from both).
  static void StoreInterleaved(int32_t* dst, Reg even, Reg odd, int64_t n) {
    const Reg idx_lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const Reg idx_hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const Reg first = _mm512_permutex2var_epi32(even, idx_lo, odd);
    const Reg second = _mm512_permutex2var_epi32(even, idx_hi, odd);
    if (n >= 32) {
      _mm512_storeu_si512(dst, first);
      _mm512_storeu_si512(dst + 16, second);
      return;
    }
    const uint32_t m = (uint32_t{1} << n) - 1;  // n < 32
    _mm512_mask_storeu_epi32(dst, static_cast<__mmask16>(m), first);
    _mm512_mask_storeu_epi32(dst + 16, static_cast<__mmask16>(m >> 16), second);
  }
  static constexpr bool kCompress = true;
  // VPCOMPRESSD in its register form (the memory form is microcoded and slow on AMD); plain
  // stores while a whole vector fits in the plane: the garbage past the packed outputs is
  // overwritten by the next chunk's.
  static void StoreCompressed(int32_t* dst, Reg even, Reg odd, uint32_t keep, int64_t room) {
    const Reg idx_lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const Reg idx_hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const __mmask16 k0 = static_cast<__mmask16>(keep), k1 = static_cast<__mmask16>(keep >> 16);
    const Reg first = _mm512_maskz_compress_epi32(k0, _mm512_permutex2var_epi32(even, idx_lo, odd));
    const Reg second = _mm512_maskz_compress_epi32(k1, _mm512_permutex2var_epi32(even, idx_hi, odd));
    const int n0 = std::popcount(static_cast<uint32_t>(k0)), n1 = std::popcount(static_cast<uint32_t>(k1));
    if (16 <= room) {
      _mm512_storeu_si512(dst, first);
    } else {
      _mm512_mask_storeu_epi32(dst, static_cast<__mmask16>((1u << n0) - 1), first);
    }
    if (n0 + 16 <= room) {
      _mm512_storeu_si512(dst + n0, second);
    } else {
      _mm512_mask_storeu_epi32(dst + n0, static_cast<__mmask16>((1u << n1) - 1), second);
    }
  }
};

}  // namespace

void DepthwiseConvAvx512(const DwConvArgs& a) {
  if (DirectEligible(*a.g)) return DirectDepthwise<Zmm>(a);
  DepthwiseConvImpl(a);
}

}  // namespace qfarm::kernels
