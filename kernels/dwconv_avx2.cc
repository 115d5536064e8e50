// The depthwise loops compiled with -mavx2: the direct 3×3 / 5×5 stride-1 plane loop on ymm
// (VPMADDWD, 16 outputs per kernel-row step) and, for every other shape, the portable loops
// (which the compiler vectorizes with VPMULLD/VPADDD on eight int32 lanes).
#include <immintrin.h>

#include <type_traits>

#include "kernels/dwconv_direct.h"
#include "kernels/dwconv_impl.h"

namespace qfarm::kernels {
namespace {

struct Ymm {
  using Reg = __m256i;
  static constexpr int kLanes = 8;
  static constexpr int kRows = 2;
  static constexpr bool kCompress = false;  // no VPCOMPRESSD: flat runs are copied out by rows
  static Reg Load(const int16_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static Reg Set1(int32_t v) { return _mm256_set1_epi32(v); }
  static Reg Madd(Reg a, Reg b) { return _mm256_madd_epi16(a, b); }
  static Reg Add(Reg a, Reg b) { return _mm256_add_epi32(a, b); }
  template <typename T>
  static void WidenRow(const T* src, int64_t n, int32_t zx, int16_t* dst) {
    const __m256i z = _mm256_set1_epi16(static_cast<int16_t>(zx));
    int64_t j = 0;
    for (; j + 16 <= n; j += 16) {
      const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + j));
      const __m256i v = std::is_signed_v<T> ? _mm256_cvtepi8_epi16(b) : _mm256_cvtepu8_epi16(b);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + j), _mm256_sub_epi16(v, z));  // no wrap
    }
    for (; j < n; ++j) dst[j] = static_cast<int16_t>(static_cast<int32_t>(src[j]) - zx);
  }
  static void StoreCompressed(int32_t*, Reg, Reg, uint32_t, int64_t) {}  // never called
  // even = e0..e7, odd = o0..o7 → e0 o0 e1 o1 … e7 o7; the unpacks interleave within 128-bit
  // halves, the cross-half permutes put the halves in order.
  static void StoreInterleaved(int32_t* dst, Reg even, Reg odd, int64_t n) {
    const Reg lo = _mm256_unpacklo_epi32(even, odd), hi = _mm256_unpackhi_epi32(even, odd);
    const Reg first = _mm256_permute2x128_si256(lo, hi, 0x20), second = _mm256_permute2x128_si256(lo, hi, 0x31);
    if (n >= 16) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), first);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 8), second);
      return;
    }
    alignas(32) int32_t tmp[16];
    _mm256_store_si256(reinterpret_cast<__m256i*>(tmp), first);
    _mm256_store_si256(reinterpret_cast<__m256i*>(tmp + 8), second);
    std::memcpy(dst, tmp, static_cast<size_t>(n) * 4);
  }
};

}  // namespace

void DepthwiseConvAvx2(const DwConvArgs& a) {
  if (DirectEligible(*a.g)) return DirectDepthwise<Ymm>(a);
  DepthwiseConvImpl(a);
}

}  // namespace qfarm::kernels
