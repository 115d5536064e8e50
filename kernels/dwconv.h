// Direct depthwise convolution (group = channels, one filter per channel), specialized for 3×3
// and 5×5 kernels: exact int32 sums of (x − zx)·w + bias with wrap-around, so it serves the
// paths whose products are exact (pair_sat16=off); the VPMADDUBSW path keeps the GEMM form,
// which reproduces its pair saturation.
//
// Every level and every thread count computes the same bits: x − zx and w − zw lie in
// [−255, 255], so each product is exact in int32 (VPMADDWD sums two of them, never near its one
// overflow case −32768·−32768) and the int32 sums wrap identically in any order. Threads split
// channel planes, never a sum. DepthwiseConv is reentrant; it allocates its scratch per call.
#pragma once

#include <cstdint>
#include <vector>

#include "model/conv_geometry.h"

namespace qfarm::kernels {

// Which copy of the loops runs. kAvx2 and kAvx512 add, for 3×3 and 5×5 stride-1 dilation-1
// kernels, a VPMADDWD plane loop on ymm (AVX2) or zmm (AVX-512BW); other shapes use the
// portable loops compiled with that file's flags. A level the CPU lacks runs the best one below.
enum class DwIsa { kPortable, kAvx2, kAvx512 };

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
  DwIsa isa = DwIsa::kPortable;
  int threads = 1;    // channel planes split across this many threads (kernels/parallel.h)
};

void DepthwiseConv(const DwConvArgs& a);

// Whether this CPU runs `isa` as asked (false: DepthwiseConv falls back to a lower level).
bool DwIsaAvailable(DwIsa isa);

#if defined(__x86_64__)
// Small planes, requantized in the same pass (dwconv_small_avx512.cc): 3×3, stride 1, dilation
// 1, output plane = input plane of at most 256 pixels; float32/half-even requantization (the
// Requantizer fast path) into 8-bit NCHW outputs. Needs AVX-512BW/VL/VNNI (DwSmallAvailable).
struct DwSmallArgs {
  const ConvGeometry* g;
  const void* x;  // one image, [C, H, W]
  bool x_signed;
  int32_t zx;
  const int8_t* w;      // [C, 3, 3]
  const int32_t* zw;    // per channel, or nullptr
  const int32_t* bias;  // per channel, or nullptr
  int64_t channels;
  const float* mult;    // per channel
  int32_t zy;
  bool out_signed;
  uint8_t* out;         // [C, H, W]
};
bool DwSmallAvailable();
bool DwSmallEligible(const ConvGeometry& g);
// Channels [c_begin, c_end); c_begin a multiple of 32 except at the start.
void DepthwiseSmallRequantAvx512(const DwSmallArgs& a, int64_t c_begin, int64_t c_end);
#endif

}  // namespace qfarm::kernels
