// RunReferenceNode: allocates outputs from InferNode and dispatches to the op's plain loop.
#include <map>

#include "model/validate.h"
#include "reference/ops.h"
#include "reference/ops/op_context.h"

namespace qfarm {
namespace {

using RunFn = Status (*)(const ref::OpContext&);

RunFn Lookup(const std::string& domain, const std::string& op) {
  static const std::map<std::pair<std::string, std::string>, RunFn> table = {
      {{"", "QuantizeLinear"}, ref::RunQuantizeLinear},
      {{"", "DequantizeLinear"}, ref::RunDequantizeLinear},
      {{"", "DynamicQuantizeLinear"}, ref::RunDynamicQuantizeLinear},
      {{"", "QLinearMatMul"}, ref::RunQLinearMatMul},
      {{"", "MatMulInteger"}, ref::RunMatMulInteger},
      {{"", "QLinearConv"}, ref::RunQLinearConv},
      {{"", "ConvInteger"}, ref::RunConvInteger},
      {{"com.microsoft", "QLinearAdd"}, ref::RunQLinearAdd},
      {{"com.microsoft", "QLinearMul"}, ref::RunQLinearMul},
      {{"com.microsoft", "QLinearAveragePool"}, ref::RunQLinearAveragePool},
      {{"com.microsoft", "QLinearGlobalAveragePool"}, ref::RunQLinearGlobalAveragePool},
      {{"com.microsoft", "QLinearSigmoid"}, ref::RunQLinearLookup},
      {{"com.microsoft", "QLinearLeakyRelu"}, ref::RunQLinearLookup},
      {{"", "MaxPool"}, ref::RunMaxPool},
      {{"", "Relu"}, ref::RunRelu},
      {{"", "Clip"}, ref::RunClip},
      {{"", "Conv"}, ref::RunConvFloat},
      {{"", "MatMul"}, ref::RunMatMulFloat},
      {{"", "Gemm"}, ref::RunGemm},
      {{"", "Add"}, ref::RunFloatBinary},
      {{"", "Mul"}, ref::RunFloatBinary},
      {{"", "AveragePool"}, ref::RunAveragePoolFloat},
      {{"", "Sigmoid"}, ref::RunSigmoidFloat},
      {{"", "Reshape"}, ref::RunShapeOp},
      {{"", "Flatten"}, ref::RunShapeOp},
      {{"", "Squeeze"}, ref::RunShapeOp},
      {{"", "Unsqueeze"}, ref::RunShapeOp},
      {{"", "Identity"}, ref::RunShapeOp},
      {{"", "Transpose"}, ref::RunTranspose},
      {{"", "Concat"}, ref::RunConcat},
      {{"", "Split"}, ref::RunSplit},
      {{"", "Cast"}, ref::RunCast},
  };
  auto it = table.find({domain == "ai.onnx" ? "" : domain, op});
  return it == table.end() ? nullptr : it->second;
}


}  // namespace

StatusOr<std::vector<Tensor>> AllocateOutputs(const Node& node, const std::vector<const Tensor*>& inputs,
                                              bool zero) {
  std::vector<ValueInfo> infos;
  infos.reserve(inputs.size());
  std::vector<const Tensor*> constants(inputs.size(), nullptr);  // by position: nothing copied
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i]) {
      infos.push_back(ValueInfo{});
      continue;
    }
    infos.push_back(ValueInfo{std::string(), inputs[i]->dtype(), inputs[i]->shape()});  // inference reads no names
    if (inputs[i]->numel() <= kInferConstantElements) constants[i] = inputs[i];
  }
  QFARM_ASSIGN_OR_RETURN(std::vector<ValueInfo> out_infos, InferNode(node, infos, constants));
  std::vector<Tensor> outputs;
  for (const ValueInfo& v : out_infos) {
    outputs.push_back(zero ? Tensor(v.dtype, v.shape) : Tensor::Uninitialized(v.dtype, v.shape));
  }
  return outputs;
}

StatusOr<std::vector<Tensor>> RunReferenceNode(const Node& node, const Profile& profile,
                                               const std::vector<const Tensor*>& inputs) {
  RunFn fn = Lookup(node.domain, node.op_type);
  if (!fn) {
    return InvalidArgument("node '" + node.name + "' (" + node.op_type + "): unknown op '" +
                           (node.domain.empty() ? "ai.onnx" : node.domain) + "::" +
                           node.op_type + "'");
  }
  QFARM_ASSIGN_OR_RETURN(std::vector<Tensor> outputs, AllocateOutputs(node, inputs));
  ref::OpContext ctx{node, profile, inputs, outputs};
  QFARM_RETURN_IF_ERROR(fn(ctx));
  return outputs;
}

int64_t NodeMacs(const Node& node, const std::vector<const Tensor*>& inputs,
                 const std::vector<Tensor>& outputs) {
  if (outputs.empty()) return 0;
  const std::string& op = node.op_type;
  const int64_t out = outputs[0].numel();
  if (op == "QLinearMatMul" || op == "MatMulInteger" || op == "MatMul" || op == "Gemm") {
    const Tensor* a = inputs.empty() ? nullptr : inputs[0];
    if (!a || a->rank() == 0) return 0;
    const bool trans_a = op == "Gemm" && node.AttrInt("transA", 0) != 0;
    return out * (trans_a ? a->dim(0) : a->dim(a->rank() - 1));
  }
  if (op == "QLinearConv" || op == "ConvInteger" || op == "Conv") {
    const size_t wi = op == "QLinearConv" ? 3 : 1;
    const Tensor* w = wi < inputs.size() ? inputs[wi] : nullptr;
    if (!w) return 0;
    return out * (w->numel() / std::max<int64_t>(w->dim(0), 1));
  }
  return 0;
}

}  // namespace qfarm
