// QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear (ARITHMETIC.md §5; docs/arithmetic.md).
#include <cmath>

#include "reference/ops/op_context.h"

namespace qfarm::ref {
namespace {

// Channel of element i for per-axis parameters (0 when per-tensor).
int64_t ChannelOf(const Shape& shape, int64_t axis, int64_t i, bool per_axis) {
  if (!per_axis) return 0;
  const std::vector<int64_t> st = Strides(shape);
  return (i / st[static_cast<size_t>(axis)]) % shape[static_cast<size_t>(axis)];
}

int64_t ResolveAxis(const OpContext& ctx, const Tensor& x) {
  int64_t axis = ctx.node.AttrInt("axis", 1);
  return axis < 0 ? axis + static_cast<int64_t>(x.rank()) : axis;
}

}  // namespace

Status RunQuantizeLinear(const OpContext& ctx) {
  const Tensor& x = *ctx.Input(0);
  Tensor& y = ctx.out[0];
  QFARM_ASSIGN_OR_RETURN(QuantParams q, ReadQuantParams(ctx, 1, 2, y.dtype()));
  const bool per_axis = q.scale.size() > 1;
  const int64_t axis = ResolveAxis(ctx, x);
  for (int64_t i = 0; i < x.numel(); ++i) {
    const int64_t c = ChannelOf(x.shape(), axis, i, per_axis);
    y.SetInt(i, QuantizeValue(x.GetDouble(i), q.Scale(c), q.Zero(c), y.dtype(),
                              ctx.profile.rounding));
  }
  return Status::Ok();
}

Status RunDequantizeLinear(const OpContext& ctx) {
  const Tensor& x = *ctx.Input(0);
  Tensor& y = ctx.out[0];
  QFARM_ASSIGN_OR_RETURN(QuantParams q, ReadQuantParams(ctx, 1, 2, x.dtype()));
  const bool per_axis = q.scale.size() > 1;
  const int64_t axis = ResolveAxis(ctx, x);
  for (int64_t i = 0; i < x.numel(); ++i) {
    const int64_t c = ChannelOf(x.shape(), axis, i, per_axis);
    // ONNX Runtime: (float)(x − zp) · scale, one float multiply.
    const float centered = static_cast<float>(x.GetInt(i) - q.Zero(c));
    y.SetDouble(i, static_cast<double>(centered * q.Scale(c)));
  }
  return Status::Ok();
}

Status RunDynamicQuantizeLinear(const OpContext& ctx) {
  const Tensor& x = *ctx.Input(0);
  float lo = 0.0f, hi = 0.0f;
  for (int64_t i = 0; i < x.numel(); ++i) {
    const float v = static_cast<float>(x.GetDouble(i));
    if (std::isnan(v)) return ctx.Err(ctx.Field(0), "NaN at index " + std::to_string(i));
    lo = std::fmin(lo, v);
    hi = std::fmax(hi, v);
  }
  if (!std::isfinite(lo) || !std::isfinite(hi)) {
    return ctx.Err(ctx.Field(0), "infinite value; the dynamic scale would be infinite");
  }
  float scale = (hi - lo) / 255.0f;
  if (scale == 0.0f) scale = 1.0f;  // all-zero input: any scale represents it; ORT uses 1
  const float zp_real = std::fmin(std::fmax(-lo / scale, 0.0f), 255.0f);
  const int32_t zp = static_cast<int32_t>(RoundToInt(zp_real, ctx.profile.rounding));
  for (int64_t i = 0; i < x.numel(); ++i) {
    ctx.out[0].SetInt(i, QuantizeValue(x.GetDouble(i), scale, zp, DType::kUInt8,
                                       ctx.profile.rounding));
  }
  ctx.out[1].SetDouble(0, scale);
  ctx.out[2].SetInt(0, zp);
  return Status::Ok();
}

}  // namespace qfarm::ref
