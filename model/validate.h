// Validation and shape inference of a Graph against the op set qfarm supports (model/ops.md).
//
// Validate() checks everything a malformed or hostile model can get wrong before anything runs:
// unknown ops, arity, element types, shapes, scales (> 0, finite), zero points (type and range),
// bias type and length, attribute values, references to undefined values, cycles, and sizes over
// the limits. Every error is one line "node '<name>' (<op>): <field>: <what>" that callers prefix
// with the file name. On success it returns the inferred type and shape of every value.
#pragma once

#include <map>
#include <string>

#include "common/status.h"
#include "model/graph.h"

namespace qfarm {

struct ModelLimits {
  int64_t max_tensor_elements = int64_t{1} << 28;  // per tensor
  int64_t max_total_bytes = int64_t{4} << 30;      // all values together
  int64_t max_nodes = 100000;
};

using ValueInfoMap = std::map<std::string, ValueInfo>;

StatusOr<ValueInfoMap> Validate(const Graph& graph, const ModelLimits& limits = {});

// Output types and shapes of one node given its inputs' infos and the constant values among its
// inputs (initializers). Used by Validate() and by executors to allocate outputs.
StatusOr<std::vector<ValueInfo>> InferNode(const Node& node, const std::vector<ValueInfo>& inputs,
                                           const TensorMap& constants);
// The same with the constant inputs given by position (nullptr where an input is not constant),
// so an executor checks a node's scales and zero points without copying them.
StatusOr<std::vector<ValueInfo>> InferNode(const Node& node, const std::vector<ValueInfo>& inputs,
                                           const std::vector<const Tensor*>& constants);

// True if qfarm knows (domain, op_type).
bool IsSupportedOp(const std::string& domain, const std::string& op_type);

}  // namespace qfarm
