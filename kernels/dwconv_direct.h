// The direct depthwise plane loop for K×K kernels (K = 3 or 5), stride 1, dilation 1, any
// padding, written once over a vector-traits type V and included by dwconv_avx2.cc (ymm) and
// dwconv_avx512.cc (zmm): internal linkage, so each file keeps its own copy built with its flags.
//
// Each plane becomes int16 rows of x − zx with the padding as zeros (padding with the zero point
// contributes (zx − zx)·w = 0, exactly what the contract's skipped taps contribute), so every
// output has all K×K taps and the loop has no bounds checks. An int32 lane of an int16 row read
// at element offset o holds the pair (r[o + 2i], r[o + 2i + 1]); VPMADDWD with the broadcast
// weight pair (w0, w1) gives r[2i]·w0 + r[2i+1]·w1, the first two taps of output 2i. Offsets
// 0, 2, 4 with the pairs (w0,w1), (w2,w3), (w4,0) cover a kernel row for the even outputs, the
// same offsets + 1 the odd ones; even and odd lanes are interleaved when stored. V provides:
//   Reg, kLanes (int32 lanes), kRows (output rows per block, as registers allow), Load(const int16_t*), Set1(int32_t), Madd (VPMADDWD), Add,
//   StoreInterleaved(int32_t* dst, Reg even, Reg odd, int64_t n) (first n of the 2·kLanes),
//   WidenRow<T>(const T* src, int64_t n, int32_t zx, int16_t* dst) (dst[j] = src[j] − zx, j < n,
//   touching nothing past src[n − 1] or dst[n − 1]),
//   kCompress and, if true, StoreCompressed(int32_t* dst, Reg even, Reg odd, uint32_t keep,
//   int64_t room): the interleaved outputs whose keep bit is set, packed, room ≥ their count
//   (and nothing written at or past dst[room]).
#pragma once

#include <algorithm>
#include <bit>
#include <cstring>
#include <vector>

#include "kernels/dwconv.h"

