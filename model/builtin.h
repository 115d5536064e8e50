// The built-in model suite: small deterministic quantized models used by tests, benchmarks,
// fingerprint probes and `farmctl nightly --local`. Built in C++ (no files, no RNG state shared
// with anything else): the same bytes on every machine and every build.
//
//   mlp               per-tensor int8 MLP: QuantizeLinear → QLinearMatMul (+bias via QLinearAdd)
//                     → Relu → QLinearMatMul → DequantizeLinear
//   mobilenet_block   depthwise 3×3 + pointwise QLinearConv with per-channel weights, residual
//                     QLinearAdd, QLinearGlobalAveragePool
//   transformer_mlp   DynamicQuantizeLinear per token → MatMulInteger → dequant → GELU-free MLP
// each in QOperator form ("<name>") and QDQ form ("<name>_qdq").
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

std::vector<BuiltinModel> BuiltinSuite();

}  // namespace qfarm
