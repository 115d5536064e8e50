// QDQ fusion: rewrites DequantizeLinear → {Conv, MatMul, Gemm, Add, AveragePool} → QuantizeLinear
// patterns into the integer op (QLinearConv, QLinearMatMul, com.microsoft QLinearAdd and
// QLinearAveragePool), the way ONNX Runtime fuses them, so the emulator runs the arithmetic a
// device runs. Protobuf-free (part of qfarm_model). Thread-compatible; the input is not modified.
//
// A pattern fuses only when all of these hold; otherwise it is left as it is (and runs in float):
//  - every DequantizeLinear output it reads and the float op's output have exactly one consumer
//    (a graph output counts as one), and that consumer of the float op is a QuantizeLinear;
//  - every scale and zero point is an initializer; activations (and the output) are per-tensor,
//    8-bit (int8/uint8); Add and AveragePool keep one element type from input to output;
//  - Conv weights per-tensor or per output channel (DQ axis 0); MatMul weights per-tensor or per
//    column (DQ axis = last); Gemm only with transA=0, alpha=1, beta=1 and no C input (a Gemm
//    with a bias stays unfused: QLinearMatMul takes none); transB=1 needs a constant weight,
//    which is transposed into a new initializer "<w>_transposed" (its per-row parameters become
//    per-column); AveragePool without dilations other than 1;
//  - the fused node infers (InferNode) to the QuantizeLinear's output type and shape.
// Conv bias: a DequantizeLinear of an int32 initializer whose scale is s_x·s_w[m] (float32
// product, relative tolerance 1e-6) and zero point 0 becomes the int32 bias input as it is. Any
// other constant bias (a float32 initializer, or a DQ of int32 at another scale) is quantized as
// ONNX Runtime's quantizer (quantize_bias_static) does, in float32: q = clip(round_half_even(
// b / (s_x·s_w[m])), INT32_MIN, INT32_MAX), stored as "<conv>_bias_int32". A bias computed at run
// time prevents fusion.
// Omitted zero points become explicit scalar zeros of the quantized type. The fused node keeps
// the float op's name and takes the QuantizeLinear's output name. Afterwards, DequantizeLinear /
// QuantizeLinear nodes whose outputs nothing reads and initializers nothing reads are removed.
// Q→DQ pairs around Relu/MaxPool/Reshape are not folded (they stay in float; exact where the
// zero point and scale make the float op commute with quantization).
// The graph must validate (Validate()): fusion needs every value's type; an invalid graph is
// returned unchanged with no records.
#pragma once

#include <string>
#include <vector>

#include "model/graph.h"

namespace qfarm {

struct FusionRecord {
  std::string fused_node;                 // name of the new integer node
  std::string op_type;                    // its op
  std::vector<std::string> source_nodes;  // replaced nodes: input DQs (bias DQ last), op, Q
};

// Returns the fused graph; `records` lists what was fused.
Graph FuseQdq(const Graph& graph, std::vector<FusionRecord>* records);

}  // namespace qfarm
