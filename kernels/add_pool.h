// Kernel forms of QLinearAdd, QLinearAveragePool and QLinearGlobalAveragePool (NCHW, per-tensor
// quantization). Each reproduces reference/ops' arithmetic for the profiles listed below, bit
// for bit, with plane- or row-wise loops the compiler vectorizes; anything else returns a
// NotFound status and the executor runs the reference op instead:
//   QLinearAdd: requant=float32 (ONNX Runtime MLAS: float ratios sa/sy, sb/sy, the zero points
//     folded into one constant, per-element operands by fused multiply-add, an operand constant
//     over the innermost run folded into the constant) and requant=float64; any rounding rule;
//     NumPy broadcasting. The fixed-point TFLite algorithm stays in the reference.
//   Average pools (2-D): float32 (QLinearAveragePool: dequantized float sum in window order,
//     divide, divide by sy, add zy, round; QLinearGlobalAveragePool: integer sum times the float
//     scale sx/count/sy), float64, and the integer schemes (TFLite's (sum ± count/2)/count when
//     scales and zero points agree, else Requantize by sx/(sy·count)); count_include_pad,
//     strides, dilations, pads, ceil_mode. Integer sums are exact in int64: the kernel declines
//     acc_bits below 32 and windows large enough to leave 32 bits.
// Threads split independent outputs (channel planes, element ranges), never a sum.
#pragma once

#include <vector>

#include "common/status.h"
#include "model/graph.h"
#include "model/tensor.h"
#include "reference/profile.h"

namespace qfarm::kernels {

StatusOr<std::vector<Tensor>> KernelQLinearAdd(const Node& node, const Profile& profile,
                                               const std::vector<const Tensor*>& inputs, int threads);

// channels_last (global pooling only): x is channels-last (kernels/layout.h); the [N, C, 1, 1]
// output is the same bytes in either order.
StatusOr<std::vector<Tensor>> KernelQLinearAveragePool(const Node& node, const Profile& profile,
                                                       const std::vector<const Tensor*>& inputs,
                                                       bool global, int threads, bool channels_last = false);

}  // namespace qfarm::kernels
