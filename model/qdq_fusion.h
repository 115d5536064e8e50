// QDQ fusion: rewrites DequantizeLinear → {Conv, MatMul, Gemm, Add, AveragePool} → QuantizeLinear
// patterns into the integer op (QLinearConv, QLinearMatMul, QLinearAdd, QLinearAveragePool), the
// way ONNX Runtime fuses them, so the emulator runs the arithmetic a device runs. Only patterns
// whose dequantized inputs are consumed by the float op alone and whose parameters are constant
// are fused; everything else is left as it is (and still runs, in float).
#pragma once

#include <string>
#include <vector>

#include "model/graph.h"

namespace qfarm {

struct FusionRecord {
  std::string fused_node;                 // name of the new integer node
  std::string op_type;                    // its op
  std::vector<std::string> source_nodes;  // the DQ/op/Q nodes it replaced
};

// Returns the fused graph; `records` lists what was fused.
Graph FuseQdq(const Graph& graph, std::vector<FusionRecord>* records);

}  // namespace qfarm
