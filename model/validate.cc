// Graph-level validation: definitions before uses, limits, graph inputs and outputs; per-node
// checks are InferNode's (op_infer.cc).
#include "model/validate.h"

#include <set>

namespace qfarm {
namespace {

bool SupportedValueType(DType t) { return t != DType::kUndefined; }

Status CheckSize(const std::string& what, const ValueInfo& v, const ModelLimits& limits,
                 int64_t* total_bytes) {
  const int64_t n = NumElements(v.shape);
  if (n < 0) return InvalidArgument(what + " '" + v.name + "': negative dimension in " +
                                    ShapeToString(v.shape));
  if (n > limits.max_tensor_elements) {
    return ResourceExhausted(what + " '" + v.name + "': " + ShapeToString(v.shape) + " has " +
                             std::to_string(n) + " elements, over the limit of " +
                             std::to_string(limits.max_tensor_elements));
  }
  *total_bytes += n * static_cast<int64_t>(DTypeSize(v.dtype));
  if (*total_bytes > limits.max_total_bytes) {
    return ResourceExhausted(what + " '" + v.name + "': the model's tensors need more than " +
                             std::to_string(limits.max_total_bytes) + " bytes");
  }
  return Status::Ok();
}

}  // namespace

StatusOr<ValueInfoMap> Validate(const Graph& graph, const ModelLimits& limits) {
  if (static_cast<int64_t>(graph.nodes.size()) > limits.max_nodes) {
    return ResourceExhausted("graph has " + std::to_string(graph.nodes.size()) +
                             " nodes, over the limit of " + std::to_string(limits.max_nodes));
  }
  ValueInfoMap values;
  int64_t total_bytes = 0;
  for (const auto& [name, t] : graph.initializers) {
    ValueInfo v{name, t.dtype(), t.shape()};
    QFARM_RETURN_IF_ERROR(CheckSize("initializer", v, limits, &total_bytes));
    values[name] = v;
  }
  for (const ValueInfo& in : graph.inputs) {
    if (!SupportedValueType(in.dtype)) {
      return InvalidArgument("graph input '" + in.name + "': unsupported element type");
    }
    if (values.count(in.name) && !graph.initializers.count(in.name)) {
      return InvalidArgument("graph input '" + in.name + "': defined twice");
    }
    ValueInfo v = in;
    for (int64_t& d : v.shape) {
      if (d < 0) d = 1;  // dynamic dims are validated as 1; executors re-infer with real shapes
    }
    QFARM_RETURN_IF_ERROR(CheckSize("graph input", v, limits, &total_bytes));
    values[in.name] = v;
  }
  std::set<std::string> node_names;
  for (const Node& node : graph.nodes) {
    const std::string where = "node '" + node.name + "' (" + node.op_type + ")";
    if (!node_names.insert(node.name).second) {
      return InvalidArgument(where + ": node name is used twice");
    }
    if (!IsSupportedOp(node.domain, node.op_type)) {
      return InvalidArgument(where + ": unknown op '" +
                             (node.domain.empty() ? "ai.onnx" : node.domain) + "::" +
                             node.op_type + "' (qfarm supports the ops listed in model/ops.md)");
    }
    if (node.outputs.empty()) return InvalidArgument(where + ": has no outputs");
    std::vector<ValueInfo> ins;
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const std::string& name = node.inputs[i];
      if (name.empty()) {
        ins.push_back(ValueInfo{});
        continue;
      }
      auto it = values.find(name);
      if (it == values.end()) {
        return InvalidArgument(where + ": input " + std::to_string(i) + " '" + name +
                               "' is not defined by a graph input, an initializer or an earlier "
                               "node (undefined value, or the graph has a cycle)");
      }
      ins.push_back(it->second);
    }
    QFARM_ASSIGN_OR_RETURN(std::vector<ValueInfo> outs,
                           InferNode(node, ins, graph.initializers));
    // Relu gained integer inputs in opset 14; ONNX Runtime rejects them before that.
    if (node.op_type == "Relu" && node.domain.empty() && graph.opset < 14 && !ins.empty() &&
        IsIntegerType(ins[0].dtype)) {
      return InvalidArgument(where + ": input 0 '" + node.inputs[0] + "': Relu on " +
                             std::string(DTypeName(ins[0].dtype)) + " needs opset 14 or later (model has " +
                             std::to_string(graph.opset) + ")");
    }
    for (const ValueInfo& o : outs) {
      if (o.name.empty()) continue;
      if (values.count(o.name)) {
        return InvalidArgument(where + ": output '" + o.name + "' is already defined");
      }
      QFARM_RETURN_IF_ERROR(CheckSize(where + ": output", o, limits, &total_bytes));
      values[o.name] = o;
    }
  }
  for (const ValueInfo& out : graph.outputs) {
    auto it = values.find(out.name);
    if (it == values.end()) {
      return InvalidArgument("graph output '" + out.name + "' is not produced by any node");
    }
    if (out.dtype != DType::kUndefined && out.dtype != it->second.dtype) {
      return InvalidArgument("graph output '" + out.name + "': declared " +
                             std::string(DTypeName(out.dtype)) + " but computed " +
                             std::string(DTypeName(it->second.dtype)));
    }
  }
  if (graph.outputs.empty()) return InvalidArgument("graph has no outputs");
  return values;
}

}  // namespace qfarm
