// Pooling: QLinearAveragePool, QLinearGlobalAveragePool, MaxPool (integer and float) and float
// AveragePool. Per-profile averaging rules: docs/arithmetic.md §Pooling.
#include <cmath>
#include <limits>

#include "model/conv_geometry.h"
#include "reference/ops/op_context.h"

namespace qfarm::ref {
namespace {

struct Window {
  std::vector<int64_t> inside;  // linear input indices of the taps inside the image
  int64_t count = 0;            // the divisor (count_include_pad counts padding taps)
};

// Calls fn(window, output index) for every output of a pooling node over x ([N,C,H,W]/[N,C,W]).
template <typename Fn>
Status ForEachWindow(const OpContext& ctx, const Tensor& x, bool global, Fn fn) {
  ConvGeometry g;
  if (global) {
    g.in = {x.rank() == 4 ? x.dim(2) : 1, x.dim(x.rank() - 1)};
    g.kernel = g.in;
  } else {
    auto r = ResolveConvGeometry(ctx.node, x.shape(), ctx.node.AttrInts("kernel_shape"), true);
    if (!r.ok()) return r.status().WithContext("node '" + ctx.node.name + "'");
    g = *r;
  }
  const bool include_pad = ctx.node.AttrInt("count_include_pad", 0) != 0;
  const int64_t batch = x.dim(0), channels = x.dim(1);
  int64_t out = 0;
  Window w;
  for (int64_t n = 0; n < batch; ++n) {
    for (int64_t c = 0; c < channels; ++c) {
      for (int64_t oy = 0; oy < g.out[0]; ++oy) {
        for (int64_t ox = 0; ox < g.out[1]; ++ox) {
          w.inside.clear();
          w.count = 0;
          for (int64_t ky = 0; ky < g.kernel[0]; ++ky) {
            for (int64_t kx = 0; kx < g.kernel[1]; ++kx) {
              const int64_t iy = oy * g.stride[0] - g.pad_begin[0] + ky * g.dilation[0];
              const int64_t ix = ox * g.stride[1] - g.pad_begin[1] + kx * g.dilation[1];
              const bool in_image = iy >= 0 && iy < g.in[0] && ix >= 0 && ix < g.in[1];
              const bool in_padded = iy >= -g.pad_begin[0] && iy < g.in[0] + g.pad_end[0] &&
                                     ix >= -g.pad_begin[1] && ix < g.in[1] + g.pad_end[1];
              if (in_image) w.inside.push_back(((n * channels + c) * g.in[0] + iy) * g.in[1] + ix);
              if (in_image || (include_pad && in_padded)) ++w.count;
            }
          }
          fn(w, out++);
        }
      }
    }
  }
  return Status::Ok();
}

// Σ(x + offset) over the taps inside the image plus `pad_value` for each padding tap that
// counts, each addition under the profile's accumulator rules.
int64_t WindowSum(const Profile& p, const Tensor& x, const Window& w, int64_t offset,
                  int64_t pad_value) {
  int64_t sum = 0;
  for (int64_t i : w.inside) sum = AccumulateAdd(p, sum, x.GetInt(i) + offset);
  for (int64_t k = static_cast<int64_t>(w.inside.size()); k < w.count; ++k) {
    sum = AccumulateAdd(p, sum, pad_value);
  }
  return sum;
}

// One output of QLinearAveragePool (global: QLinearGlobalAveragePool), saturated to `out`.
// Per profile as docs/arithmetic.md §Pooling says.
int64_t AverageOf(const Profile& p, const Tensor& x, const Window& w, const QuantParams& qx,
                  const QuantParams& qy, bool global, DType out) {
  const float sx = qx.Scale(0), sy = qy.Scale(0);
  const int32_t zx = qx.Zero(0), zy = qy.Zero(0);
  if (w.count == 0) return FinishOutput(0, zy, out, TypeLo(out), TypeHi(out));
  const int64_t count = w.count;
  if (p.requant == Requant::kFloat32 && !global) {
    // ONNX Runtime qlinear_pool.cc: dequantize each tap, float sum in window order, divide by
    // the count, then nearbyintf(avg / s_y + z_y); padding taps add 0.
    float sum = 0.0f;
    for (int64_t i : w.inside) sum += sx * static_cast<float>(x.GetInt(i) - zx);
    const float v = sum / static_cast<float>(count) / sy + static_cast<float>(zy);
    return FinishOutput(RoundToInt(static_cast<double>(v), p.rounding), 0, out, TypeLo(out),
                        TypeHi(out));
  }
  if (p.requant == Requant::kFloat32) {
    // MLAS QLinearGlobalAveragePool: integer Σ(x − z_x), scale (s_x / count) / s_y in float.
    const float scale = sx / static_cast<float>(count) / sy;
    const int64_t sum = WindowSum(p, x, w, -zx, 0);
    const float v = static_cast<float>(sum) * scale;
    return FinishOutput(RoundToInt(static_cast<double>(v), p.rounding), zy, out, TypeLo(out),
                        TypeHi(out));
  }
  if (p.requant == Requant::kFloat64) {
    const double m = double{sx} / (double{sy} * static_cast<double>(count));
    const double v = static_cast<double>(WindowSum(p, x, w, -zx, 0)) * m;
    return FinishOutput(RoundToInt(v, p.rounding), zy, out, TypeLo(out), TypeHi(out));
  }
  if (sx == sy && zx == zy) {
    // TFLite int8 AveragePool: the raw sum (padding taps count as z_x), (sum ± count/2) / count
    // under half_away, no zero-point arithmetic.
    const int64_t sum = WindowSum(p, x, w, 0, zx);
    return FinishOutput(RoundingDivide(sum, count, p.rounding), 0, out, TypeLo(out), TypeHi(out));
  }
  const double m = double{sx} / (double{sy} * static_cast<double>(count));
  const int64_t v = Requantize(p, MakeRequantParamsFromMultiplier(p, m), WindowSum(p, x, w, -zx, 0));
  return FinishOutput(v, zy, out, TypeLo(out), TypeHi(out));
}

Status QLinearAverage(const OpContext& ctx, bool global) {
  const Tensor& x = *ctx.Input(0);
  Tensor& y = ctx.out[0];
  QFARM_ASSIGN_OR_RETURN(QuantParams qx, ReadQuantParams(ctx, 1, 2, x.dtype()));
  QFARM_ASSIGN_OR_RETURN(QuantParams qy, ReadQuantParams(ctx, 3, 4, y.dtype()));
  return ForEachWindow(ctx, x, global, [&](const Window& w, int64_t out) {
    y.SetInt(out, AverageOf(ctx.profile, x, w, qx, qy, global, y.dtype()));
  });
}

}  // namespace

Status RunQLinearAveragePool(const OpContext& ctx) { return QLinearAverage(ctx, false); }

Status RunQLinearGlobalAveragePool(const OpContext& ctx) {
  if (ctx.node.AttrInt("channels_last", 0) != 0) {
    return ctx.Err("attribute 'channels_last'", "only NCHW (0) is supported");
  }
  return QLinearAverage(ctx, true);
}

Status RunMaxPool(const OpContext& ctx) {
  const Tensor& x = *ctx.Input(0);
  Tensor& y = ctx.out[0];
  return ForEachWindow(ctx, x, false, [&](const Window& w, int64_t out) {
    double best = -std::numeric_limits<double>::infinity();
    for (int64_t i : w.inside) best = std::fmax(best, x.GetDouble(i));
    if (IsFloatType(y.dtype())) y.SetDouble(out, best); else y.SetInt(out, static_cast<int64_t>(best));
  });
}

Status RunAveragePoolFloat(const OpContext& ctx) {
  const Tensor& x = *ctx.Input(0);
  Tensor& y = ctx.out[0];
  return ForEachWindow(ctx, x, false, [&](const Window& w, int64_t out) {
    float sum = 0.0f;
    for (int64_t i : w.inside) sum += x.data<float>()[static_cast<size_t>(i)];
    y.data<float>()[static_cast<size_t>(out)] = w.count ? sum / static_cast<float>(w.count) : 0.0f;
  });
}

}  // namespace qfarm::ref
