// Requantization of an int32 accumulator block into the output tensor. The general path calls
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

// acc is [rows × cols] row-major; column c is output channel channel0 + c; element (r, c) goes
// to y[offset + r·row_stride + c·col_stride].
struct AccBlock {
  const int32_t* acc;
  int64_t rows, cols, channel0;
  int64_t offset, row_stride, col_stride;
  bool channel_per_row = false;  // row r (not column c) is output channel channel0 + r
};

void RequantizeBlock(const Profile& p, const std::vector<RequantParams>& rp, int32_t zy,
                     const AccBlock& b, Tensor& y);

// The raw accumulators (MatMulInteger/ConvInteger outputs, int32).
void StoreBlock(const AccBlock& b, Tensor& y);

}  // namespace qfarm::kernels
