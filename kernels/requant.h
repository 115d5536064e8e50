// Requantization of int32 accumulator blocks into the output tensor. The general path calls
// reference/'s Requantize/FinishOutput per element; the float32/half-even path (profile `ort`
// and `avx2-u8s8`) is a tight loop proven equal to it: clamping the float before rounding by
// integer bounds one past the output range cannot change the saturated result.
#pragma once

#include <cstdint>
#include <vector>

#include "model/tensor.h"
#include "reference/arith.h"
#include "reference/profile.h"

namespace qfarm::kernels {

// acc is [rows × cols] with row stride acc_ld (0: cols); column c is output channel
// channel0 + c; element (r, c) goes to y[offset + r·row_stride + c·col_stride].
struct AccBlock {
  const int32_t* acc;
  int64_t rows, cols, channel0;
  int64_t offset, row_stride, col_stride;
  bool channel_per_row = false;  // row r (not column c) is output channel channel0 + r
  int64_t acc_ld = 0;
  int64_t ld() const { return acc_ld ? acc_ld : cols; }
};

// One output's requantization, prepared once per node (multipliers converted, the fast path
// chosen) and then applied to many blocks, from several threads at once.
class Requantizer {
 public:
  // rp: one entry per channel, or a single entry shared by `channels` channels (per-tensor
  // weight scale: formed once, not copied per channel).
  Requantizer(const Profile& p, std::vector<RequantParams> rp, int32_t zy, int64_t channels);
  void Run(const AccBlock& b, Tensor& y) const;
  // Whether the float32/half-even fast path applies to outputs of type t: what the fused
  // microkernels compute (kernels/gemm.h FusedRequant), with these multipliers and zero point.
  bool Fusable(DType t) const { return fast_ && (t == DType::kUInt8 || t == DType::kInt8); }
  const float* multipliers() const { return multiplier_.data(); }
  int32_t zero_point() const { return zy_; }
  // Every float32 multiplier below 1 in magnitude: then |float(acc)·m| < 2^31 for any int32
  // acc, which lets the fused output stage skip its float clamp (kernels/requant_lanes.h).
  bool MultipliersBelowOne() const { return below_one_; }

 private:
  void RunGeneral(const AccBlock& b, Tensor& y) const;
  template <typename T>
  void RunFast(const AccBlock& b, T* y) const;

  Profile profile_;
  std::vector<RequantParams> rp_;
  std::vector<float> multiplier_;  // float32 multipliers (fast path)
  int32_t zy_;
  bool fast_;
  bool below_one_ = false;
};

// The raw accumulators (MatMulInteger/ConvInteger outputs, int32).
void StoreBlock(const AccBlock& b, Tensor& y);

}  // namespace qfarm::kernels
