// Channels-last depthwise 3×3 / 5×5, stride 1 or 2, dilation 1, on AVX-512 VNNI (VPDPBUSD).
//
// Per output row and block of 64 channels, the input columns the row reads are first laid out
// "kernel rows interleaved": column j holds, per channel, the bytes of kernel rows 4g..4g+3
// (g = 0 for 3×3; 0 and 1 for 5×5), so one VPDPBUSD multiplies four taps of 16 channels with
// the weights of those rows and kernel column kx, and an output is K·G VPDPBUSD per 16
// channels; each column is built once and read by every output whose window covers it. Padding
// is built in: bytes outside the image are the zero point, rows past the kernel's last are 0.
//
// VPDPBUSD multiplies raw u8 x by raw s8 w, so the zero points are folded (exact in wrapping
// int32, the arithmetic every depthwise path uses):
//   Σ(x − zx)(w − zw) = Σx·w − zx·Σw + T·zx·zw − zw·Σx     (T = K·K taps, padding x = zx)
// The middle terms are per channel and join the bias; Σx (a second VPDPBUSD with weights 1)
// is needed only when some zw ≠ 0. int8 inputs become u8 by x ^ 0x80 = x + 128 and zx + 128,
// which leaves x − zx unchanged. Products u8·s8 are exact and VPDPBUSD adds without saturating.
// The sums are requantized in lanes (kernels/requant_lanes.h) when the Requantizer's fast path
// applies, else handed to it (or to StoreBlock) as int32 blocks of one output row.
#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "kernels/dwconv_nhwc.h"
#include "kernels/parallel.h"
#include "kernels/requant_lanes.h"

// GCC 12 warns about the _mm512_undefined_* placeholders inside its own intrinsics (GCC bug
// 105593, a false positive); nothing of ours is uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace qfarm::kernels {

int64_t DwNhwcRowGrain(const DwNhwcArgs& a);  // dwconv_nhwc.cc

