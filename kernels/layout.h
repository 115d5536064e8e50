// Channels-last activations. The kernels may keep a 4-D activation [N, C, H, W] with its bytes
// in N, H, W, C order ("channels-last", what oneDNN and XNNPACK call NHWC) between the ops that
// have channels-last forms, as ONNX Runtime's NHWC transformer does: the tensor keeps its
// logical NCHW shape, only the order of its elements changes, so shapes, MAC counts and
// validation are untouched and a permutation back gives the reference's bytes exactly.
#pragma once

#include "model/tensor.h"

namespace qfarm::kernels {

// The same logical tensor [N, C, spatial...] with its elements reordered N, spatial..., C.
// Rank ≤ 2 tensors (and C = 1 or spatial size 1) come back as a plain copy: both orders agree.
Tensor ToChannelsLast(const Tensor& t);
// The inverse: a channels-last tensor back to the standard (NCHW) order.
Tensor ToChannelsFirst(const Tensor& t);

}  // namespace qfarm::kernels
