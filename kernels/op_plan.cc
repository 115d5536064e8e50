#include "kernels/op_plan.h"

#include <algorithm>

#include "kernels/executor.h"

namespace qfarm::kernels {

std::vector<int32_t> IntsOf(const Tensor* t, int64_t n) {
  if (!t) return std::vector<int32_t>(static_cast<size_t>(n), 0);
  if (t->numel() == 1) return std::vector<int32_t>(static_cast<size_t>(n), static_cast<int32_t>(t->GetInt(0)));
  std::vector<int32_t> v(static_cast<size_t>(n));
  if (t->dtype() == DType::kInt32) {  // biases: no per-element type dispatch
    const auto d = t->data<int32_t>();
    std::copy(d.begin(), d.begin() + n, v.begin());
    return v;
  }
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = static_cast<int32_t>(t->GetInt(i));
  return v;
}

std::vector<RequantParams> ChannelRequantParams(const Profile& p, const std::vector<const Tensor*>& in, int64_t n) {
  const float sx = static_cast<float>(in[1]->GetDouble(0)), sy = static_cast<float>(in[6]->GetDouble(0));
  const Tensor& sw = *in[4];
  if (sw.numel() == 1) return {MakeRequantParams(p, sx, static_cast<float>(sw.GetDouble(0)), sy)};
  std::vector<RequantParams> rp;
  rp.reserve(static_cast<size_t>(n));
  float previous = 0;
  for (int64_t j = 0; j < n; ++j) {
    const float s = static_cast<float>(sw.GetDouble(j));
    rp.push_back(j > 0 && s == previous ? rp.back() : MakeRequantParams(p, sx, s, sy));
    previous = s;
  }
  return rp;
}

bool IsDepthwise(const Node& node, const Tensor& w) {
  return w.rank() >= 2 && w.dim(1) == 1 && node.AttrInt("group", 1) == w.dim(0);
}

StatusOr<std::shared_ptr<const ConvPlan>> MakeConvPlan(const Node& node, const QGemmKernel& kernel, const Profile& p,
                                                       const std::vector<const Tensor*>& in) {
  const bool qlinear = node.op_type == "QLinearConv";
  const Tensor& x = *in[0];
  const Tensor& w = *in[qlinear ? 3 : 1];
  auto plan = std::make_shared<ConvPlan>();
  plan->profile = p;
  plan->kernel = &kernel;
  QFARM_ASSIGN_OR_RETURN(plan->gm, ResolveConvGeometry(node, x.shape(), {w.shape().begin() + 2, w.shape().end()}, false));
  plan->group = node.AttrInt("group", 1);
  const int64_t cout = w.dim(0);
  const Tensor* zx_t = qlinear ? in[2] : (in.size() > 2 ? in[2] : nullptr);
  const Tensor* zw_t = qlinear ? in[5] : (in.size() > 3 ? in[3] : nullptr);
  const Tensor* bias_t = qlinear && in.size() > 8 ? in[8] : nullptr;
  plan->zx = zx_t ? static_cast<int32_t>(zx_t->GetInt(0)) : 0;
  plan->zw = IntsOf(zw_t, cout);
  if (bias_t) plan->bias = IntsOf(bias_t, cout);
  if (qlinear) plan->rq.emplace(p, ChannelRequantParams(p, in, cout), static_cast<int32_t>(in[7]->GetInt(0)), cout);
  plan->depthwise = IsDepthwise(node, w);
  plan->channels_last_form = HasChannelsLastForm(node, kernel, w);
  return std::shared_ptr<const ConvPlan>(std::move(plan));
}

std::shared_ptr<const MatMulPlan> MakeMatMulPlan(const Node& node, const Profile& p, const std::vector<const Tensor*>& in) {
  const bool qlinear = node.op_type == "QLinearMatMul";
  const Tensor& b = *in[qlinear ? 3 : 1];
  const int64_t n = b.dim(1);
  auto plan = std::make_shared<MatMulPlan>();
  plan->profile = p;
  plan->zw = IntsOf(qlinear ? in[5] : (in.size() > 3 ? in[3] : nullptr), n);
  if (qlinear) plan->rq.emplace(p, ChannelRequantParams(p, in, n), static_cast<int32_t>(in[7]->GetInt(0)), n);
  return plan;
}

}  // namespace qfarm::kernels
