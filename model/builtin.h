// The built-in model suite: small deterministic quantized models used by tests, benchmarks,
// fingerprint probes and `farmctl nightly --local`. Built in C++ (no files; weights and sample
// inputs from a fixed-seed splitmix64 stream mapped with integer math, model/graph_builder.h):
// the same bytes on every machine, compiler and build. Every model has one float input "x" and
// one float output "y".
//
//   mlp               per-tensor int8, opset 14: QuantizeLinear → QLinearMatMul 64→128 "fc1" →
//                     com.microsoft QLinearAdd of an int8 bias row "fc1_bias" → Relu on int8 →
//                     QLinearMatMul 128→10 "fc2" → DequantizeLinear. Full-range int8 weights
//                     (−128..127), so int16 pair saturation (avx2-u8s8) changes results.
//   mobilenet_block   uint8 activations [1,16,16,16] NCHW (QuantizeLinear of the float input):
//                     QLinearConv pointwise 16→32 "pw_expand", depthwise 3×3 group 32 pad 1
//                     "dw3x3", pointwise 32→16 "pw_project" (per-channel int8 weights, int32
//                     bias), residual com.microsoft QLinearAdd with the input, QLinearAveragePool
//                     2×2 "avgpool2x2", QLinearGlobalAveragePool, DequantizeLinear → [1,16,1,1].
//   transformer_mlp   float [4,64], 4 tokens: Split → per token DynamicQuantizeLinear →
//                     MatMulInteger 64→256 (uint8 × int8, zero-point inputs) → Cast → Mul by
//                     (token scale × weight scale) → Relu → DynamicQuantizeLinear →
//                     MatMulInteger 256→64 → Cast → Mul → Concat → float [4,64].
//
// Each also in QDQ form "<name>_qdq": the same weights, scales and inputs written as
// DequantizeLinear → {MatMul, Add, Conv, AveragePool} → QuantizeLinear, for FuseQdq
// (model/qdq_fusion.h). What fuses:
//   mlp_qdq              fc1, fc1_bias, fc2 → QLinearMatMul, QLinearAdd, QLinearMatMul; the Relu
//                        stays DQ → Relu → Q in float (exact: zero point 0, so it equals the
//                        integer Relu). Same output bytes as mlp under every profile.
//   mobilenet_block_qdq  the three convs (float bias as DQ of int32 at s_x·s_w), the residual and
//                        both pools → QLinearConv ×3, QLinearAdd, QLinearAveragePool ×2 (the global
//                        pool is an 8×8 AveragePool). Same output bytes under every profile.
//   transformer_mlp_qdq  nothing: the activations' DQ takes DynamicQuantizeLinear's runtime scale,
//                        and a MatMul with no QuantizeLinear after it has no fused form (ONNX
//                        Runtime would use com.microsoft MatMulIntegerToFloat). The MatMuls run in
//                        float on the dequantized integers; the output ends with a static Q/DQ
//                        pair (scale 0.165, int8), so it is within 1 LSB of transformer_mlp
//                        quantized at that scale, except under int16 pair saturation.
//
// Thread-safe (no shared state); each call builds fresh graphs.
#pragma once

#include <string>
#include <vector>

#include "model/graph.h"

namespace qfarm {

struct BuiltinModel {
  std::string name;
  Graph graph;
  TensorMap sample_inputs;  // deterministic inputs for every graph input
};

// The six models, in the order mlp, mlp_qdq, mobilenet_block, mobilenet_block_qdq,
// transformer_mlp, transformer_mlp_qdq.
std::vector<BuiltinModel> BuiltinSuite();

}  // namespace qfarm
