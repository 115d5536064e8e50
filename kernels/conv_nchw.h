// Convolution in the NCHW orientation for the exact paths: C[out channel × position] =
// W[out channel × taps] · im2col(X)[taps × position], so each tile's rows are output planes,
// written contiguously, and the activations are packed once per (image, group) straight from
// their planes with no transpose.
//
// The microkernels multiply u8 rows by s8 panels (qgemm/qgemm.h), so the roles are offset:
// weights become u8 rows w + 128 (GemmProblem::a_signed, compensated by −128·Σ_k B'), the
// activations s8 panels B' = x − 128 for uint8 x (x itself for int8), whose zero point is then
// zx − 128 (zx). Every product w'·x' is exact in int32 and Σ(w − zw)(x − zx) follows from the
// raw sum by the same zero-point identity as ever, modulo 2^32 — so only kernels that do not
// saturate pairs (pair_sat16=off) may use it: VPMADDUBSW saturates different pairs here.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/gemm.h"
#include "model/conv_geometry.h"

namespace qfarm::kernels {

// Weight rows of one group as packed A: [rows × lda] bytes, zeros after k; Σw per row. With
// `offset` the bytes are w + 128 (A of the u8·s8 kernels), else the raw int8 weights (A of the
// s8·u8 fused kernels).
struct WeightRows {
  int64_t rows = 0, k = 0, lda = 0;
  std::vector<uint8_t> data;
  std::vector<int32_t> row_sum;
};
WeightRows PackWeightRows(const int8_t* w, int64_t rows, int64_t k, bool offset);

// im2col of one image and group (x: cpg planes [H × W]) as panels of nr positions: B'[tap][pos]
// (padding taps = zx), col_sum[pos] = Σ_tap B'. Reuses b's storage between calls.
// kS8: B' = x − 128 for uint8 x, x for int8 (the u8·s8 kernels); kU8: B' = x + 128 for int8 x,
// x for uint8 (the s8·u8 kernels), with col_sum only when `sums`.
enum class PanelType { kS8, kU8 };
void PackIm2ColPanels(const ConvGeometry& gm, const uint8_t* x, int64_t cpg, bool x_signed, int32_t zx, int nr,
                      PanelType type, bool sums, PackedWeights& b, int threads = 1);
// The same in two steps, for callers that split panels among threads: ShapePanels sizes b,
// FillPanels fills panels [panel_begin, panel_end) (and their column sums).
void ShapePanels(const ConvGeometry& gm, int64_t cpg, int nr, bool sums, PackedWeights& b);
void FillPanels(const ConvGeometry& gm, const uint8_t* x, bool x_signed, int32_t zx, PanelType type, bool sums,
                PackedWeights& b, int64_t panel_begin, int64_t panel_end);

// The zero point of B' (what zx becomes after the offset).
inline int32_t PanelZeroPoint(bool x_signed, int32_t zx, PanelType type) {
  if (type == PanelType::kS8) return x_signed ? zx : zx - 128;
  return x_signed ? zx + 128 : zx;
}

// A convolution of one image and group through a kernel's fused s8·u8 microkernel
// (QGemmKernel::fused_s8u8): W·im2col(X), corrected and requantized (float32, half-even) into
// out[channel·positions + position]. Threads split position panels.
struct FusedConvArgs {
  const ConvGeometry* gm;
  const QGemmKernel* kernel;
  const WeightRows* rows;  // PackWeightRows(…, offset = false)
  const uint8_t* x;        // cpg planes
  int64_t cpg;
  bool x_signed;
  int32_t zx;
  const int32_t* zw;       // [rows]
  const int32_t* bias;     // [rows] or nullptr
  const float* mult;       // [rows]
  int32_t zy;
  bool out_signed;
  uint8_t* out;
  int threads;
};
void FusedConvS8U8(const FusedConvArgs& a, PackedWeights& panels);

}  // namespace qfarm::kernels