namespace qfarm::kernels {
namespace {

bool DirectEligible(const ConvGeometry& g) {
  const int64_t k = g.kernel[0];
  return (k == 3 || k == 5) && g.kernel[1] == k && g.stride[0] == 1 && g.stride[1] == 1 && g.dilation[0] == 1 &&
         g.dilation[1] == 1 && g.out[0] > 0 && g.out[1] > 0;
}

// Rows at least this long are computed row by row straight into the output; shorter ones as one
// flat run over the whole padded plane (the pad columns give garbage outputs, dropped when the
// rows are copied out), so small planes fill whole vectors instead of a row each.
constexpr int64_t kFlatBelowWidth = 24;

// Per-call buffers, reused across the planes of one thread.
struct DirectScratch {
  std::vector<int16_t> padded;  // (OH + K − 1) rows of OW + K − 1, then slack for the last loads
  std::vector<int32_t> flat;    // the flat run's outputs, OH rows of OW + K − 1, rounded up
  std::vector<uint32_t> keep;   // per flat chunk: which outputs are real (V::kCompress)
  std::vector<int64_t> keep_at;  // per flat chunk: where its first real output goes
};

// Padded row r, column j holds x[r − pad_top][j − pad_left] − zx, or 0 outside the image. Only
// the image part is written: the zeros sit at the same places in every plane, so the caller
// clears the buffer once.
template <typename V, typename T>
void PadPlane(const ConvGeometry& g, int64_t K, const T* x, int32_t zx, int16_t* padded) {
  const int64_t rs = g.out[1] + K - 1, rows = g.out[0] + K - 1;
  const int64_t pt = g.pad_begin[0], pl = g.pad_begin[1], iw = g.in[1];
  const int64_t j0 = std::clamp<int64_t>(pl, 0, rs), j1 = std::clamp<int64_t>(pl + iw, j0, rs);
  const int64_t iy0 = std::max<int64_t>(0, -pt), iy1 = std::min<int64_t>(g.in[0], rows - pt);
  for (int64_t iy = iy0; iy < iy1; ++iy) {
    V::template WidenRow<T>(x + iy * iw + (j0 - pl), j1 - j0, zx, padded + (iy + pt) * rs + j0);
  }
}

// R output rows of 2·kLanes consecutive outputs each; row o's K×K windows start at src + o·rs.
// Each input row is loaded once and feeds every output row of the block it belongs to, which
// cuts the (mostly cache-line-splitting) loads per output by (R + K − 1) / (R·K).
// Row o's outputs go to dst + o·dst_stride, the first n of them; or, with kPack (R = 1), those
// whose `keep` bit is set go packed to dst, n being the room there (V::StoreCompressed).
template <typename V, int K, int R, bool kPack = false>
inline void Block(const int16_t* src, int64_t rs, const typename V::Reg (&wp)[K][(K + 1) / 2],
                  typename V::Reg bias, int32_t* dst, int64_t dst_stride, int64_t n, uint32_t keep = 0) {
  typename V::Reg even[R], odd[R];
#pragma GCC unroll 8
  for (int o = 0; o < R; ++o) even[o] = odd[o] = bias;
#pragma GCC unroll 16
  for (int ir = 0; ir < R + K - 1; ++ir) {
    const int16_t* r = src + ir * rs;
#pragma GCC unroll 4
    for (int j = 0; j < (K + 1) / 2; ++j) {
      const typename V::Reg at_even = V::Load(r + 2 * j), at_odd = V::Load(r + 2 * j + 1);
#pragma GCC unroll 8
      for (int o = 0; o < R; ++o) {
        const int ky = ir - o;
        if (ky < 0 || ky >= K) continue;
        even[o] = V::Add(even[o], V::Madd(at_even, wp[ky][j]));
        odd[o] = V::Add(odd[o], V::Madd(at_odd, wp[ky][j]));
      }
    }
  }
#pragma GCC unroll 8
  for (int o = 0; o < R; ++o) {
    if constexpr (kPack) {
      V::StoreCompressed(dst, even[o], odd[o], keep, n);
    } else {
      V::StoreInterleaved(dst + o * dst_stride, even[o], odd[o], n);
    }
  }
}

// Broadcast weight pairs (w[2j] − zw, w[2j+1] − zw) per kernel row, the odd tap past K being 0.
template <typename V, int K>
void WeightPairs(const int8_t* w, int32_t zw, typename V::Reg (&wp)[K][(K + 1) / 2]) {
  for (int ky = 0; ky < K; ++ky) {
    for (int j = 0; j < (K + 1) / 2; ++j) {
      const uint32_t lo = static_cast<uint16_t>(int32_t{w[ky * K + 2 * j]} - zw);
      const uint32_t hi = 2 * j + 1 < K ? static_cast<uint16_t>(int32_t{w[ky * K + 2 * j + 1]} - zw) : 0u;
      wp[ky][j] = V::Set1(static_cast<int32_t>(lo | hi << 16));
    }
  }
}

// One flat run over the padded plane; the pad columns' outputs are dropped either by compressing
// each chunk with its precomputed keep mask (V::kCompress) or by copying the rows out.
template <typename V, int K>
[[gnu::noinline]] void FlatPlane(const ConvGeometry& g, DirectScratch& s, const int8_t* w, int32_t zw, int32_t bias, int32_t* out) {
  // Weights built here, in locals the compiler keeps in registers (a caller's array of vector
  // type may alias the output, so it would be reloaded after every store).
  typename V::Reg wp[K][(K + 1) / 2];
  WeightPairs<V, K>(w, zw, wp);
  const typename V::Reg b = V::Set1(bias);

  constexpr int64_t kChunk = 2 * V::kLanes;
  const int64_t oh = g.out[0], ow = g.out[1], rs = ow + K - 1, out_plane = oh * ow;
  if constexpr (V::kCompress) {
    for (size_t k = 0; k < s.keep.size(); ++k) {
      const int64_t at = s.keep_at[k];
      Block<V, K, 1, true>(s.padded.data() + k * kChunk, rs, wp, b, out + at, 0, out_plane - at, s.keep[k]);
    }
  } else {
    for (int64_t f = 0; f < oh * rs; f += kChunk) {
      Block<V, K, 1>(s.padded.data() + f, rs, wp, b, s.flat.data() + f, 0, kChunk);
    }
    for (int64_t oy = 0; oy < oh; ++oy) std::memcpy(out + oy * ow, s.flat.data() + oy * rs, static_cast<size_t>(ow) * 4);
  }
}

// Which outputs of each flat chunk are real (column < OW), and where the first one goes.
void FlatKeepMasks(const ConvGeometry& g, int64_t K, int64_t chunk, DirectScratch& s) {
  const int64_t oh = g.out[0], ow = g.out[1], rs = ow + K - 1;
  int64_t at = 0;
  for (int64_t f = 0; f < oh * rs; f += chunk) {
    uint32_t mask = 0;
    for (int64_t p = 0; p < chunk && f + p < oh * rs; ++p) mask |= ((f + p) % rs < ow ? 1u : 0u) << p;
    s.keep.push_back(mask);
    s.keep_at.push_back(at);
    at += std::popcount(mask);
  }
}

// Wide rows go row by row, kRows rows per block, each output stored in place. (Register
// allocation here is touchy: with this loop in a function of its own, or FlatPlane inlined
// beside it, GCC 12 spilled accumulators and the wide shapes ran 15–30% slower.)
template <typename V, int K, typename T>
void DirectPlane(const ConvGeometry& g, const T* x, int32_t zx, const int8_t* w, int32_t zw, int32_t bias,
                 int32_t* out, DirectScratch& s) {
  constexpr int64_t kChunk = 2 * V::kLanes;
  const int64_t oh = g.out[0], ow = g.out[1], rs = ow + K - 1;
  if (ow < kFlatBelowWidth) {
    PadPlane<V, T>(g, K, x, zx, s.padded.data());
    return FlatPlane<V, K>(g, s, w, zw, bias, out);
  }
  typename V::Reg wp[K][(K + 1) / 2];
  WeightPairs<V, K>(w, zw, wp);
  PadPlane<V, T>(g, K, x, zx, s.padded.data());
  const typename V::Reg b = V::Set1(bias);
  int64_t oy = 0;
  for (; oy + V::kRows <= oh; oy += V::kRows) {
    for (int64_t ox = 0; ox < ow; ox += kChunk) {
      Block<V, K, V::kRows>(s.padded.data() + oy * rs + ox, rs, wp, b, out + oy * ow + ox, ow, std::min(kChunk, ow - ox));
    }
  }
  for (; oy < oh; ++oy) {
    for (int64_t ox = 0; ox < ow; ox += kChunk) {
      Block<V, K, 1>(s.padded.data() + oy * rs + ox, rs, wp, b, out + oy * ow + ox, ow, std::min(kChunk, ow - ox));
    }
  }
}

template <typename V, int K, typename T>
void DirectAllPlanes(const DwConvArgs& a) {
  constexpr int64_t kChunk = 2 * V::kLanes;
  const ConvGeometry& g = *a.g;
  const int64_t rs = g.out[1] + K - 1, in_plane = g.in[0] * g.in[1], out_plane = g.out[0] * g.out[1];
  DirectScratch s;
  // The last chunk may read up to kChunk + K outputs' worth past the last row start it covers.
  s.padded.assign(static_cast<size_t>((g.out[0] + K - 1) * rs + 2 * kChunk + 2 * K), 0);
  s.flat.resize(static_cast<size_t>((g.out[0] * rs + kChunk - 1) / kChunk * kChunk));
  if (V::kCompress && g.out[1] < kFlatBelowWidth) FlatKeepMasks(g, K, kChunk, s);
  const T* x = static_cast<const T*>(a.x);
  for (int64_t c = 0; c < a.channels; ++c) {
    DirectPlane<V, K, T>(g, x + c * in_plane, a.zx, a.w + c * K * K, a.zw ? a.zw[c] : 0, a.bias ? a.bias[c] : 0,
                         a.acc + c * out_plane, s);
  }
}

// The direct loop for an eligible geometry (DirectEligible), any input type.
template <typename V>
void DirectDepthwise(const DwConvArgs& a) {
  const bool k3 = a.g->kernel[0] == 3;
  if (a.x_signed) {
    k3 ? DirectAllPlanes<V, 3, int8_t>(a) : DirectAllPlanes<V, 5, int8_t>(a);
  } else {
    k3 ? DirectAllPlanes<V, 3, uint8_t>(a) : DirectAllPlanes<V, 5, uint8_t>(a);
  }
}

}  // namespace
}  // namespace qfarm::kernels
