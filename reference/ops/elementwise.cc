// Elementwise ops: QLinearAdd, QLinearMul, QLinearSigmoid/QLinearLeakyRelu, Relu, Clip, and
// the float Add/Mul/Sigmoid. The per-profile algorithms, with the sources they were checked
// against, are in docs/arithmetic.md (QLinearAdd, QLinearMul, lookup-table ops).
#include <cmath>
#include <limits>

#include "reference/ops/op_context.h"

namespace qfarm::ref {
namespace {

// A float value that already includes the output zero point, rounded by the profile's rule and
// saturated to the output type (ONNX Runtime adds the zero point before rounding).
int64_t RoundWithZeroPoint(const Profile& p, float v, DType out) {
  return FinishOutput(RoundToInt(static_cast<double>(v), p.rounding), 0, out, TypeLo(out),
                      TypeHi(out));
}

// Whether input `in` is constant along the innermost run of outputs (ONNX Runtime then folds it
// into the constant part of QLinearAdd instead of reading it per element).
bool ConstantOverSpan(const Shape& out, const Shape& in) {
  if (NumElements(in) == 1) return true;
  return !out.empty() && out.back() > 1 && (in.empty() || in.back() == 1);
}

struct AddParams {
  float sa, sb, sy;
  int32_t za, zb, zy;
  bool a_const, b_const;
  RequantParams fixed[3];  // TFLite: input a, input b, output
};

// QLinearAdd of one element pair (raw integers a, b) before saturation to the output type.
int64_t AddElement(const Profile& p, const AddParams& k, int64_t a, int64_t b, DType out) {
  const int64_t da = a - k.za, db = b - k.zb;
  switch (p.requant) {
    case Requant::kFloat32: {
      if (DTypeSize(out) > 1) {
        // MLAS's 16-bit QLinearAdd (MlasQLinearAddKernelRawHelper): dequantize, add, divide.
        const float v = (k.sa * static_cast<float>(da) + k.sb * static_cast<float>(db)) / k.sy;
        return RoundWithZeroPoint(p, v + static_cast<float>(k.zy), out);
      }
      // ONNX Runtime MLAS x86 (qladd_avx2.cpp): F = zy − (ra·za + rb·zb); a per-element operand
      // enters by FMA, an operand constant over the span is folded into F by multiply and add.
      const float ra = k.sa / k.sy, rb = k.sb / k.sy;
      const float fa = static_cast<float>(a), fb = static_cast<float>(b);
      const float za_term = ra * static_cast<float>(k.za);
      const float zb_term = rb * static_cast<float>(k.zb);
      float f = static_cast<float>(k.zy) - (za_term + zb_term);
      float v;
      if (k.b_const && !k.a_const) {
        f = f + fb * rb;
        v = std::fma(fa, ra, f);
      } else if (k.a_const && !k.b_const) {
        f = f + fa * ra;  // MLAS swaps the operands so that the constant one is B
        v = std::fma(fb, rb, f);
      } else {
        v = std::fma(fa, ra, std::fma(fb, rb, f));
      }
      return RoundWithZeroPoint(p, v, out);
    }
    case Requant::kFloat64: {
      const double ra = double{k.sa} / double{k.sy}, rb = double{k.sb} / double{k.sy};
      const double v = ra * static_cast<double>(da) + rb * static_cast<double>(db);
      return FinishOutput(RoundToInt(v, p.rounding), k.zy, out, TypeLo(out), TypeHi(out));
    }
    default: {  // TFLite: left_shift 20, per-input multipliers, one output multiplier
      const int64_t va = Requantize(p, k.fixed[0], da * (int64_t{1} << 20));
      const int64_t vb = Requantize(p, k.fixed[1], db * (int64_t{1} << 20));
      const int64_t v = Requantize(p, k.fixed[2], va + vb);
      return FinishOutput(v, k.zy, out, TypeLo(out), TypeHi(out));
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
  AddParams k{qa.Scale(0), qb.Scale(0), qy.Scale(0), qa.Zero(0), qb.Zero(0), qy.Zero(0),
              ConstantOverSpan(y.shape(), a.shape()), ConstantOverSpan(y.shape(), b.shape()), {}};
  // TFLite's multipliers are formed in double from the float scales.
  const double twice_max = 2.0 * std::max(double{k.sa}, double{k.sb});
  k.fixed[0] = MakeRequantParamsFromMultiplier(ctx.profile, double{k.sa} / twice_max);
  k.fixed[1] = MakeRequantParamsFromMultiplier(ctx.profile, double{k.sb} / twice_max);
  k.fixed[2] = MakeRequantParamsFromMultiplier(
      ctx.profile, twice_max / (double(int64_t{1} << 20) * double{k.sy}));
  for (int64_t i = 0; i < y.numel(); ++i) {
    const int64_t va = a.GetInt(BroadcastIndex(y.shape(), a.shape(), i));
    const int64_t vb = b.GetInt(BroadcastIndex(y.shape(), b.shape(), i));
    y.SetInt(i, AddElement(ctx.profile, k, va, vb, y.dtype()));
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
  // ONNX Runtime MLAS x86 (qlmul.cpp): float(prod)·((s_a·s_b)/s_y) + float(zy), then round.
  const float ratio = qa.Scale(0) * qb.Scale(0) / qy.Scale(0);
  for (int64_t i = 0; i < y.numel(); ++i) {
    const int64_t da = a.GetInt(BroadcastIndex(y.shape(), a.shape(), i)) - qa.Zero(0);
    const int64_t db = b.GetInt(BroadcastIndex(y.shape(), b.shape(), i)) - qb.Zero(0);
    if (ctx.profile.requant == Requant::kFloat32) {
      const float v = static_cast<float>(da * db) * ratio + static_cast<float>(qy.Zero(0));
      y.SetInt(i, RoundWithZeroPoint(ctx.profile, v, y.dtype()));
      continue;
    }
    const int64_t v = Requantize(ctx.profile, rp, da * db);
    y.SetInt(i, FinishOutput(v, qy.Zero(0), y.dtype(), TypeLo(y.dtype()), TypeHi(y.dtype())));
  }
  return Status::Ok();
}

namespace {

// ONNX Runtime's logistic (MLAS logistic.cpp, the generic kernel: the rational approximation
// Eigen uses, in float32, multiply and add kept separate).
float MlasLogistic(float x) {
  const float v = x < -18.0f ? -18.0f : (x > 18.0f ? 18.0f : x);
  const float v2 = v * v;
  float p = v2 * 4.37031012579801e-11f + 1.15627324459942e-07f;
  p = p * v2 + 6.08574864600143e-05f;
  p = p * v2 + 8.51377133304701e-03f;
  p = p * v2 + 2.48287947061529e-01f;
  p = p * v;
  float q = v2 * 6.10247389755681e-13f + 5.76102136993427e-09f;
  q = q * v2 + 6.29106785017040e-06f;
  q = q * v2 + 1.70198817374094e-03f;
  q = q * v2 + 1.16817656904453e-01f;
  q = q * v2 + 9.93151921023180e-01f;
  const float s = p / q + 0.5f;
  return s < 0.0f ? 0.0f : (s > 1.0f ? 1.0f : s);
}

// One table entry: f(dequantized q) quantized to the output, per docs/arithmetic.md.
int64_t LookupEntry(const OpContext& ctx, int64_t q, const QuantParams& qx,
                    const QuantParams& qy, DType out) {
  const Profile& p = ctx.profile;
  const float alpha = ctx.node.AttrFloat("alpha", 0.01f);
  const float x = qx.Scale(0) * static_cast<float>(q - qx.Zero(0));
  float f;
  if (ctx.node.op_type == "QLinearLeakyRelu") {
    f = x >= 0.0f ? x : alpha * x;
  } else if (p.requant == Requant::kFloat32) {
    f = MlasLogistic(x);
  } else {
    f = 1.0f / (1.0f + PortableExpf(-x));
  }
  if (p.requant == Requant::kFixedDouble || p.requant == Requant::kFixedSingle) {
    // TFLite LUTPopulate: multiply by the inverse output scale, round, add the zero point.
    const float inverse_scale = 1.0f / qy.Scale(0);
    return FinishOutput(RoundToInt(static_cast<double>(f * inverse_scale), p.rounding),
                        qy.Zero(0), out, TypeLo(out), TypeHi(out));
  }
  return QuantizeValue(f, qy.Scale(0), qy.Zero(0), out, p.rounding);  // ORT MlasQuantizeLinear
}

}  // namespace

// Both ops are a table over every input value, as ONNX Runtime and TFLite build them.
Status RunQLinearLookup(const OpContext& ctx) {
  const Tensor& x = *ctx.Input(0);
  Tensor& y = ctx.out[0];
  QFARM_ASSIGN_OR_RETURN(QuantParams qx, ReadQuantParams(ctx, 1, 2, x.dtype()));
  QFARM_ASSIGN_OR_RETURN(QuantParams qy, ReadQuantParams(ctx, 3, 4, y.dtype()));
  const int64_t lo = DTypeMin(x.dtype()), hi = DTypeMax(x.dtype());
  if (hi - lo > 65535) return ctx.Err(ctx.Field(0), "lookup tables need an 8- or 16-bit input");
  std::vector<int64_t> table(static_cast<size_t>(hi - lo + 1));
  for (int64_t q = lo; q <= hi; ++q) {
    table[static_cast<size_t>(q - lo)] = LookupEntry(ctx, q, qx, qy, y.dtype());
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
        1.0f / (1.0f + PortableExpf(-x.data<float>()[static_cast<size_t>(i)]));
  }
  return Status::Ok();
}

}  // namespace qfarm::ref
