#include "kernels/conv_nchw.h"

#include <algorithm>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace qfarm::kernels {
namespace {

int64_t CeilDiv(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }
int64_t FloorDiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// One tap (c, ky, kx) over every output position, raw bytes (padding = the zero point's byte).
void FillTapRow(const ConvGeometry& g, const uint8_t* x, int64_t c, int64_t ky, int64_t kx, uint8_t pad,
                uint8_t* row) {
  const int64_t H = g.in[0], W = g.in[1], OH = g.out[0], OW = g.out[1], s1 = g.stride[1];
  const int64_t shift = kx * g.dilation[1] - g.pad_begin[1];  // ix = ox·s1 + shift
  const int64_t lo = std::clamp<int64_t>(CeilDiv(-shift, s1), 0, OW);
  const int64_t hi = std::clamp<int64_t>(FloorDiv(W - 1 - shift, s1) + 1, lo, OW);
  for (int64_t oy = 0; oy < OH; ++oy, row += OW) {
    const int64_t iy = oy * g.stride[0] - g.pad_begin[0] + ky * g.dilation[0];
    if (iy < 0 || iy >= H) {
      std::memset(row, pad, static_cast<size_t>(OW));
      continue;
    }
    const uint8_t* src = x + (c * H + iy) * W + shift;
    std::memset(row, pad, static_cast<size_t>(lo));
    if (s1 == 1) {
      std::memcpy(row + lo, src + lo, static_cast<size_t>(hi - lo));
    } else {
      for (int64_t ox = lo; ox < hi; ++ox) row[ox] = src[ox * s1];
    }
    std::memset(row + hi, pad, static_cast<size_t>(OW - hi));
  }
}

#if defined(__x86_64__)
#define QFARM_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define QFARM_VECTOR_CLONES
#endif

// sum[j] += (int8)(row[j] ^ flip), modulo 2^32.
QFARM_VECTOR_CLONES void AddRow(const uint8_t* row, uint8_t flip, int64_t n, uint32_t* sum) {
  for (int64_t j = 0; j < n; ++j) sum[j] += static_cast<uint32_t>(int32_t{static_cast<int8_t>(row[j] ^ flip)});
}

// dst[4·j + i] = r[i][j] ^ flip for j < valid, 0 for valid ≤ j < n (and for a null row: a
// padded k).
void Interleave4(const uint8_t* const r[4], uint8_t flip, int64_t valid, int64_t n, uint8_t* dst) {
  int64_t j = 0;
#if defined(__SSE2__)
  if (r[0] && r[1] && r[2] && r[3]) {
    const __m128i f = _mm_set1_epi8(static_cast<char>(flip));
    auto load = [&](int i) { return _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r[i] + j)), f); };
    for (; j + 16 <= valid; j += 16) {
      const __m128i a0 = load(0), a1 = load(1), a2 = load(2), a3 = load(3);
      const __m128i lo01 = _mm_unpacklo_epi8(a0, a1), hi01 = _mm_unpackhi_epi8(a0, a1);
      const __m128i lo23 = _mm_unpacklo_epi8(a2, a3), hi23 = _mm_unpackhi_epi8(a2, a3);
      __m128i* out = reinterpret_cast<__m128i*>(dst + 4 * j);
      _mm_storeu_si128(out, _mm_unpacklo_epi16(lo01, lo23));
      _mm_storeu_si128(out + 1, _mm_unpackhi_epi16(lo01, lo23));
      _mm_storeu_si128(out + 2, _mm_unpacklo_epi16(hi01, hi23));
      _mm_storeu_si128(out + 3, _mm_unpackhi_epi16(hi01, hi23));
    }
  }
#endif
  for (; j < n; ++j) {
    for (int i = 0; i < 4; ++i) dst[4 * j + i] = r[i] && j < valid ? r[i][j] ^ flip : 0;
  }
}

}  // namespace

WeightRows PackWeightRows(const int8_t* w, int64_t rows, int64_t k) {
  WeightRows p;
  p.rows = rows;
  p.k = k;
  p.lda = (k + 3) / 4 * 4;
  p.data.assign(static_cast<size_t>(rows * p.lda), 0);
  p.row_sum.resize(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    p.row_sum[static_cast<size_t>(r)] = PackARow(w + r * k, true, k, p.lda, p.data.data() + r * p.lda);
  }
  return p;
}

void PackIm2ColPanels(const ConvGeometry& gm, const uint8_t* x, int64_t cpg, bool x_signed, int32_t zx, int nr,
                      PackedWeights& b) {
  const int64_t kh = gm.kernel[0], kw = gm.kernel[1], taps = cpg * kh * kw, positions = gm.out[0] * gm.out[1];
  const int64_t panels = (positions + nr - 1) / nr;
  b.k = taps;
  b.k4 = (taps + 3) / 4;
  b.n = positions;
  b.nr = nr;
  b.data.resize(static_cast<size_t>(panels * b.k4 * nr * 4));
  b.col_sum.assign(static_cast<size_t>(positions), 0);
  const uint8_t flip = x_signed ? 0x00 : 0x80;  // uint8 x − 128 is x XOR 0x80 read as int8
  // A tap whose row over all positions is its input plane itself (1×1 taps, centre taps of
  // padded stride-1 convolutions) is read in place; the others are gathered into `scratch`.
  const bool same_size = gm.out[0] == gm.in[0] && gm.out[1] == gm.in[1] && gm.stride[0] == 1 && gm.stride[1] == 1;
  std::vector<uint8_t> scratch(static_cast<size_t>(4 * positions));
  uint32_t* sum = reinterpret_cast<uint32_t*>(b.col_sum.data());
  for (int64_t q = 0; q < b.k4; ++q) {
    const uint8_t* r[4] = {nullptr, nullptr, nullptr, nullptr};
    for (int64_t i = 0; i < 4 && 4 * q + i < taps; ++i) {
      const int64_t t = 4 * q + i, c = t / (kh * kw), ky = t / kw % kh, kx = t % kw;
      if (same_size && ky * gm.dilation[0] == gm.pad_begin[0] && kx * gm.dilation[1] == gm.pad_begin[1]) {
        r[i] = x + c * positions;
      } else {
        uint8_t* row = scratch.data() + i * positions;
        FillTapRow(gm, x, c, ky, kx, static_cast<uint8_t>(zx), row);
        r[i] = row;
      }
      AddRow(r[i], flip, positions, sum);
    }
    for (int64_t panel = 0; panel < panels; ++panel) {
      const int64_t j0 = panel * nr;
      const uint8_t* rp[4];
      for (int i = 0; i < 4; ++i) rp[i] = r[i] ? r[i] + j0 : nullptr;
      Interleave4(rp, flip, std::min<int64_t>(nr, positions - j0), nr,
                  reinterpret_cast<uint8_t*>(b.data.data()) + (panel * b.k4 + q) * nr * 4);
    }
  }
}

}  // namespace qfarm::kernels
