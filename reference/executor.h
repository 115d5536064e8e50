// The bit-exact reference executor: runs a validated Graph with one arithmetic profile, op by op
// in the graph's topological order, using the plain-loop op implementations in reference/ops/.
//
// Deterministic and machine-independent: the same graph, profile and inputs give the same bytes
// on every platform (no threads, no SIMD, no FMA). Also the real-valued reference: the same graph
// on dequantized values in double with no rounding or saturation, for accuracy metrics.
// Thread-compatible: distinct calls may run concurrently.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "model/graph.h"
#include "reference/profile.h"

namespace qfarm {

struct ExecOptions {
  // Keep every intermediate value in the result (for layer-by-layer diffs).
  bool capture_intermediates = false;
  // Refuse to allocate more than this many bytes for all live tensors together.
  int64_t max_tensor_bytes = int64_t{4} << 30;
};

struct ExecResult {
  TensorMap outputs;        // the graph outputs, by name
  TensorMap intermediates;  // every node output, when captured
  int64_t macs = 0;         // multiply-accumulates performed by MatMul/Conv-like ops
};

// `inputs` must hold every graph input (by name); values given for initializers override them
// (quantization parameters included). Errors name the node and the input at fault.
StatusOr<ExecResult> RunReference(const Graph& graph, const Profile& profile,
                                  const TensorMap& inputs, const ExecOptions& options = {});

// The executor loop itself, with the per-node step supplied by the caller: optimized executors
// (kernels/) run their own ops and hand the rest to RunReferenceNode, and share validation,
// input checks, capture and limits with the reference. `run_node` gets the node's inputs in
// order (nullptr for omitted ones) and returns its outputs in order.
using NodeRunner = std::function<StatusOr<std::vector<Tensor>>(const Node&,
                                                               const std::vector<const Tensor*>&)>;
StatusOr<ExecResult> RunGraph(const Graph& graph, const TensorMap& inputs,
                              const ExecOptions& options, const NodeRunner& run_node);

// The real-valued reference: every value as double (quantized tensors dequantized with their
// scale and zero point; QuantizeLinear passes the real value through unrounded, nothing
// saturates). A quantized value travels as its unrounded quantized-domain value q̃ = x/s + z, so
// every op reads (q̃ − z)·s with its own parameters, as the integer op reads q; integer graph
// inputs and initializers have q̃ = q. Outputs of integer type are reported dequantized with the
// (scale, zero) of the op that produced them, recorded in quant_params so a device's integer
// output can be dequantized the same way.
struct RealResult {
  std::map<std::string, std::vector<double>> outputs;  // real values
  std::map<std::string, Shape> shapes;
  std::map<std::string, std::pair<double, double>> quant_params;  // (scale, zero) per output
};
StatusOr<RealResult> RunRealValued(const Graph& graph, const TensorMap& inputs);

}  // namespace qfarm
