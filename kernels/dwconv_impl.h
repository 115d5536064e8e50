// The depthwise loops, included by dwconv.cc (baseline ISA) and dwconv_avx2.cc (compiled with
// -mavx2): internal linkage, so each translation unit keeps its own copy built with its own
// flags. Integer arithmetic only, so every copy computes the same bits.
#pragma once

#include <algorithm>
#include <vector>

#include "kernels/dwconv.h"

namespace qfarm::kernels {
namespace {


int64_t CeilDiv(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }
int64_t FloorDiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// One channel plane, row by row: for each kernel tap, the output columns whose input column is
// inside the image form one contiguous range, so the inner loop has no bounds checks and
// vectorizes. Sums are uint32 (two's-complement wrap, no UB); taps outside the image are
// skipped, which equals padding with the zero point.
template <int K, typename T>
void Plane(const ConvGeometry& g, const T* x, int32_t zx, const int8_t* w, int32_t zw, int32_t bias, int32_t* out) {
  const int64_t kh = K ? K : g.kernel[0], kw = K ? K : g.kernel[1];
  const int64_t s0 = g.stride[0], s1 = g.stride[1], d0 = g.dilation[0], d1 = g.dilation[1];
  for (int64_t oy = 0; oy < g.out[0]; ++oy) {
    uint32_t* row = reinterpret_cast<uint32_t*>(out + oy * g.out[1]);
    for (int64_t ox = 0; ox < g.out[1]; ++ox) row[ox] = static_cast<uint32_t>(bias);
    for (int64_t ky = 0; ky < kh; ++ky) {
      const int64_t iy = oy * s0 - g.pad_begin[0] + ky * d0;
      if (iy < 0 || iy >= g.in[0]) continue;
      const T* xr = x + iy * g.in[1];
      for (int64_t kx = 0; kx < kw; ++kx) {
        const uint32_t wv = static_cast<uint32_t>(int32_t{w[ky * kw + kx]} - zw);
        const int64_t shift = kx * d1 - g.pad_begin[1];  // ix = ox·s1 + shift
        const int64_t lo = std::max<int64_t>(0, CeilDiv(-shift, s1));
        const int64_t hi = std::min<int64_t>(g.out[1], FloorDiv(g.in[1] - 1 - shift, s1) + 1);
        for (int64_t ox = lo; ox < hi; ++ox) {
          row[ox] += static_cast<uint32_t>(static_cast<int32_t>(xr[ox * s1 + shift]) - zx) * wv;
        }
      }
    }
  }
}

template <typename T>
void AllPlanes(const DwConvArgs& a) {
  const ConvGeometry& g = *a.g;
  const int64_t in_plane = g.in[0] * g.in[1], out_plane = g.out[0] * g.out[1];
  const int64_t taps = g.kernel[0] * g.kernel[1];
  const T* x = static_cast<const T*>(a.x);
  for (int64_t c = 0; c < a.channels; ++c) {
    const int32_t zw = a.zw ? a.zw[c] : 0, bias = a.bias ? a.bias[c] : 0;
    const int8_t* w = a.w + c * taps;
    int32_t* out = a.acc + c * out_plane;
    const T* plane = x + c * in_plane;
    if (g.kernel[0] == 3 && g.kernel[1] == 3) Plane<3>(g, plane, a.zx, w, zw, bias, out);
    else if (g.kernel[0] == 5 && g.kernel[1] == 5) Plane<5>(g, plane, a.zx, w, zw, bias, out);
    else Plane<0>(g, plane, a.zx, w, zw, bias, out);
  }
}

// Small planes (rows shorter than a few vectors) go channels-last: the input is transposed to
// [H·W][C] with the zero point subtracted, each tap is one multiply-add over a contiguous run of
// channels (which vectorizes whatever the plane size), and the sums are transposed back. uint32
// sums wrap exactly like the per-plane loop's, so both give the same bits.
template <typename T>
void AllChannelsLast(const DwConvArgs& a) {
  const ConvGeometry& g = *a.g;
  const int64_t C = a.channels, IH = g.in[0], IW = g.in[1], OH = g.out[0], OW = g.out[1];
  const int64_t kh = g.kernel[0], kw = g.kernel[1];
  const T* x = static_cast<const T*>(a.x);
  // x − zx and w − zw both lie in [−255, 255] (8-bit values and zero points), so they fit int16
  // and their product fits int32 exactly: half the memory traffic of int32 operands.
  std::vector<int16_t> xt(static_cast<size_t>(IH * IW * C)), wt(static_cast<size_t>(kh * kw * C));
  std::vector<uint32_t> acc(static_cast<size_t>(OH * OW * C));
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t i = 0; i < IH * IW; ++i) xt[i * C + c] = static_cast<int16_t>(static_cast<int32_t>(x[c * IH * IW + i]) - a.zx);
    const int32_t zw = a.zw ? a.zw[c] : 0;
    for (int64_t t = 0; t < kh * kw; ++t) wt[t * C + c] = static_cast<int16_t>(int32_t{a.w[c * kh * kw + t]} - zw);
  }
  for (int64_t oy = 0; oy < OH; ++oy) {
    for (int64_t ox = 0; ox < OW; ++ox) {
      uint32_t* out = acc.data() + (oy * OW + ox) * C;
      for (int64_t c = 0; c < C; ++c) out[c] = a.bias ? static_cast<uint32_t>(a.bias[c]) : 0;
      for (int64_t ky = 0; ky < kh; ++ky) {
        const int64_t iy = oy * g.stride[0] - g.pad_begin[0] + ky * g.dilation[0];
        if (iy < 0 || iy >= IH) continue;
        for (int64_t kx = 0; kx < kw; ++kx) {
          const int64_t ix = ox * g.stride[1] - g.pad_begin[1] + kx * g.dilation[1];
          if (ix < 0 || ix >= IW) continue;
          const int16_t* xi = xt.data() + (iy * IW + ix) * C;
          const int16_t* wi = wt.data() + (ky * kw + kx) * C;
          for (int64_t c = 0; c < C; ++c) out[c] += static_cast<uint32_t>(int32_t{xi[c]} * int32_t{wi[c]});
        }
      }
    }
  }
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t i = 0; i < OH * OW; ++i) a.acc[c * OH * OW + i] = static_cast<int32_t>(acc[i * C + c]);
  }
}

// Rows this short leave most of a vector idle in the per-plane loop.
constexpr int64_t kChannelsLastBelowWidth = 32;

template <typename Unused = void>
void DepthwiseConvImpl(const DwConvArgs& a) {
  const bool channels_last = a.g->out[1] < kChannelsLastBelowWidth && a.channels >= 8;
  if (a.x_signed) {
    channels_last ? AllChannelsLast<int8_t>(a) : AllPlanes<int8_t>(a);
  } else {
    channels_last ? AllChannelsLast<uint8_t>(a) : AllPlanes<uint8_t>(a);
  }
}

}  // namespace
}  // namespace qfarm::kernels
