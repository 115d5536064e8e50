// Single-node entry point of the reference emulator, for executors that run some ops themselves
// (kernels/) and hand the rest to the reference.
#pragma once

#include <vector>

#include "common/status.h"
#include "model/graph.h"
#include "reference/profile.h"

namespace qfarm {

// Runs one node. `inputs` follows node.inputs (nullptr for omitted optional inputs); the result
// follows node.outputs. Checks what static validation cannot: runtime scales (> 0, finite), zero
// points (range), and shapes; errors name the node and the input.
StatusOr<std::vector<Tensor>> RunReferenceNode(const Node& node, const Profile& profile,
                                               const std::vector<const Tensor*>& inputs);

// Inputs of at most this many elements are handed to InferNode as constants (their values are
// read and checked: scales, zero points, shape tensors); larger ones only by type and shape.
constexpr int64_t kInferConstantElements = 4096;

// The node's outputs, allocated with the types and shapes InferNode gives for these inputs
// (small inputs are passed as constants, so scales and zero points are checked too).
// zero = false leaves the storage uninitialized: for kernels that write every output element.
StatusOr<std::vector<Tensor>> AllocateOutputs(const Node& node, const std::vector<const Tensor*>& inputs,
                                              bool zero = true);

// Multiply-accumulates a MatMul- or Conv-like node performs (0 for other ops).
int64_t NodeMacs(const Node& node, const std::vector<const Tensor*>& inputs,
                 const std::vector<Tensor>& outputs);

}  // namespace qfarm
