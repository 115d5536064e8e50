// Graph-level validation: definitions before uses, limits, graph inputs and outputs, the forms
// an op takes at the model's opset; per-node checks are InferNode's (op_infer.cc).
#include "model/validate.h"

#include <limits>
#include <set>

namespace qfarm {
namespace {

constexpr int64_t kMinOpset = 10, kMaxOpset = 19;

// Element types a value may have: the enumerators of DType (a hostile importer or IR file can
// put any number in the field).
bool SupportedValueType(DType t) {
  switch (t) {
    case DType::kFloat32: case DType::kUInt8: case DType::kInt8: case DType::kUInt16:
    case DType::kInt16: case DType::kInt32: case DType::kInt64: case DType::kFloat16:
    case DType::kFloat64: case DType::kUInt4: case DType::kInt4:
      return true;
    case DType::kUndefined: break;
  }
  return false;
}

std::string TypeName(DType t) {
  return SupportedValueType(t) ? std::string(DTypeName(t))
                               : "undefined (" + std::to_string(static_cast<int32_t>(t)) + ")";
}

// Element count, bytes and every single dim against the limits; `total_bytes` accumulates over
// the whole model and saturates instead of overflowing.
Status CheckSize(const std::string& what, const ValueInfo& v, const ModelLimits& limits,
                 int64_t* total_bytes) {
  const int64_t n = NumElements(v.shape);  // saturates at INT64_MAX
  if (n < 0) return InvalidArgument(what + " '" + v.name + "': negative dimension in " +
                                    ShapeToString(v.shape));
  bool dim_over = false;
  for (int64_t d : v.shape) dim_over = dim_over || d > limits.max_tensor_elements;
  if (n > limits.max_tensor_elements || dim_over) {
    return ResourceExhausted(what + " '" + v.name + "': " + ShapeToString(v.shape) + " has " +
                             (n == std::numeric_limits<int64_t>::max() ? "more than 2^63"
                                                                       : std::to_string(n)) +
                             " elements" + (dim_over ? " or a dimension" : "") +
                             " over the limit of " + std::to_string(limits.max_tensor_elements));
  }
  const int64_t esize = static_cast<int64_t>(DTypeSize(v.dtype));
  const int64_t max = std::numeric_limits<int64_t>::max();
  const int64_t bytes = (esize != 0 && n > max / esize) ? max : n * esize;
  *total_bytes = bytes > max - *total_bytes ? max : *total_bytes + bytes;
  if (*total_bytes > limits.max_total_bytes) {
    return ResourceExhausted(what + " '" + v.name + "': the model's tensors need more than " +
                             std::to_string(limits.max_total_bytes) + " bytes, over the limit");
  }
  return Status::Ok();
}

std::string Where(const Node& node) { return "node '" + node.name + "' (" + node.op_type + ")"; }

// An operand given as an attribute before `since` and as input `input` from it on (Squeeze's
// axes, Split's split at 13; Clip's min/max at 11).
Status CheckMovedOperand(const Node& node, int64_t opset, const std::string& attr, size_t input,
                         int64_t since) {
  if (opset >= since && node.HasAttr(attr)) {
    return InvalidArgument(Where(node) + ": attribute '" + attr + "': not allowed at opset " +
                           std::to_string(opset) + " (from opset " + std::to_string(since) +
                           " it is input " + std::to_string(input) + ")");
  }
  if (opset < since && node.HasInput(input)) {
    return InvalidArgument(Where(node) + ": input " + std::to_string(input) + " '" +
                           node.inputs[input] + "': '" + attr + "' is an input only from opset " +
                           std::to_string(since) + " (model has " + std::to_string(opset) +
                           "; use the attribute)");
  }
  return Status::Ok();
}

// Checks that depend on the model's opset, which InferNode does not see.
Status CheckOpsetForms(const Node& node, const std::vector<ValueInfo>& ins, int64_t opset) {
  if (!node.domain.empty() && node.domain != "ai.onnx") return Status::Ok();
  const std::string& op = node.op_type;
  if (op == "Squeeze" || op == "Unsqueeze") return CheckMovedOperand(node, opset, "axes", 1, 13);
  if (op == "Split") {
    if (node.HasAttr("num_outputs") && opset < 18) {
      return InvalidArgument(Where(node) + ": attribute 'num_outputs': needs opset 18 or later");
    }
    return CheckMovedOperand(node, opset, "split", 1, 13);
  }
  if (op == "Clip") {
    QFARM_RETURN_IF_ERROR(CheckMovedOperand(node, opset, "min", 1, 11));
    QFARM_RETURN_IF_ERROR(CheckMovedOperand(node, opset, "max", 2, 11));
  }
  const bool int_input = !ins.empty() && IsIntegerType(ins[0].dtype);
  // Relu gained integer inputs in opset 14, MaxPool int8/uint8 in 12, Clip integers in 12;
  // ONNX Runtime rejects them before that.
  const int64_t since = op == "Relu" ? 14 : (op == "MaxPool" || op == "Clip") ? 12 : 0;
  if (int_input && since > 0 && opset < since) {
    return InvalidArgument(Where(node) + ": input 0 '" + node.inputs[0] + "': " + op + " on " +
                           std::string(DTypeName(ins[0].dtype)) + " needs opset " +
                           std::to_string(since) + " or later (model has " +
                           std::to_string(opset) + ")");
  }
  return Status::Ok();
}

// The infos of a node's inputs; an undefined name is an error that says whether the value comes
// from a later node (cycle or wrong order) or from nowhere.
StatusOr<std::vector<ValueInfo>> NodeInputs(const Graph& graph, const Node& node,
                                            const ValueInfoMap& values) {
  std::vector<ValueInfo> ins;
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    const std::string& name = node.inputs[i];
    if (name.empty()) {
      ins.push_back(ValueInfo{});
      continue;
    }
    auto it = values.find(name);
    if (it != values.end()) {
      ins.push_back(it->second);
      continue;
    }
    const std::string field = Where(node) + ": input " + std::to_string(i) + " '" + name + "': ";
    const int producer = graph.ProducerIndex(name);
    if (producer >= 0) {
      return InvalidArgument(field + "is produced by node '" + graph.nodes[producer].name +
                             "', which does not come earlier (a cycle, or nodes not in "
                             "topological order)");
    }
    return InvalidArgument(field + "is not defined by a graph input, an initializer or any node "
                           "(undefined value)");
  }
  return ins;
}

Status CheckNodeShape(const Node& node, std::set<std::string>* node_names) {
  if (!node_names->insert(node.name).second) {
    return InvalidArgument(Where(node) + ": name: the node name is used twice");
  }
  if (!IsSupportedOp(node.domain, node.op_type)) {
    return InvalidArgument(Where(node) + ": unknown op '" +
                           (node.domain.empty() ? "ai.onnx" : node.domain) + "::" + node.op_type +
                           "' (qfarm supports the ops listed in model/ops.md)");
  }
  if (node.outputs.empty()) return InvalidArgument(Where(node) + ": outputs: the node has none");
  return Status::Ok();
}

// Graph inputs and initializers: the values defined before any node runs.
StatusOr<ValueInfoMap> GraphSources(const Graph& graph, const ModelLimits& limits,
                                    int64_t* total_bytes) {
  ValueInfoMap values;
  for (const auto& [name, t] : graph.initializers) {
    if (!SupportedValueType(t.dtype())) {
      return InvalidArgument("initializer '" + name + "': unsupported element type " +
                             TypeName(t.dtype()));
    }
    ValueInfo v{name, t.dtype(), t.shape()};
    QFARM_RETURN_IF_ERROR(CheckSize("initializer", v, limits, total_bytes));
    values[name] = v;
  }
  std::set<std::string> input_names;
  for (const ValueInfo& in : graph.inputs) {
    if (!SupportedValueType(in.dtype)) {
      return InvalidArgument("graph input '" + in.name + "': unsupported element type " +
                             TypeName(in.dtype));
    }
    if (in.name.empty()) return InvalidArgument("graph input: empty name");
    if (!input_names.insert(in.name).second) {
      return InvalidArgument("graph input '" + in.name + "': defined twice");
    }
    ValueInfo v = in;
    for (int64_t& d : v.shape) {
      if (d < 0) d = 1;  // dynamic dims are validated as 1; executors re-infer with real shapes
    }
    QFARM_RETURN_IF_ERROR(CheckSize("graph input", v, limits, total_bytes));
    values[in.name] = v;  // a graph input may override an initializer of the same name
  }
  return values;
}

Status CheckGraphOutputs(const Graph& graph, const ValueInfoMap& values) {
  if (graph.outputs.empty()) return InvalidArgument("graph has no outputs");
  std::set<std::string> seen;
  for (const ValueInfo& out : graph.outputs) {
    if (!seen.insert(out.name).second) {
      return InvalidArgument("graph output '" + out.name + "': listed twice");
    }
    if (out.dtype != DType::kUndefined && !SupportedValueType(out.dtype)) {
      return InvalidArgument("graph output '" + out.name + "': unsupported element type " +
                             TypeName(out.dtype));
    }
    auto it = values.find(out.name);
    if (it == values.end()) {
      return InvalidArgument("graph output '" + out.name + "': is not produced by any node, "
                             "graph input or initializer");
    }
    if (out.dtype != DType::kUndefined && out.dtype != it->second.dtype) {
      return InvalidArgument("graph output '" + out.name + "': declared " + TypeName(out.dtype) +
                             " but computed " + TypeName(it->second.dtype));
    }
  }
  return Status::Ok();
}

}  // namespace