namespace {

constexpr int kBlock = 64;                // channels per block: four zmm of int32 sums
constexpr int64_t kGroupBytes = 4 * kBlock;  // one column, four kernel rows of a block

enum class Out { kU8, kS8, kInt32 };

// Everything of one call: its arguments, the weights' prepared form, derived sizes. The per-
// call terms (bias, zero points, multipliers) are folded in BlockRows, per block of channels.
struct Plan {
  const DwNhwcArgs* a;
  const DwNhwcWeights* w;     // interleaved weights and Σw
  int K, G;                   // kernel size; groups of four kernel rows
  int64_t S, C, blocks, Wp;   // stride; channels; channel blocks; columns one output row reads
  uint8_t flip, zx;           // zx in the u8 domain
  bool any_zw;
};

// Channel c's weights for kernel column kx and rows 4g..4g+3, as the dword VPDPBUSD takes.
template <int K>
uint32_t WeightDword(const int8_t* wc, int g, int kx) {
  uint32_t d = 0;
  for (int i = 0; i < 4 && 4 * g + i < K; ++i) d |= uint32_t{static_cast<uint8_t>(wc[(4 * g + i) * K + kx])} << (8 * i);
  return d;
}

// The padding channels of the last block get zeros. assign() keeps a reused object's memory.
template <int K>
void FillWeights(const int8_t* w, int64_t channels, DwNhwcWeights* out) {
  constexpr int G = (K + 3) / 4, taps = K * K;
  const size_t padded = static_cast<size_t>((channels + kBlock - 1) / kBlock * kBlock);
  out->channels = channels;
  out->kernel = K;
  out->interleaved.assign(padded * G * K * 4, 0);
  out->sum_w.assign(padded, 0);
  uint32_t* wi = reinterpret_cast<uint32_t*>(out->interleaved.data());  // [block][g][kx][channel]
  for (int64_t c = 0; c < channels; ++c) {
    const int8_t* wc = w + c * taps;
    uint32_t* wb = wi + (c / kBlock) * G * K * kBlock + c % kBlock;
    for (int gi = 0; gi < G; ++gi) {
      for (int kx = 0; kx < K; ++kx) wb[(gi * K + kx) * kBlock] = WeightDword<K>(wc, gi, kx);
    }
    uint32_t sum_w = 0;
    for (int t = 0; t < taps; ++t) sum_w += static_cast<uint32_t>(int32_t{wc[t]});
    out->sum_w[static_cast<size_t>(c)] = static_cast<int32_t>(sum_w);
  }
}

Plan MakePlan(const DwNhwcArgs& a, const DwNhwcWeights* w) {
  const ConvGeometry& g = *a.g;
  const int K = static_cast<int>(g.kernel[0]);
  int32_t any_zw = 0;  // an OR over every channel: vectorizes, unlike an early exit
  for (int64_t c = 0; a.zw && c < a.channels; ++c) any_zw |= a.zw[c];
  return Plan{&a, w, K, (K + 3) / 4, g.stride[0], a.channels, (a.channels + kBlock - 1) / kBlock,
              (g.out[1] - 1) * g.stride[1] + K, static_cast<uint8_t>(a.x_signed ? 0x80 : 0),
              static_cast<uint8_t>(a.zx + (a.x_signed ? 128 : 0)), any_zw != 0};
}

// The byte interleave of four kernel rows on zmm (64 channels) or ymm (32 channels, for blocks
// of at most 32: half the shuffles). VPUNPCK*BW/WD work within 128-bit lanes; Order, a dword
// permute before them, puts the right channels in each lane so that they come out in channel
// order: output u holds the dwords of channels u·kBytes/4 .. (u + 1)·kBytes/4 − 1.
struct Zmm {
  using R = __m512i;
  static constexpr int kBytes = 64;
  static R Load(int64_t n, const uint8_t* p) { return _mm512_maskz_loadu_epi8(n >= 64 ? ~__mmask64{0} : (__mmask64{1} << n) - 1, p); }
  static R Set1(uint8_t v) { return _mm512_set1_epi8(static_cast<char>(v)); }
  static R Xor(R a, R b) { return _mm512_xor_si512(a, b); }
  // Lane L gets channels 4L..4L+3, 16+4L.., 32+4L.., 48+4L...
  static R Order(R r) { return _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), r); }
  static R Lo8(R a, R b) { return _mm512_unpacklo_epi8(a, b); }
  static R Hi8(R a, R b) { return _mm512_unpackhi_epi8(a, b); }
  static R Lo16(R a, R b) { return _mm512_unpacklo_epi16(a, b); }
  static R Hi16(R a, R b) { return _mm512_unpackhi_epi16(a, b); }
  static void Store(uint8_t* p, R r) { _mm512_storeu_si512(p, r); }
};

struct Ymm {
  using R = __m256i;
  static constexpr int kBytes = 32;
  static R Load(int64_t n, const uint8_t* p) { return _mm256_maskz_loadu_epi8(n >= 32 ? ~__mmask32{0} : (__mmask32{1} << n) - 1, p); }
  static R Set1(uint8_t v) { return _mm256_set1_epi8(static_cast<char>(v)); }
  static R Xor(R a, R b) { return _mm256_xor_si256(a, b); }
  // Lane L gets channels 4L..4L+3, 8+4L.., 16+4L.., 24+4L...
  static R Order(R r) { return _mm256_permutevar8x32_epi32(r, _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7)); }
  static R Lo8(R a, R b) { return _mm256_unpacklo_epi8(a, b); }
  static R Hi8(R a, R b) { return _mm256_unpackhi_epi8(a, b); }
  static R Lo16(R a, R b) { return _mm256_unpacklo_epi16(a, b); }
  static R Hi16(R a, R b) { return _mm256_unpackhi_epi16(a, b); }
  static void Store(uint8_t* p, R r) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), r); }
};

