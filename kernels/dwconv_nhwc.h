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
// Threads split output rows, never a sum. Reentrant: per-thread scratch is kept between calls
// (thread_local), so a call allocates nothing once a thread has run a plane as large.
//
// The weights' part of the AVX-512 path (their interleaved layout, Σw per channel) can be formed
// once per node with PrepareDwNhwcWeights and handed to every call (DwNhwcArgs::prepared); a
// call without it forms the same per call. Either way the output bits are the same.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/dwconv.h"     // DwIsa
#include "kernels/requant.h"    // Requantizer, AccBlock, StoreBlock
#include "model/conv_geometry.h"
#include "model/tensor.h"

namespace qfarm::kernels {

// What the AVX-512 VNNI loops read of the weights alone: the weights in their kernel-rows-
// interleaved layout (dwconv_nhwc_avx512.cc) and Σw per channel. Immutable once built, so any
// number of calls and threads may read one at once; owns its memory.
struct DwNhwcWeights {
  int64_t channels = 0;
  int kernel = 0;                   // 3 or 5 (square); 0: empty, nothing to prepare
  std::vector<int8_t> interleaved;  // [64-channel block][group of 4 kernel rows][kx][channel][4 rows]
  std::vector<int32_t> sum_w;       // [blocks·64]: Σ_taps w[c] (0 past `channels`)
  bool empty() const { return kernel == 0; }
};

// The prepared form of ONNX depthwise weights w [channels, kh, kw]; empty when isa is not
// kAvx512, the CPU lacks it, or the kernel is not 3×3 or 5×5 (those calls never read it).
DwNhwcWeights PrepareDwNhwcWeights(const int8_t* w, int64_t channels, int64_t kh, int64_t kw, DwIsa isa);

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
  // PrepareDwNhwcWeights(w, channels, kh, kw, isa) of these very weights, or nullptr (or an
  // empty one, or one of another channel count or kernel size): then formed per call.
  const DwNhwcWeights* prepared = nullptr;
};

// y's dtype must be int32 when rq is null, else what rq was prepared for; rq's multipliers
// cover `channels` channels (kernels/requant.h).
void DepthwiseNhwc(const DwNhwcArgs& a);

}  // namespace qfarm::kernels
