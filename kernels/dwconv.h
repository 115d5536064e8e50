// Direct depthwise convolution (group = channels, one filter per channel), specialized for 3×3
// and 5×5 kernels: exact int32 sums of (x − zx)·w + bias with wrap-around, so it serves the
// paths whose products are exact (pair_sat16=off); the VPMADDUBSW path keeps the GEMM form,
// which reproduces its pair saturation.
#pragma once

#include <cstdint>
#include <vector>

#include "model/conv_geometry.h"

namespace qfarm::kernels {

struct DwConvArgs {
  const ConvGeometry* g;
  const void* x;      // one image, [C, H, W] NCHW
  bool x_signed;
  int32_t zx;
  const int8_t* w;    // [C, kh, kw]
  const int32_t* zw;  // per channel, or nullptr
  const int32_t* bias;  // per channel, or nullptr
  int64_t channels;
  int32_t* acc;       // [C, OH·OW] accumulators out
  bool avx2 = false;  // use the copy built with -mavx2 (x86 paths other than scalar; same bits)
};

void DepthwiseConv(const DwConvArgs& a);

}  // namespace qfarm::kernels
