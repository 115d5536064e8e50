// Plans of the dot-product ops (kernels/infer_memo.h NodePlan): what QLinearConv, ConvInteger,
// QLinearMatMul and MatMulInteger derive from their node, shapes, small inputs and the profile
// before any arithmetic — geometry, zero points, biases, requantization parameters. With prepared
// weights a plan is formed once per input signature and profile and kept in the node's
// InferMemo; a layer of ten microseconds otherwise spends a few percent forming it again.
#pragma once

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <vector>

#include "common/status.h"
#include "kernels/infer_memo.h"
#include "kernels/qgemm/qgemm.h"
#include "kernels/requant.h"
#include "model/conv_geometry.h"
#include "model/graph.h"
#include "reference/profile.h"

namespace qfarm::kernels {

// n values from a tensor of one or n elements (zero points, biases); zeros when absent.
std::vector<int32_t> IntsOf(const Tensor* t, int64_t n);
// Requantization parameters of n output channels from QLinear inputs 1, 4 and 6 (scale s_w[i];
// one entry when one s_w serves all, see Requantizer): each distinct weight scale formed once.
std::vector<RequantParams> ChannelRequantParams(const Profile& p, const std::vector<const Tensor*>& in, int64_t n);

// One filter per input channel (group = channels): the direct depthwise kernels' case.
bool IsDepthwise(const Node& node, const Tensor& w);

struct ConvPlan : NodePlan {
  Profile profile;
  const QGemmKernel* kernel = nullptr;
  ConvGeometry gm;
  int64_t group = 1;
  int32_t zx = 0;
  std::vector<int32_t> zw;    // per output channel
  std::vector<int32_t> bias;  // per output channel; empty when the node has none
  std::optional<Requantizer> rq;  // QLinearConv only
  bool depthwise = false;
  bool channels_last_form = false;  // HasChannelsLastForm
};
// in: the node's inputs, activation and int8 weights present.
StatusOr<std::shared_ptr<const ConvPlan>> MakeConvPlan(const Node& node, const QGemmKernel& kernel, const Profile& p,
                                                       const std::vector<const Tensor*>& in);

struct MatMulPlan : NodePlan {
  Profile profile;
  std::vector<int32_t> zw;        // per column of B
  std::optional<Requantizer> rq;  // QLinearMatMul only
};
std::shared_ptr<const MatMulPlan> MakeMatMulPlan(const Node& node, const Profile& p, const std::vector<const Tensor*>& in);

// The plan for these inputs: the one `alloc` brings when it is a Plan that fits (the call's
// profile, kernel), else make()'s, kept in `memo` (when there is one) if every input but those
// at `unread` — the activation and the weights, whose values a plan does not use — is one the
// memo's key compares.
template <typename Plan, typename Fits, typename Make>
StatusOr<std::shared_ptr<const Plan>> PlanFor(InferMemo* memo, const InferMemo::Allocation& alloc,
                                              const std::vector<const Tensor*>& in, std::initializer_list<size_t> unread,
                                              Fits fits, Make make) {
  if (auto plan = std::dynamic_pointer_cast<const Plan>(alloc.plan); plan && fits(*plan)) return plan;
  StatusOr<std::shared_ptr<const Plan>> made = make();
  if (!made.ok() || !memo) return made;
  for (size_t i = 0; i < in.size(); ++i) {
    const bool skip = std::find(unread.begin(), unread.end(), i) != unread.end();
    if (!skip && !InferMemo::Covers(in[i])) return made;
  }
  memo->RememberPlan(alloc.signature, *made);
  return made;
}

}  // namespace qfarm::kernels