// Column j of output row oy's padded input window, channels [c0, c0 + 16·NV): per group g, NV
// zmm-sized pieces, piece v holding channels c0 + 16v .. c0 + 16v + 15 with the bytes of kernel
// rows 4g..4g+3 in each dword.
template <int K, int NV, typename V>
void BuildColumnsWith(const Plan& p, int64_t oy, int64_t c0, uint8_t* buf) {
  constexpr int G = (K + 3) / 4, kOutputs = NV * 64 / V::kBytes;
  using R = typename V::R;
  const ConvGeometry& g = *p.a->g;
  const int64_t C = p.C, IW = g.in[1], pl = g.pad_begin[1];
  const uint8_t* x = static_cast<const uint8_t*>(p.a->x);
  const R flip = V::Set1(p.flip), zx = V::Set1(p.zx), zero = V::Set1(0);
  const uint8_t* rows[4 * G];  // nullptr: padding row (all zx)
  for (int k = 0; k < 4 * G; ++k) {
    const int64_t iy = oy * p.S - g.pad_begin[0] + k;
    rows[k] = k < K && iy >= 0 && iy < g.in[0] ? x + iy * IW * C + c0 : nullptr;
  }
  for (int64_t j = 0; j < p.Wp; ++j) {
    const int64_t ix = j - pl;
    const bool inside = ix >= 0 && ix < IW;
    for (int gi = 0; gi < G; ++gi) {
      R r[4];
      for (int i = 0; i < 4; ++i) {
        const int k = 4 * gi + i;
        if (k >= K) {
          r[i] = zero;
        } else if (inside && rows[k]) {
          r[i] = V::Order(V::Xor(V::Load(C - c0, rows[k] + ix * C), flip));
        } else {
          r[i] = zx;  // the same in every lane: no reordering needed
        }
      }
      const R lo01 = V::Lo8(r[0], r[1]), hi01 = V::Hi8(r[0], r[1]), lo23 = V::Lo8(r[2], r[3]), hi23 = V::Hi8(r[2], r[3]);
      const R out[4] = {V::Lo16(lo01, lo23), V::Hi16(lo01, lo23), V::Lo16(hi01, hi23), V::Hi16(hi01, hi23)};
      uint8_t* dst = buf + (j * G + gi) * kGroupBytes;
      for (int u = 0; u < kOutputs; ++u) V::Store(dst + u * V::kBytes, out[u]);
    }
  }
}

template <int K, int NV>
void BuildColumns(const Plan& p, int64_t oy, int64_t c0, uint8_t* buf) {
  if constexpr (NV <= 2) {
    BuildColumnsWith<K, NV, Ymm>(p, oy, c0, buf);
  } else {
    BuildColumnsWith<K, NV, Zmm>(p, oy, c0, buf);
  }
}

