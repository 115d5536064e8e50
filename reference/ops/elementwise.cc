// Elementwise ops: QLinearAdd, QLinearMul, QLinearSigmoid/QLinearLeakyRelu, Relu, Clip, and
// the float Add/Mul/Sigmoid. The per-profile algorithms are in docs/arithmetic.md §Elementwise.
#include <cmath>
#include <limits>

#include "reference/ops/op_context.h"

namespace qfarm::ref {
namespace {

// QLinearAdd of one element pair, already centred (a − za, b − zb).
int64_t AddElement(const Profile& p, int64_t da, int64_t db, float sa, float sb, float sy,
                   const RequantParams* fixed) {
  switch (p.requant) {
    case Requant::kFloat32: {  // ONNX Runtime MLAS: float ratios, two products, one sum
      const float ra = sa / sy, rb = sb / sy;
      const float v = ra * static_cast<float>(da) + rb * static_cast<float>(db);
      return RoundToInt(v, p.rounding);
    }
    case Requant::kFloat64: {
      const double ra = double{sa} / double{sy}, rb = double{sb} / double{sy};
      return RoundToInt(ra * static_cast<double>(da) + rb * static_cast<double>(db), p.rounding);
    }
    default: {  // TFLite: left_shift 20, per-input multipliers, one output multiplier
      const int64_t va = Requantize(p, fixed[0], da * (int64_t{1} << 20));
      const int64_t vb = Requantize(p, fixed[1], db * (int64_t{1} << 20));
      return Requantize(p, fixed[2], va + vb);
    }
  }
}

}  // namespace

Status RunQLinearAdd(const OpContext& ctx) {
  const Tensor& a = *ctx.Input(0);
  const Tensor& b = *ctx.Input(3);
  Tensor& y = ctx.out[0];
  QFARM_ASSIGN_OR_RETURN(QuantParams qa, ReadQuantParams(ctx, 1, 2, a.dtype()));
  QFARM_ASSIGN_OR_RETURN(QuantParams qb, ReadQuantParams(ctx, 4, 5, b.dtype()));
  QFARM_ASSIGN_OR_RETURN(QuantParams qy, ReadQuantParams(ctx, 6, 7, y.dtype()));
  const float sa = qa.Scale(0), sb = qb.Scale(0), sy = qy.Scale(0);
  // TFLite's multipliers are formed in double from the float scales.
  const double twice_max = 2.0 * std::max(double{sa}, double{sb});
  const RequantParams fixed[3] = {
      MakeRequantParamsFromMultiplier(ctx.profile, double{sa} / twice_max),
      MakeRequantParamsFromMultiplier(ctx.profile, double{sb} / twice_max),
      MakeRequantParamsFromMultiplier(ctx.profile,
                                      twice_max / (double(int64_t{1} << 20) * double{sy}))};
  for (int64_t i = 0; i < y.numel(); ++i) {
    const int64_t da = a.GetInt(BroadcastIndex(y.shape(), a.shape(), i)) - qa.Zero(0);
    const int64_t db = b.GetInt(BroadcastIndex(y.shape(), b.shape(), i)) - qb.Zero(0);
    const int64_t v = AddElement(ctx.profile, da, db, sa, sb, sy, fixed);
    y.SetInt(i, FinishOutput(v, qy.Zero(0), y.dtype(), TypeLo(y.dtype()), TypeHi(y.dtype())));
  }
  return Status::Ok();
}

Status RunQLinearMul(const OpContext& ctx) {
  const Tensor& a = *ctx.Input(0);
  const Tensor& b = *ctx.Input(3);
  Tensor& y = ctx.out[0];
  QFARM_ASSIGN_OR_RETURN(QuantParams qa, ReadQuantParams(ctx, 1, 2, a.dtype()));
  QFARM_ASSIGN_OR_RETURN(QuantParams qb, ReadQuantParams(ctx, 4, 5, b.dtype()));
  QFARM_ASSIGN_OR_RETURN(QuantParams qy, ReadQuantParams(ctx, 6, 7, y.dtype()));
  // One multiplier s_a·s_b/s_y applied to the exact product, like a 1-term dot product.
  const RequantParams rp = MakeRequantParams(ctx.profile, qa.Scale(0), qb.Scale(0), qy.Scale(0));
  for (int64_t i = 0; i < y.numel(); ++i) {
    const int64_t da = a.GetInt(BroadcastIndex(y.shape(), a.shape(), i)) - qa.Zero(0);
    const int64_t db = b.GetInt(BroadcastIndex(y.shape(), b.shape(), i)) - qb.Zero(0);
    const int64_t v = Requantize(ctx.profile, rp, da * db);
    y.SetInt(i, FinishOutput(v, qy.Zero(0), y.dtype(), TypeLo(y.dtype()), TypeHi(y.dtype())));
  }
  return Status::Ok();
}

// ONNX Runtime builds a 256-entry table: dequantize, apply f, quantize. float32 profiles do it in
// float (as ORT), the others in double; the final rounding follows the profile.
Status RunQLinearLookup(const OpContext& ctx) {
  const Tensor& x = *ctx.Input(0);
  Tensor& y = ctx.out[0];
  QFARM_ASSIGN_OR_RETURN(QuantParams qx, ReadQuantParams(ctx, 1, 2, x.dtype()));
  QFARM_ASSIGN_OR_RETURN(QuantParams qy, ReadQuantParams(ctx, 3, 4, y.dtype()));
  const bool sigmoid = ctx.node.op_type == "QLinearSigmoid";
  const float alpha = ctx.node.AttrFloat("alpha", 0.01f);
  const bool in_float = ctx.profile.requant == Requant::kFloat32;
  const int64_t lo = DTypeMin(x.dtype()), hi = DTypeMax(x.dtype());
  std::vector<int64_t> table(static_cast<size_t>(hi - lo + 1));
  for (int64_t q = lo; q <= hi; ++q) {
    double r;
    if (in_float) {
      const float xf = static_cast<float>(q - qx.Zero(0)) * qx.Scale(0);
      const float f = sigmoid ? static_cast<float>(PortableSigmoid(xf)) : (xf >= 0 ? xf : xf * alpha);
      r = static_cast<double>(f / qy.Scale(0));
    } else {
      const double xd = static_cast<double>(q - qx.Zero(0)) * double{qx.Scale(0)};
      const double f = sigmoid ? PortableSigmoid(xd) : (xd >= 0 ? xd : xd * double{alpha});
      r = f / double{qy.Scale(0)};
    }
    table[static_cast<size_t>(q - lo)] =
        FinishOutput(RoundToInt(r, ctx.profile.rounding), qy.Zero(0), y.dtype(),
                     TypeLo(y.dtype()), TypeHi(y.dtype()));
  }
  for (int64_t i = 0; i < x.numel(); ++i) y.SetInt(i, table[static_cast<size_t>(x.GetInt(i) - lo)]);
  return Status::Ok();
}

Status RunRelu(const OpContext& ctx) {
  const Tensor& x = *ctx.Input(0);
  Tensor& y = ctx.out[0];
  const bool is_float = IsFloatType(x.dtype());
  for (int64_t i = 0; i < x.numel(); ++i) {
    if (is_float) {
      const double v = x.GetDouble(i);
      y.SetDouble(i, v > 0 ? v : 0.0);
    } else {
      const int64_t v = x.GetInt(i);
      y.SetInt(i, v > 0 ? v : 0);
    }
  }
  return Status::Ok();
}

Status RunClip(const OpContext& ctx) {
  const Tensor& x = *ctx.Input(0);
  Tensor& y = ctx.out[0];
  const bool is_float = IsFloatType(x.dtype());
  double lo = is_float ? -std::numeric_limits<double>::infinity() : double(DTypeMin(x.dtype()));
  double hi = is_float ? std::numeric_limits<double>::infinity() : double(DTypeMax(x.dtype()));
  if (ctx.node.HasAttr("min")) lo = ctx.node.AttrFloat("min", 0);  // opset < 11
  if (ctx.node.HasAttr("max")) hi = ctx.node.AttrFloat("max", 0);
  if (const Tensor* t = ctx.Input(1)) lo = t->GetDouble(0);
  if (const Tensor* t = ctx.Input(2)) hi = t->GetDouble(0);
  for (int64_t i = 0; i < x.numel(); ++i) {
    const double v = std::fmin(std::fmax(x.GetDouble(i), lo), hi);  // exact for integers < 2^53
    if (is_float) y.SetDouble(i, v); else y.SetInt(i, static_cast<int64_t>(v));
  }
  return Status::Ok();
}

Status RunFloatBinary(const OpContext& ctx) {
  const Tensor& a = *ctx.Input(0);
  const Tensor& b = *ctx.Input(1);
  Tensor& y = ctx.out[0];
  const bool add = ctx.node.op_type == "Add";
  for (int64_t i = 0; i < y.numel(); ++i) {
    const float va = a.data<float>()[static_cast<size_t>(BroadcastIndex(y.shape(), a.shape(), i))];
    const float vb = b.data<float>()[static_cast<size_t>(BroadcastIndex(y.shape(), b.shape(), i))];
    y.data<float>()[static_cast<size_t>(i)] = add ? va + vb : va * vb;
  }
  return Status::Ok();
}

Status RunSigmoidFloat(const OpContext& ctx) {
  const Tensor& x = *ctx.Input(0);
  for (int64_t i = 0; i < x.numel(); ++i) {
    ctx.out[0].data<float>()[static_cast<size_t>(i)] =
        static_cast<float>(PortableSigmoid(x.data<float>()[static_cast<size_t>(i)]));
  }
  return Status::Ok();
}

}  // namespace qfarm::ref
