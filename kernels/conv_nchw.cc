#include "kernels/conv_nchw.h"

#include <algorithm>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "kernels/parallel.h"
#include "kernels/vector_clones.h"

namespace qfarm::kernels {
namespace {

int64_t CeilDiv(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }
int64_t FloorDiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// One tap (c, ky, kx) over output positions [p0, p1), raw bytes (padding = the zero point's
// byte): row[p − p0].
void FillTapRow(const ConvGeometry& g, const uint8_t* x, int64_t c, int64_t ky, int64_t kx, uint8_t pad, int64_t p0,
                int64_t p1, uint8_t* row) {
  const int64_t H = g.in[0], W = g.in[1], OW = g.out[1], s1 = g.stride[1];
  const int64_t shift = kx * g.dilation[1] - g.pad_begin[1];  // ix = ox·s1 + shift
  const int64_t lo = std::clamp<int64_t>(CeilDiv(-shift, s1), 0, OW);
  const int64_t hi = std::clamp<int64_t>(FloorDiv(W - 1 - shift, s1) + 1, lo, OW);
  for (int64_t oy = p0 / OW; oy * OW < p1; ++oy) {
    const int64_t a = std::max(p0, oy * OW) - oy * OW, b = std::min(p1, (oy + 1) * OW) - oy * OW;  // ox range
    uint8_t* out = row + oy * OW - p0;
    const int64_t iy = oy * g.stride[0] - g.pad_begin[0] + ky * g.dilation[0];
    if (iy < 0 || iy >= H) {
      std::memset(out + a, pad, static_cast<size_t>(b - a));
      continue;
    }
    const uint8_t* src = x + (c * H + iy) * W + shift;
    const int64_t in0 = std::clamp(lo, a, b), in1 = std::clamp(hi, in0, b);
    std::memset(out + a, pad, static_cast<size_t>(in0 - a));
    if (s1 == 1) {
      std::memcpy(out + in0, src + in0, static_cast<size_t>(in1 - in0));
    } else {
      for (int64_t ox = in0; ox < in1; ++ox) out[ox] = src[ox * s1];
    }
    std::memset(out + in1, pad, static_cast<size_t>(b - in1));
  }
}

// sum[j] += (T)(row[j] ^ flip), modulo 2^32.
template <typename T>
QFARM_VECTOR_CLONES void AddRow(const uint8_t* row, uint8_t flip, int64_t n, uint32_t* sum) {
  for (int64_t j = 0; j < n; ++j) sum[j] += static_cast<uint32_t>(int32_t{static_cast<T>(row[j] ^ flip)});
}

// FillTapRow for a stride-1 convolution whose output plane has the input's size: the tap's row
// is the plane shifted by (dy, dx), so one copy plus the padded border instead of a copy per
// output row.
void FillShiftedTapRow(const ConvGeometry& g, const uint8_t* x, int64_t c, int64_t ky, int64_t kx, uint8_t pad,
                       int64_t p0, int64_t p1, uint8_t* row) {
  const int64_t H = g.in[0], W = g.in[1];
  const int64_t dy = ky * g.dilation[0] - g.pad_begin[0], dx = kx * g.dilation[1] - g.pad_begin[1];
  const int64_t oy0 = std::clamp<int64_t>(-dy, 0, H), oy1 = std::clamp<int64_t>(H - dy, oy0, H);
  const int64_t lo = std::max<int64_t>(0, -dx), hi = std::min<int64_t>(W, W - dx);  // inside columns
  // Positions outside [first, last) read outside the image; inside it only the border columns do.
  const int64_t first = std::clamp(oy0 * W + lo, p0, p1), last = std::clamp((oy1 - 1) * W + hi, first, p1);
  if (oy0 >= oy1 || lo >= hi || first >= last) {
    std::memset(row, pad, static_cast<size_t>(p1 - p0));
    return;
  }
  std::memset(row, pad, static_cast<size_t>(first - p0));
  std::memcpy(row + first - p0, x + c * H * W + first + dy * W + dx, static_cast<size_t>(last - first));
  std::memset(row + last - p0, pad, static_cast<size_t>(p1 - last));
  for (int64_t oy = first / W; oy * W < last; ++oy) {
    const int64_t a0 = std::max(first, oy * W), a1 = std::min(last, oy * W + lo);
    const int64_t b0 = std::max(first, oy * W + hi), b1 = std::min(last, (oy + 1) * W);
    for (int64_t i = a0; i < a1; ++i) row[i - p0] = pad;  // a pixel or two: no memset calls
    for (int64_t i = b0; i < b1; ++i) row[i - p0] = pad;
  }
}

#if defined(__x86_64__)
// Interleave4 of 32 positions with all four rows present: AVX2 unpacks work within 128-bit
// lanes, so the four results hold positions (0–3 | 16–19), (4–7 | 20–23), (8–11 | 24–27) and
// (12–15 | 28–31), and VPERM2I128 puts the halves back in order.
__attribute__((target("avx2"), always_inline)) inline void Interleave32Avx2(const uint8_t* const r[4], uint8_t flip,
                                                                          uint8_t* dst) {
  const __m256i f = _mm256_set1_epi8(static_cast<char>(flip));
  __m256i a[4];
  for (int i = 0; i < 4; ++i) a[i] = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(r[i])), f);
  const __m256i a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
  const __m256i lo01 = _mm256_unpacklo_epi8(a0, a1), hi01 = _mm256_unpackhi_epi8(a0, a1);
  const __m256i lo23 = _mm256_unpacklo_epi8(a2, a3), hi23 = _mm256_unpackhi_epi8(a2, a3);
  const __m256i v0 = _mm256_unpacklo_epi16(lo01, lo23), v1 = _mm256_unpackhi_epi16(lo01, lo23);
  const __m256i v2 = _mm256_unpacklo_epi16(hi01, hi23), v3 = _mm256_unpackhi_epi16(hi01, hi23);
  __m256i* out = reinterpret_cast<__m256i*>(dst);
  _mm256_storeu_si256(out, _mm256_permute2x128_si256(v0, v1, 0x20));
  _mm256_storeu_si256(out + 1, _mm256_permute2x128_si256(v2, v3, 0x20));
  _mm256_storeu_si256(out + 2, _mm256_permute2x128_si256(v0, v1, 0x31));
  _mm256_storeu_si256(out + 3, _mm256_permute2x128_si256(v2, v3, 0x31));
}