// Output rows [oy0, oy1), channels [c0, c0 + 16·NV) (the last block may end earlier: masked
// stores): per row, its columns built into buf, then its outputs; int32 sums go to row_acc
// [OW][64] when kOut is kInt32. Weights and folded biases are loaded once for all the rows.
template <int K, int NV, Out kOut, bool kZw>
void BlockRows(const Plan& p, uint8_t* buf, int64_t oy0, int64_t oy1, int64_t blk, int32_t* row_acc) {
  constexpr int G = (K + 3) / 4;
  const DwNhwcArgs& a = *p.a;
  const int64_t c0 = blk * kBlock, OW = a.g->out[1], C = p.C, nc = std::min<int64_t>(kBlock, C - c0);
  constexpr uint32_t kTaps = K * K;
  const __m512i zx = _mm512_set1_epi32(p.zx), taps_zx = _mm512_set1_epi32(static_cast<int32_t>(kTaps * p.zx));
  __m512i w[G][K][NV], bias[NV], zw[NV];
  __m512 mult[NV];
  __mmask16 tail[NV];
  for (int v = 0; v < NV; ++v) {
    const int64_t c = c0 + 16 * v, left = std::clamp<int64_t>(nc - 16 * v, 0, 16);
    tail[v] = static_cast<__mmask16>((1u << left) - 1);
    for (int gi = 0; gi < G; ++gi)
      for (int kx = 0; kx < K; ++kx) w[gi][kx][v] = _mm512_loadu_si512(&p.w->interleaved[static_cast<size_t>((((blk * G + gi) * K + kx) * kBlock + 16 * v) * 4)]);
    // bias − zx·Σw + T·zx·zw, wrapping (padding channels: 0).
    const __m512i b = a.bias ? _mm512_maskz_loadu_epi32(tail[v], a.bias + c) : _mm512_setzero_si512();
    zw[v] = a.zw ? _mm512_maskz_loadu_epi32(tail[v], a.zw + c) : _mm512_setzero_si512();
    const __m512i sum_w = _mm512_loadu_si512(&p.w->sum_w[static_cast<size_t>(c)]);
    bias[v] = _mm512_add_epi32(_mm512_sub_epi32(b, _mm512_mullo_epi32(zx, sum_w)), _mm512_mullo_epi32(taps_zx, zw[v]));
    mult[v] = kOut == Out::kInt32 ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(tail[v], a.rq->multipliers() + c);
  }
  const bool full = nc == 16 * NV;
  const __m512i ones = _mm512_set1_epi8(1);
  const bool out_signed = kOut == Out::kS8;
  const RequantBounds512 bounds = MakeRequantBounds512(out_signed ? -128 : 0, out_signed ? 127 : 255,
                                                       a.rq ? a.rq->zero_point() : 0);
  uint8_t* y8 = kOut == Out::kInt32 ? nullptr : reinterpret_cast<uint8_t*>(a.y->mutable_bytes().data()) + a.offset + c0;
  for (int64_t oy = oy0; oy < oy1; ++oy) {
    BuildColumns<K, NV>(p, oy, c0, buf);
    for (int64_t ox = 0; ox < OW; ++ox) {
      const uint8_t* col = buf + ox * p.S * G * kGroupBytes;
      __m512i acc[NV], sx[NV];
      for (int v = 0; v < NV; ++v) acc[v] = bias[v], sx[v] = _mm512_setzero_si512();
      for (int kx = 0; kx < K; ++kx) {
        for (int gi = 0; gi < G; ++gi) {
          for (int v = 0; v < NV; ++v) {
            const __m512i xv = _mm512_loadu_si512(col + (kx * G + gi) * kGroupBytes + v * 64);
            acc[v] = _mm512_dpbusd_epi32(acc[v], xv, w[gi][kx][v]);
            if (kZw) sx[v] = _mm512_dpbusd_epi32(sx[v], xv, ones);
          }
        }
      }
      for (int v = 0; v < NV; ++v) {
        if (kZw) acc[v] = _mm512_sub_epi32(acc[v], _mm512_mullo_epi32(sx[v], zw[v]));
        if constexpr (kOut == Out::kInt32) {
          _mm512_storeu_si512(row_acc + ox * kBlock + 16 * v, acc[v]);
        } else {
          const __m128i q = _mm512_cvtepi32_epi8(Requantize512(acc[v], mult[v], bounds));
          uint8_t* dst = y8 + (oy * OW + ox) * C + 16 * v;
          if (full) {
            _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), q);
          } else {
            _mm_mask_storeu_epi8(dst, tail[v], q);
          }
        }
      }
    }
    if constexpr (kOut == Out::kInt32) {
      const AccBlock b{row_acc, OW, nc, c0, a.offset + oy * OW * C + c0, C, 1, false, kBlock};
      a.rq ? a.rq->Run(b, *a.y) : StoreBlock(b, *a.y);
    }
  }
}

using RowFn = void (*)(const Plan&, uint8_t*, int64_t, int64_t, int64_t, int32_t*);

template <int K, int NV, Out kOut>
RowFn PickRow(bool zw) {
  return zw ? &BlockRows<K, NV, kOut, true> : &BlockRows<K, NV, kOut, false>;
}

template <int K, int NV>
RowFn PickRow(Out out, bool zw) {
  switch (out) {
    case Out::kU8: return PickRow<K, NV, Out::kU8>(zw);
    case Out::kS8: return PickRow<K, NV, Out::kS8>(zw);
    default: return PickRow<K, NV, Out::kInt32>(zw);
  }
}

// The loops of a block of nv·16 channels (nv = 1..4).
template <int K>
RowFn Pick(int64_t nv, Out out, bool zw) {
  switch (nv) {
    case 1: return PickRow<K, 1>(out, zw);
    case 2: return PickRow<K, 2>(out, zw);
    case 3: return PickRow<K, 3>(out, zw);
    default: return PickRow<K, 4>(out, zw);
  }
}

