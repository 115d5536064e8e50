// Convolutions (group = 1) on channels-last activations (kernels/layout.h), as oneDNN and
// XNNPACK run them: per image a GEMM whose rows are output positions and whose columns are
// output channels, so each row of C is one output pixel's channels, stored contiguously, and
// the u8·s8 microkernels take the activations as their A rows directly:
//   - 1×1, stride 1, no padding: A is the input itself ([H·W × C]; read in place when it is
//     uint8 with C a multiple of 4, else packed per tile by the GEMM driver);
//   - anything else: im2col rows ([position × (ky, kx, c)], each kernel row a run of kw·C
//     contiguous bytes; padding taps the zero point). With uint8 x and symmetric weights the
//     kernel's indirect form reads the runs in place (GemmProblem::a_runs; rows that touch the
//     padding are built in a per-thread buffer); otherwise the GEMM driver builds the rows one
//     tile at a time (GemmProblem::a_rows), so they are in L1 while every column panel
//     multiplies them. Threads split rows (positions) or column panels, as for any GEMM.
// B is the weights packed once with k in (ky, kx, c) order (PackConvWeightsNhwc). Every
// correction and the requantization are the GEMM driver's (kernels/gemm.h), so the sums are
// the same int32 sums with wrap-around as every other path; products are exact, the k order
// cannot matter — only kernels that do not saturate pairs (pair_sat16=off) may use it.
#pragma once

#include <cstdint>

#include "kernels/gemm.h"
#include "kernels/requant.h"
#include "model/conv_geometry.h"
#include "model/tensor.h"

namespace qfarm::kernels {

// w is [m, cin, kh, kw] (ONNX); B[(ky·kw + kx)·cin + c][o] = w[o][c][ky][kx].
PackedWeights PackConvWeightsNhwc(const int8_t* w, int64_t m, int64_t cin, int64_t kh, int64_t kw, int nr);

struct ConvNhwcArgs {
  const ConvGeometry* g;
  const QGemmKernel* kernel;
  const PackedWeights* w;  // PackConvWeightsNhwc
  const uint8_t* x;        // one image, [H, W, cin]
  int64_t cin;
  bool x_signed;
  int32_t zx;
  const int32_t* zw;       // [m]
  const int32_t* bias;     // [m] or nullptr
  const Requantizer* rq;   // nullptr: the int32 sums are stored (ConvInteger)
  Tensor* y;               // this image's [OH, OW, m] outputs start at element `offset`
  int64_t offset;
  int threads;
};
void ConvNhwc(const ConvNhwcArgs& a);

}  // namespace qfarm::kernels
