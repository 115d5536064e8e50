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

// The average of the centred values (x − zx) of one window, requantized to the output scale.
int64_t AverageOf(const Profile& p, const Tensor& x, const Window& w, const QuantParams& qx,
                  const QuantParams& qy) {
  const float sx = qx.Scale(0), sy = qy.Scale(0);
  if (w.count == 0) return 0;
  switch (p.requant) {
    case Requant::kFloat32: {  // ONNX Runtime: dequantize, float sum, divide, quantize
      float sum = 0.0f;
      for (int64_t i : w.inside) sum += static_cast<float>(x.GetInt(i) - qx.Zero(0)) * sx;
      const float avg = sum / static_cast<float>(w.count);
      return RoundToInt(avg / sy, p.rounding);
    }
    case Requant::kFloat64: {
      double sum = 0.0;
      for (int64_t i : w.inside) sum += static_cast<double>(x.GetInt(i) - qx.Zero(0)) * double{sx};
      return RoundToInt(sum / static_cast<double>(w.count) / double{sy}, p.rounding);
    }
    default: {
      int64_t sum = 0;
      for (int64_t i : w.inside) sum += x.GetInt(i) - qx.Zero(0);
      if (sx == sy) return RoundingDivide(sum, w.count, p.rounding);  // TFLite int8 AveragePool
      const double m = double{sx} / (double{sy} * static_cast<double>(w.count));
      return Requantize(p, MakeRequantParamsFromMultiplier(p, m), sum);
    }
  }
}

Status QLinearAverage(const OpContext& ctx, bool global) {
  const Tensor& x = *ctx.Input(0);
  Tensor& y = ctx.out[0];
  QFARM_ASSIGN_OR_RETURN(QuantParams qx, ReadQuantParams(ctx, 1, 2, x.dtype()));
  QFARM_ASSIGN_OR_RETURN(QuantParams qy, ReadQuantParams(ctx, 3, 4, y.dtype()));
  return ForEachWindow(ctx, x, global, [&](const Window& w, int64_t out) {
    const int64_t v = AverageOf(ctx.profile, x, w, qx, qy);
    y.SetInt(out, FinishOutput(v, qy.Zero(0), y.dtype(), TypeLo(y.dtype()), TypeHi(y.dtype())));
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