// Output rows [oy0, oy1) of channel blocks [blk0, blk1).
void Rows(const Plan& p, int64_t oy0, int64_t oy1, int64_t blk0, int64_t blk1) {
  const DwNhwcArgs& a = *p.a;
  const bool fused = a.rq && a.rq->Fusable(a.y->dtype());
  const Out out = !fused ? Out::kInt32 : a.y->dtype() == DType::kInt8 ? Out::kS8 : Out::kU8;
  const int64_t tail_nv = ((p.C - 1) % kBlock) / 16 + 1;
  const auto pick = [&](int64_t nv) { return p.K == 3 ? Pick<3>(nv, out, p.any_zw) : Pick<5>(nv, out, p.any_zw); };
  const RowFn full = pick(4), last = pick(tail_nv);
  // Per thread, kept between calls: nothing else uses them while this range runs.
  thread_local std::vector<uint8_t> buf;
  thread_local std::vector<int32_t> row_acc;
  buf.resize(std::max(buf.size(), static_cast<size_t>(p.Wp * p.G * kGroupBytes)));
  if (out == Out::kInt32) row_acc.resize(std::max(row_acc.size(), static_cast<size_t>(a.g->out[1] * kBlock)));
  // Chunks of rows whose input (~128 KiB) stays in L2 while every block runs over them, so
  // the weights and biases of a block are loaded once per chunk, not once per row.
  const ConvGeometry& g = *a.g;
  const int64_t chunk = std::max<int64_t>(1, (int64_t{128} << 10) / std::max<int64_t>(1, p.S * g.in[1] * p.C));
  for (int64_t r0 = oy0; r0 < oy1; r0 += chunk) {
    const int64_t r1 = std::min(oy1, r0 + chunk);
    for (int64_t blk = blk0; blk < blk1; ++blk) (blk + 1 < p.blocks ? full : last)(p, buf.data(), r0, r1, blk, row_acc.data());
  }
}

}  // namespace

bool DepthwiseNhwcAvx512Covers(const DwNhwcArgs& a) {
  const ConvGeometry& g = *a.g;
  const int64_t k = g.kernel[0];
  return DwSmallAvailable() && (k == 3 || k == 5) && g.kernel[1] == k && g.stride[0] == g.stride[1] &&
         (g.stride[0] == 1 || g.stride[0] == 2) && g.dilation[0] == 1 && g.dilation[1] == 1;
}

void FillDwNhwcWeightsAvx512(const int8_t* w, int64_t channels, int k, DwNhwcWeights* out) {
  k == 3 ? FillWeights<3>(w, channels, out) : FillWeights<5>(w, channels, out);
}

void DepthwiseNhwcAvx512(const DwNhwcArgs& a) {
  const DwNhwcWeights* w = a.prepared;
  if (!w || w->channels != a.channels || w->kernel != a.g->kernel[0]) {  // none (or not these weights' shape)
    // Formed on the calling thread and only read by the workers until this call returns.
    thread_local DwNhwcWeights scratch;
    FillDwNhwcWeightsAvx512(a.w, a.channels, static_cast<int>(a.g->kernel[0]), &scratch);
    w = &scratch;
  }
  const Plan p = MakePlan(a, w);
  // Threads take output rows, or channel blocks when there are too few rows to share evenly
  // (a 7×7 plane split by rows leaves one thread 4 of 7).
  const int64_t rows = a.g->out[0], grain = DwNhwcRowGrain(a);
  if (a.threads > 1 && rows < 4 * a.threads && p.blocks >= 2 * a.threads && rows * p.blocks >= 2 * grain) {
    ParallelFor(p.blocks, a.threads, 1, [&](int64_t begin, int64_t end) { Rows(p, 0, rows, begin, end); });
    return;
  }
  ParallelFor(rows, a.threads, grain, [&](int64_t begin, int64_t end) { Rows(p, begin, end, 0, p.blocks); });
}

}  // namespace qfarm::kernels
