#include "reference/executor.h"

#include "model/validate.h"
#include "reference/ops.h"

namespace qfarm {
namespace {

// Checks a supplied graph input against its declaration (dims of -1 accept any size).
Status CheckInput(const ValueInfo& decl, const Tensor& t) {
  bool shape_ok = decl.shape.size() == t.shape().size();
  for (size_t i = 0; shape_ok && i < decl.shape.size(); ++i) {
    shape_ok = decl.shape[i] < 0 || decl.shape[i] == t.dim(i);
  }
  if (decl.dtype != t.dtype() || !shape_ok) {
    return InvalidArgument("input '" + decl.name + "': expected " +
                           std::string(DTypeName(decl.dtype)) + " " + ShapeToString(decl.shape) +
                           ", got " + std::string(DTypeName(t.dtype())) + " " +
                           ShapeToString(t.shape()));
  }
  return Status::Ok();
}

// Where every value of a run lives: given inputs, initializers, or tensors produced so far.
class ValueStore {
 public:
  ValueStore(const Graph& g, const TensorMap& inputs) : graph_(g), inputs_(inputs) {}

  const Tensor* Find(const std::string& name) const {
    if (auto it = produced_.find(name); it != produced_.end()) return &it->second;
    if (auto it = inputs_.find(name); it != inputs_.end()) return &it->second;
    if (auto it = graph_.initializers.find(name); it != graph_.initializers.end()) return &it->second;
    return nullptr;
  }
  void Put(const std::string& name, Tensor t) {
    bytes_ += static_cast<int64_t>(t.bytes().size());
    produced_[name] = std::move(t);
  }
  int64_t bytes() const { return bytes_; }
  TensorMap& produced() { return produced_; }

 private:
  const Graph& graph_;
  const TensorMap& inputs_;
  TensorMap produced_;
  int64_t bytes_ = 0;
};

}  // namespace

StatusOr<ExecResult> RunReference(const Graph& graph, const Profile& profile,
                                  const TensorMap& inputs, const ExecOptions& options) {
  return RunGraph(graph, inputs, options,
                  [&profile](const Node& node, const std::vector<const Tensor*>& args) {
                    return RunReferenceNode(node, profile, args);
                  });
}

StatusOr<ExecResult> RunGraph(const Graph& graph, const TensorMap& inputs,
                              const ExecOptions& options, const NodeRunner& run_node) {
  QFARM_RETURN_IF_ERROR(Validate(graph).status());
  for (const ValueInfo& decl : graph.inputs) {
    auto it = inputs.find(decl.name);
    if (it == inputs.end()) return InvalidArgument("input '" + decl.name + "' was not given");
    QFARM_RETURN_IF_ERROR(CheckInput(decl, it->second));
  }
  for (const auto& [name, t] : inputs) {
    bool known = graph.initializers.count(name) != 0;
    for (const ValueInfo& decl : graph.inputs) known = known || decl.name == name;
    if (!known) return InvalidArgument("input '" + name + "' is not a graph input or initializer");
    if (auto it = graph.initializers.find(name); it != graph.initializers.end() &&
        (it->second.dtype() != t.dtype() || it->second.shape() != t.shape())) {
      return InvalidArgument("input '" + name + "' overrides an initializer of " +
                             std::string(DTypeName(it->second.dtype())) + " " +
                             ShapeToString(it->second.shape()) + " with " +
                             std::string(DTypeName(t.dtype())) + " " + ShapeToString(t.shape()));
    }
  }
  ValueStore store(graph, inputs);
  ExecResult result;
  for (const Node& node : graph.nodes) {
    std::vector<const Tensor*> args;
    for (const std::string& name : node.inputs) args.push_back(name.empty() ? nullptr : store.Find(name));
    QFARM_ASSIGN_OR_RETURN(std::vector<Tensor> outs, run_node(node, args));
    result.macs += NodeMacs(node, args, outs);
    for (size_t i = 0; i < outs.size() && i < node.outputs.size(); ++i) {
      if (!node.outputs[i].empty()) store.Put(node.outputs[i], std::move(outs[i]));
    }
    if (store.bytes() > options.max_tensor_bytes) {
      return ResourceExhausted("node '" + node.name + "': tensors of this run exceed " +
                               std::to_string(options.max_tensor_bytes) + " bytes");
    }
  }
  for (const ValueInfo& out : graph.outputs) {
    const Tensor* t = store.Find(out.name);
    if (!t) return Internal("graph output '" + out.name + "' was not computed");
    result.outputs[out.name] = *t;
  }
  if (options.capture_intermediates) result.intermediates = std::move(store.produced());
  return result;
}

}  // namespace qfarm
