#include "reference/ops/op_context.h"

#include <cmath>
#include <limits>

namespace qfarm::ref {

StatusOr<QuantParams> ReadQuantParams(const OpContext& ctx, size_t scale_idx, size_t zp_idx,
                                      DType quant_type) {
  QuantParams q;
  const Tensor* s = ctx.Input(scale_idx);
  if (!s) return ctx.Err(ctx.Field(scale_idx), "scale is missing");
  if (s->numel() < 1) return ctx.Err(ctx.Field(scale_idx), "scale is empty");
  for (int64_t i = 0; i < s->numel(); ++i) {
    const double v = s->GetDouble(i);
    if (!(v > 0) || !std::isfinite(v)) {
      return ctx.Err(ctx.Field(scale_idx), "scale must be finite and > 0, got " +
                                               std::to_string(v) + " at index " + std::to_string(i));
    }
    q.scale.push_back(static_cast<float>(v));
  }
  const Tensor* z = ctx.Input(zp_idx);
  if (!z) {
    q.zero.assign(1, 0);
    return q;
  }
  if (z->dtype() != quant_type) {
    return ctx.Err(ctx.Field(zp_idx), "zero point type " + std::string(DTypeName(z->dtype())) +
                                          " does not match " + std::string(DTypeName(quant_type)));
  }
  if (z->numel() != 1 && z->numel() != s->numel()) {
    return ctx.Err(ctx.Field(zp_idx), "zero point has " + std::to_string(z->numel()) +
                                          " values but the scale has " + std::to_string(s->numel()));
  }
  const int64_t lo = quant_type == DType::kInt32 ? 0 : DTypeMin(quant_type);
  const int64_t hi = quant_type == DType::kInt32 ? 0 : DTypeMax(quant_type);
  for (int64_t i = 0; i < z->numel(); ++i) {
    const int64_t v = z->GetInt(i);
    if (v < lo || v > hi) {
      return ctx.Err(ctx.Field(zp_idx), "zero point " + std::to_string(v) + " is out of range [" +
                                            std::to_string(lo) + ", " + std::to_string(hi) + "]");
    }
    q.zero.push_back(static_cast<int32_t>(v));
  }
  return q;
}

std::vector<int64_t> Strides(const Shape& shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) s[i - 1] = s[i] * shape[i];
  return s;
}

int64_t BroadcastIndex(const Shape& out_shape, const Shape& in_shape, int64_t out_index) {
  const size_t off = out_shape.size() - in_shape.size();
  int64_t idx = 0, in_stride = 1;
  for (size_t d = out_shape.size(); d-- > 0;) {
    const int64_t coord = out_index % out_shape[d];
    out_index /= out_shape[d];
    if (d < off) continue;
    const int64_t dim = in_shape[d - off];
    if (dim != 1) idx += coord * in_stride;
    in_stride *= dim;
  }
  return idx;
}

double PortableExp(double x) {
  // exp(x) = 2^k · e^r with r = x − k·ln2, |r| ≤ ln2/2; e^r by its Taylor series summed from the
  // smallest term up, in plain IEEE double (no FMA, no libm).
  if (std::isnan(x)) return x;
  if (x > 709.8) return std::numeric_limits<double>::infinity();
  if (x < -745.2) return 0.0;
  const double ln2 = 0.6931471805599453094;
  const double k = std::nearbyint(x / ln2);
  const double r = x - k * ln2;
  double term[24];
  term[0] = 1.0;
  for (int i = 1; i < 24; ++i) term[i] = term[i - 1] * r / static_cast<double>(i);
  double e = 0.0;
  for (int i = 23; i >= 0; --i) e += term[i];
  return std::ldexp(e, static_cast<int>(k));
}

float PortableExpf(float x) {
  const double e = PortableExp(static_cast<double>(x));
  // Beyond FLT_MAX plus half an ulp the float result is inf (expf overflows near x = 88.72).
  if (e >= static_cast<double>(std::numeric_limits<float>::max()) + 0x1p103) {
    return std::numeric_limits<float>::infinity();
  }
  return static_cast<float>(e);
}

double PortableSigmoid(double x) {
  if (x > 40) return 1.0;
  return 1.0 / (1.0 + PortableExp(-x));
}

}  // namespace qfarm::ref