StatusOr<ValueInfoMap> Validate(const Graph& graph, const ModelLimits& limits) {
  if (graph.opset < kMinOpset || graph.opset > kMaxOpset) {
    return InvalidArgument("graph: opset " + std::to_string(graph.opset) +
                           " is not supported (qfarm supports ai.onnx opsets 10 to 19)");
  }
  if (static_cast<int64_t>(graph.nodes.size()) > limits.max_nodes) {
    return ResourceExhausted("graph has " + std::to_string(graph.nodes.size()) +
                             " nodes, over the limit of " + std::to_string(limits.max_nodes));
  }
  int64_t total_bytes = 0;
  QFARM_ASSIGN_OR_RETURN(ValueInfoMap values, GraphSources(graph, limits, &total_bytes));
  std::set<std::string> node_names;
  for (const Node& node : graph.nodes) {
    QFARM_RETURN_IF_ERROR(CheckNodeShape(node, &node_names));
    QFARM_ASSIGN_OR_RETURN(std::vector<ValueInfo> ins, NodeInputs(graph, node, values));
    QFARM_ASSIGN_OR_RETURN(std::vector<ValueInfo> outs, InferNode(node, ins, graph.initializers));
    QFARM_RETURN_IF_ERROR(CheckOpsetForms(node, ins, graph.opset));
    for (const ValueInfo& o : outs) {
      if (o.name.empty()) continue;
      if (values.count(o.name)) {
        return InvalidArgument(Where(node) + ": output '" + o.name + "' is already defined");
      }
      QFARM_RETURN_IF_ERROR(CheckSize(Where(node) + ": output", o, limits, &total_bytes));
      values[o.name] = o;
    }
  }
  QFARM_RETURN_IF_ERROR(CheckGraphOutputs(graph, values));
  return values;
}

}  // namespace qfarm