// Interleave4 of `count` whole panels of 32 positions; panel p goes to dst + p·stride.
__attribute__((target("avx2"))) void InterleavePanelsAvx2(const uint8_t* const r[4], uint8_t flip, int64_t count,
                                                         int64_t stride, uint8_t* dst) {
  for (int64_t p = 0; p < count; ++p) {
    const uint8_t* const rp[4] = {r[0] + 32 * p, r[1] + 32 * p, r[2] + 32 * p, r[3] + 32 * p};
    Interleave32Avx2(rp, flip, dst + p * stride);
  }
}
#endif

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


namespace {

struct PanelJob {
  const ConvGeometry* gm;
  const uint8_t* x;
  int64_t taps, positions, panels;
  int nr;
  uint8_t flip, pad;
  bool same_size;
  PackedWeights* b;
};

// The 4 tap rows of the quad starting at `tap` (advanced past it) over positions [p0, p1): planes read in place (1×1 taps, centre taps
// of padded stride-1 convolutions) or gathered into scratch (4 × (p1 − p0) bytes); nullptr past
// the last tap.
// Tap t = (c, ky, kx), stepped without divisions (64-bit divides per tap showed in profiles).
struct Tap {
  int64_t t = 0, c = 0, ky = 0, kx = 0;
  void Next(int64_t kh, int64_t kw) {
    ++t;
    if (++kx < kw) return;
    kx = 0;
    if (++ky < kh) return;
    ky = 0;
    ++c;
  }
};

void QuadRows(const PanelJob& j, Tap& tap, int64_t p0, int64_t p1, uint8_t* scratch, const uint8_t* r[4]) {
  const ConvGeometry& gm = *j.gm;
  const int64_t kh = gm.kernel[0], kw = gm.kernel[1];
  for (int64_t i = 0; i < 4; ++i, tap.Next(kh, kw)) {
    if (tap.t >= j.taps) {
      r[i] = nullptr;
    } else if (j.same_size && tap.ky * gm.dilation[0] == gm.pad_begin[0] && tap.kx * gm.dilation[1] == gm.pad_begin[1]) {
      r[i] = j.x + tap.c * j.positions + p0;
    } else {
      uint8_t* row = scratch + i * (p1 - p0);
      if (j.same_size) {
        FillShiftedTapRow(gm, j.x, tap.c, tap.ky, tap.kx, j.pad, p0, p1, row);
      } else {
        FillTapRow(gm, j.x, tap.c, tap.ky, tap.kx, j.pad, p0, p1, row);
      }
      r[i] = row;
    }
  }
}

// Interleaves quad q's rows (positions from panel_begin·nr on) into panels [panel_begin, panel_end).
void StoreQuad(const PanelJob& j, int64_t q, const uint8_t* const r[4], int64_t panel_begin, int64_t panel_end) {
  const PackedWeights& b = *j.b;
  uint8_t* data = reinterpret_cast<uint8_t*>(j.b->data.data()) + q * j.nr * 4;
  int64_t panel = panel_begin;
#if defined(__x86_64__)
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (avx2 && j.nr == 32 && r[0] && r[1] && r[2] && r[3]) {
    panel = std::min(panel_end, j.positions / 32);
    InterleavePanelsAvx2(r, j.flip, panel - panel_begin, b.k4 * 128, data + panel_begin * b.k4 * 128);
  }
  if (avx2 && j.nr == 32 && r[0] && r[1] && r[2] && r[3] && panel < panel_end) {
    // The last, partial panel: its rows copied into zeroed 32-byte rows, then the same loop.
    const int64_t offset = panel * 32 - panel_begin * 32, valid = j.positions - panel * 32;
    alignas(32) uint8_t tail[4][32] = {};
    const uint8_t* rt[4] = {tail[0], tail[1], tail[2], tail[3]};
    for (int i = 0; i < 4; ++i) {
      std::memcpy(tail[i], r[i] + offset, static_cast<size_t>(valid));
      std::memset(tail[i] + valid, j.flip, static_cast<size_t>(32 - valid));  // XOR flip → 0
    }
    InterleavePanelsAvx2(rt, j.flip, 1, 0, data + panel * b.k4 * 128);
    ++panel;
  }
#endif
  for (; panel < panel_end; ++panel) {
    const int64_t j0 = panel * j.nr, offset = j0 - panel_begin * j.nr;
    const uint8_t* rp[4];
    for (int i = 0; i < 4; ++i) rp[i] = r[i] ? r[i] + offset : nullptr;
    Interleave4(rp, j.flip, std::min<int64_t>(j.nr, j.positions - j0), j.nr, data + panel * b.k4 * j.nr * 4);
  }
}

}  // namespace

