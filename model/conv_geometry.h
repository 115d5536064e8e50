// Convolution and pooling geometry as ONNX defines it: kernel, strides, dilations, and the pads
// that auto_pad (NOTSET, SAME_UPPER, SAME_LOWER, VALID) and ceil_mode resolve to. Shared by
// validation, the reference ops and the kernels so output sizes are computed in one place.
// Spatial rank 1 or 2; a 1-D geometry is the 2-D one with H = 1.
#pragma once

#include <array>
#include <cstdint>

#include "common/status.h"
#include "model/graph.h"

namespace qfarm {

struct ConvGeometry {
  int spatial_rank = 2;
  std::array<int64_t, 2> in{1, 1};       // H, W of the input
  std::array<int64_t, 2> kernel{1, 1};
  std::array<int64_t, 2> stride{1, 1};
  std::array<int64_t, 2> dilation{1, 1};
  std::array<int64_t, 2> pad_begin{0, 0};
  std::array<int64_t, 2> pad_end{0, 0};
  std::array<int64_t, 2> out{1, 1};
};

// x_shape is [N, C, spatial...]; kernel_spatial the kernel's spatial dims (from the weight shape
// or the kernel_shape attribute). `ceil_mode` applies to pooling only. Errors name the attribute.
StatusOr<ConvGeometry> ResolveConvGeometry(const Node& node, const Shape& x_shape,
                                           const std::vector<int64_t>& kernel_spatial,
                                           bool allow_ceil_mode);

}  // namespace qfarm
