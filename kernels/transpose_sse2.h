// A 16×16 byte transpose on SSE2 (every x86-64 CPU), shared by the channels-last conversions
// (kernels/layout.cc) and the small-plane depthwise loop (dwconv_small_avx512.cc).
#pragma once

#include <emmintrin.h>

#include <algorithm>

namespace qfarm::kernels {

// Where the unpack network leaves each column: after Transpose16x16Bytes, r[i] holds column
// kBitReverse4[i] of the input.
constexpr int kBitReverse4[16] = {0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15};

// r[i] = 16 bytes of row i in; out, r[i] holds column kBitReverse4[i] (four rounds of unpacks).
inline void Transpose16x16Bytes(__m128i r[16]) {
  for (int w = 0; w < 4; ++w) {
    __m128i o[16];
    for (int i = 0; i < 8; ++i) {
      const __m128i a = r[2 * i], b = r[2 * i + 1];
      switch (w) {
        case 0: o[i] = _mm_unpacklo_epi8(a, b); o[i + 8] = _mm_unpackhi_epi8(a, b); break;
        case 1: o[i] = _mm_unpacklo_epi16(a, b); o[i + 8] = _mm_unpackhi_epi16(a, b); break;
        case 2: o[i] = _mm_unpacklo_epi32(a, b); o[i + 8] = _mm_unpackhi_epi32(a, b); break;
        default: o[i] = _mm_unpacklo_epi64(a, b); o[i + 8] = _mm_unpackhi_epi64(a, b); break;
      }
    }
    std::copy(o, o + 16, r);
  }
}

}  // namespace qfarm::kernels