void ShapePanels(const ConvGeometry& gm, int64_t cpg, int nr, bool sums, PackedWeights& b) {
  const int64_t taps = cpg * gm.kernel[0] * gm.kernel[1], positions = gm.out[0] * gm.out[1];
  b.k = taps;
  b.k4 = (taps + 3) / 4;
  b.n = positions;
  b.nr = nr;
  b.data.resize(static_cast<size_t>((positions + nr - 1) / nr * b.k4 * nr * 4));
  b.col_sum.resize(sums ? static_cast<size_t>(positions) : 0);
}

void FillPanels(const ConvGeometry& gm, const uint8_t* x, bool x_signed, int32_t zx, PanelType type, bool sums,
                PackedWeights& b, int64_t panel_begin, int64_t panel_end) {
  const int64_t positions = b.n, nr = b.nr;
  // uint8 x − 128 is x XOR 0x80 read as int8; int8 x + 128 is x XOR 0x80 read as uint8.
  const uint8_t flip = x_signed == (type == PanelType::kU8) ? 0x80 : 0x00;
  const bool same_size = gm.out[0] == gm.in[0] && gm.out[1] == gm.in[1] && gm.stride[0] == 1 && gm.stride[1] == 1;
  const PanelJob job{&gm, x, b.k, positions, (positions + nr - 1) / nr, static_cast<int>(nr), flip,
                     static_cast<uint8_t>(zx), same_size, &b};
  const bool gathers = !same_size || gm.kernel[0] * gm.kernel[1] > 1;
  const int64_t p0 = panel_begin * nr, p1 = std::min(positions, panel_end * nr);
  std::vector<uint8_t> scratch(static_cast<size_t>(gathers ? 4 * (p1 - p0) : 0));
  uint32_t* sum = reinterpret_cast<uint32_t*>(b.col_sum.data()) + p0;
  if (sums) std::fill(sum, sum + (p1 - p0), 0u);
  Tap tap;
  for (int64_t q = 0; q < b.k4; ++q) {
    const uint8_t* r[4];
    QuadRows(job, tap, p0, p1, scratch.data(), r);
    for (int i = 0; i < 4 && sums && r[i]; ++i) {
      type == PanelType::kS8 ? AddRow<int8_t>(r[i], flip, p1 - p0, sum) : AddRow<uint8_t>(r[i], flip, p1 - p0, sum);
    }
    StoreQuad(job, q, r, panel_begin, panel_end);
  }
}

