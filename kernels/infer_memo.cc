#include "kernels/infer_memo.h"

#include <cstring>

#include "reference/ops.h"

namespace qfarm::kernels {

bool InferMemo::Matches(const std::vector<const Tensor*>& inputs) const {
  if (!valid_ || inputs.size() != key_.size()) return false;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Input& k = key_[i];
    const Tensor* t = inputs[i];
    if (k.present != (t != nullptr)) return false;
    if (!t) continue;
    if (t->dtype() != k.dtype || t->shape() != k.shape) return false;
    if (Covers(t) &&
        (t->bytes().size() != k.bytes.size() || std::memcmp(t->bytes().data(), k.bytes.data(), k.bytes.size()) != 0)) {
      return false;
    }
  }
  return true;
}

bool InferMemo::Covers(const Tensor* input) { return !input || input->numel() <= kInferConstantElements; }

StatusOr<InferMemo::Allocation> InferMemo::Allocate(const Node& node, const std::vector<const Tensor*>& inputs) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (Matches(inputs)) {
      Allocation a{{}, plan_, signature_};
      a.outputs.reserve(outputs_.size());
      for (const auto& [dtype, shape] : outputs_) a.outputs.push_back(Tensor::Uninitialized(dtype, shape));
      return a;
    }
  }
  QFARM_ASSIGN_OR_RETURN(std::vector<Tensor> out, qfarm::AllocateOutputs(node, inputs, /*zero=*/false));
  std::lock_guard<std::mutex> lock(mu_);
  key_.assign(inputs.size(), Input{});
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor* t = inputs[i];
    if (!t) continue;
    key_[i] = Input{true, t->dtype(), t->shape(), {}};
    if (Covers(t)) key_[i].bytes.assign(t->bytes().begin(), t->bytes().end());
  }
  outputs_.clear();
  for (const Tensor& t : out) outputs_.emplace_back(t.dtype(), t.shape());
  valid_ = true;
  plan_.reset();
  return Allocation{std::move(out), nullptr, ++signature_};
}

void InferMemo::RememberPlan(uint64_t signature, std::shared_ptr<const NodePlan> plan) {
  std::lock_guard<std::mutex> lock(mu_);
  if (valid_ && signature == signature_) plan_ = std::move(plan);
}

}  // namespace qfarm::kernels
