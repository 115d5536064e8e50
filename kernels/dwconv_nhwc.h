// Channels-last (NHWC) depthwise convolution (group = channels, one filter per channel) of one
// image, requantized (QLinearConv) or stored as raw int32 sums (ConvInteger):
//   y[oy][ox][c] = requant(bias[c] + Σ_taps (x_padded[iy][ix][c] − zx)·(w[c][ky][kx] − zw[c]))
// with int32 wrap-around, padding taps equal to zx (they add 0): the same bits as the NCHW
// depthwise kernels (kernels/dwconv.h) and reference/ under every profile with acc_bits=32,
// wrap, pair_sat16=off. Any kernel size, stride, dilation and padding.
//
// Paths: the portable loops (every ISA, AArch64 included; the inner loop runs over contiguous
// channels, so it vectorizes); on AVX-512 VNNI (DwIsa::kAvx512) 3×3 and 5×5 kernels, stride 1
// or 2, dilation 1, run on VPDPBUSD (dwconv_nhwc_avx512.cc), requantized in vector lanes when
// the Requantizer's fast path applies. Every path and thread count computes the same bits.
// Threads split output rows, never a sum. Reentrant; scratch is allocated per call.
#pragma once

#include <cstdint>

#include "kernels/dwconv.h"     // DwIsa
#include "kernels/requant.h"    // Requantizer, AccBlock, StoreBlock
#include "model/conv_geometry.h"
#include "model/tensor.h"

namespace qfarm::kernels {

struct DwNhwcArgs {
  const ConvGeometry* g;
  const void* x;          // one image, [H, W, C] bytes (uint8 or int8 per x_signed)
  bool x_signed;
  int32_t zx;
  const int8_t* w;        // [C, kh, kw], ONNX order
  const int32_t* zw;      // per channel, or nullptr (all 0)
  const int32_t* bias;    // per channel, or nullptr
  int64_t channels;
  const Requantizer* rq;  // nullptr: the raw int32 sums are stored (ConvInteger), else requantized (QLinearConv)
  Tensor* y;              // the output tensor; this image's [OH, OW, C] outputs start at element `offset`
  int64_t offset;
  DwIsa isa = DwIsa::kPortable;
  int threads = 1;        // split output rows, never a sum; results independent of it
};

// y's dtype must be int32 when rq is null, else what rq was prepared for; rq's multipliers
// cover `channels` channels (kernels/requant.h).
void DepthwiseNhwc(const DwNhwcArgs& a);

}  // namespace qfarm::kernels