void PackIm2ColPanels(const ConvGeometry& gm, const uint8_t* x, int64_t cpg, bool x_signed, int32_t zx, int nr,
                      PanelType type, bool sums, PackedWeights& b, int threads) {
  ShapePanels(gm, cpg, nr, sums, b);
  ParallelFor((b.n + nr - 1) / nr, threads, 1, [&](int64_t begin, int64_t end) {
    FillPanels(gm, x, x_signed, zx, type, sums, b, begin, end);
  });
}

WeightRows PackWeightRows(const int8_t* w, int64_t rows, int64_t k, bool offset) {
  WeightRows p;
  p.rows = rows;
  p.k = k;
  p.lda = (k + 3) / 4 * 4;
  p.data.assign(static_cast<size_t>(rows * p.lda), 0);
  p.row_sum.resize(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    uint8_t* dst = p.data.data() + r * p.lda;
    p.row_sum[static_cast<size_t>(r)] = PackARow(w + r * k, true, k, p.lda, dst);  // w + 128, Σw
    if (!offset) {
      for (int64_t i = 0; i < k; ++i) dst[i] ^= 0x80;  // back to the raw int8 bytes
    }
  }
  return p;
}

void FusedConvS8U8(const FusedConvArgs& a, PackedWeights& panels) {
  const WeightRows& w = *a.rows;
  const bool zw_any = std::any_of(a.zw, a.zw + w.rows, [](int32_t z) { return z != 0; });
  ShapePanels(*a.gm, a.cpg, a.kernel->nr, zw_any, panels);
  // Σ(w − zw)(x' − zx') = Σw·x' − zx'·Σw + K·zw·zx' + bias (per row) − zw·Σx' (per position).
  const uint32_t zx = static_cast<uint32_t>(PanelZeroPoint(a.x_signed, a.zx, PanelType::kU8));
  std::vector<int32_t> row_const(static_cast<size_t>(w.rows)), row_factor(static_cast<size_t>(w.rows));
  for (int64_t r = 0; r < w.rows; ++r) {
    const uint32_t zw = static_cast<uint32_t>(a.zw[r]);
    uint32_t v = a.bias ? static_cast<uint32_t>(a.bias[r]) : 0u;
    v += static_cast<uint32_t>(w.k) * zw * zx - zx * static_cast<uint32_t>(w.row_sum[static_cast<size_t>(r)]);
    row_const[static_cast<size_t>(r)] = static_cast<int32_t>(v);
    row_factor[static_cast<size_t>(r)] = static_cast<int32_t>(0u - zw);
  }
  const int64_t positions = panels.n, nr = panels.nr, npanels = (positions + nr - 1) / nr;
  // Each thread packs the panels it then multiplies, in chunks of ~64 KiB so they are still in
  // cache (at least 8 panels: FillPanels' set-up per call is per kernel tap); one kernel call
  // per panel covers every row (the fused kernels loop over row tiles).
  const int64_t chunk = std::max<int64_t>(8, (int64_t{1} << 16) / (panels.k4 * nr * 4));
  ParallelFor(npanels, a.threads, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c0 = begin; c0 < end; c0 += chunk) {
      const int64_t c1 = std::min(end, c0 + chunk);
      FillPanels(*a.gm, a.x, a.x_signed, a.zx, PanelType::kU8, zw_any, panels, c0, c1);
      for (int64_t panel = c0; panel < c1; ++panel) {
        const int64_t n0 = panel * nr;
        const uint8_t* b = reinterpret_cast<const uint8_t*>(panels.data.data()) + panel * panels.k4 * nr * 4;
        const FusedOutput o{row_const.data(), zw_any ? row_factor.data() : nullptr, nullptr,
                            zw_any ? panels.col_sum.data() + n0 : nullptr, a.mult, a.zy, a.out_signed,
                            a.out + n0, positions, static_cast<int>(std::min(nr, positions - n0))};
        a.kernel->fused_s8u8(static_cast<int>(w.rows), panels.k4, reinterpret_cast<const int8_t*>(w.data.data()),
                             w.lda, b, o);
      }
    }
    if (a.kernel->release) a.kernel->release();
  });
}

}  // namespace qfarm::kernels
