// What every reference op implementation receives, and the helpers they share: reading
// quantization parameters with their runtime checks, and numpy-style broadcasting.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "model/graph.h"
#include "reference/arith.h"
#include "reference/profile.h"

namespace qfarm::ref {

struct OpContext {
  const Node& node;
  const Profile& profile;
  const std::vector<const Tensor*>& in;
  std::vector<Tensor>& out;  // preallocated with the inferred types and shapes

  const Tensor* Input(size_t i) const { return i < in.size() ? in[i] : nullptr; }
  Status Err(const std::string& field, const std::string& what) const {
    return InvalidArgument("node '" + node.name + "' (" + node.op_type + "): " + field + ": " +
                           what);
  }
  std::string Field(size_t i) const {
    return "input " + std::to_string(i) + " '" + (i < node.inputs.size() ? node.inputs[i] : "") +
           "'";
  }
};

// Per-tensor or per-channel quantization parameters, checked at run time.
struct QuantParams {
  std::vector<float> scale;   // 1 or `channels` entries
  std::vector<int32_t> zero;  // 1 or `channels` entries (a missing zero point is 0)
  float Scale(int64_t c) const { return scale.size() == 1 ? scale[0] : scale[static_cast<size_t>(c)]; }
  int32_t Zero(int64_t c) const { return zero.size() == 1 ? zero[0] : zero[static_cast<size_t>(c)]; }
};

// Reads input `scale_idx` (and `zp_idx`, if present) for a tensor of `quant_type`.
StatusOr<QuantParams> ReadQuantParams(const OpContext& ctx, size_t scale_idx, size_t zp_idx,
                                      DType quant_type);

// Linear index into `in_shape` for the output position `out_index` under numpy broadcasting
// (in_shape right-aligned against out_shape).
int64_t BroadcastIndex(const Shape& out_shape, const Shape& in_shape, int64_t out_index);

// Row-major strides.
std::vector<int64_t> Strides(const Shape& shape);

// Full range of an integer type as a clamp, for FinishOutput without a fused activation.
inline int64_t TypeLo(DType t) { return DTypeMin(t); }
inline int64_t TypeHi(DType t) { return DTypeMax(t); }

// The int32 result of MatMulInteger/ConvInteger: the accumulator, wrapped or saturated to 32
// bits by the profile's overflow rule when acc_bits > 32.
int64_t AccumulatorToInt32(const Profile& p, int64_t acc);

// Op families, one file each under reference/ops/.
Status RunQuantizeLinear(const OpContext& ctx);
Status RunDequantizeLinear(const OpContext& ctx);
Status RunDynamicQuantizeLinear(const OpContext& ctx);
Status RunQLinearMatMul(const OpContext& ctx);
Status RunMatMulInteger(const OpContext& ctx);
Status RunMatMulFloat(const OpContext& ctx);
Status RunGemm(const OpContext& ctx);
Status RunQLinearConv(const OpContext& ctx);
Status RunConvInteger(const OpContext& ctx);
Status RunConvFloat(const OpContext& ctx);
Status RunQLinearAdd(const OpContext& ctx);
Status RunQLinearMul(const OpContext& ctx);
Status RunQLinearLookup(const OpContext& ctx);  // QLinearSigmoid, QLinearLeakyRelu
Status RunQLinearAveragePool(const OpContext& ctx);
Status RunQLinearGlobalAveragePool(const OpContext& ctx);
Status RunMaxPool(const OpContext& ctx);
Status RunAveragePoolFloat(const OpContext& ctx);
Status RunRelu(const OpContext& ctx);
Status RunClip(const OpContext& ctx);
Status RunFloatBinary(const OpContext& ctx);  // Add, Mul
Status RunSigmoidFloat(const OpContext& ctx);
Status RunShapeOp(const OpContext& ctx);  // Reshape, Flatten, Squeeze, Unsqueeze, Identity
Status RunTranspose(const OpContext& ctx);
Status RunConcat(const OpContext& ctx);
Status RunSplit(const OpContext& ctx);
Status RunCast(const OpContext& ctx);

// A portable exp (range reduction and a fixed-order series in IEEE double, no libm), so results do
// not depend on the platform: relative error below 1e-15, and beyond double's range it returns
// inf or 0.
double PortableExp(double x);
// expf as glibc computes it (correctly rounded in practice): PortableExp rounded once to float.
// tests/unit/ops_test.cc checks it against the platform's expf.
float PortableExpf(float x);
// Deterministic logistic function in double: 1 / (1 + PortableExp(−x)).
double PortableSigmoid(double x);

}  // namespace qfarm::ref
