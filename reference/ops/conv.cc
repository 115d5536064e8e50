// QLinearConv, ConvInteger and float Conv. One output = the dot product over the flattened
// weight index (input channel, kernel row, kernel column) ascending; taps outside the image are
// the input zero point (ARITHMETIC.md §1).
#include "model/conv_geometry.h"
#include "reference/ops/op_context.h"

namespace qfarm::ref {
namespace {

struct ConvShape {
  ConvGeometry g;
  int64_t batch = 0, in_ch = 0, out_ch = 0, group = 1, ch_per_group = 0, out_per_group = 0;
  int64_t taps() const { return ch_per_group * g.kernel[0] * g.kernel[1]; }
};

StatusOr<ConvShape> MakeShape(const OpContext& ctx, const Tensor& x, const Tensor& w) {
  ConvShape s;
  std::vector<int64_t> kernel(w.shape().begin() + 2, w.shape().end());
  auto g = ResolveConvGeometry(ctx.node, x.shape(), kernel, false);
  if (!g.ok()) return g.status().WithContext("node '" + ctx.node.name + "'");
  s.g = *g;
  s.batch = x.dim(0);
  s.in_ch = x.dim(1);
  s.out_ch = w.dim(0);
  s.group = ctx.node.AttrInt("group", 1);
  s.ch_per_group = w.dim(1);
  s.out_per_group = s.out_ch / s.group;
  return s;
}

// Gathers the receptive field of output (n, m, oy, ox): x taps (padding = pad_value) and the
// weights of channel m, both in the flattened weight order.
template <typename T>
void GatherTaps(const Tensor& x, const Tensor& w, const ConvShape& s, int64_t n, int64_t m,
                int64_t oy, int64_t ox, T pad_value, std::vector<T>& xs, std::vector<T>& ws) {
  const ConvGeometry& g = s.g;
  const int64_t first_c = (m / s.out_per_group) * s.ch_per_group;
  size_t t = 0;
  for (int64_t c = 0; c < s.ch_per_group; ++c) {
    for (int64_t ky = 0; ky < g.kernel[0]; ++ky) {
      for (int64_t kx = 0; kx < g.kernel[1]; ++kx, ++t) {
        const int64_t iy = oy * g.stride[0] - g.pad_begin[0] + ky * g.dilation[0];
        const int64_t ix = ox * g.stride[1] - g.pad_begin[1] + kx * g.dilation[1];
        const bool inside = iy >= 0 && iy < g.in[0] && ix >= 0 && ix < g.in[1];
        const int64_t xi = ((n * s.in_ch + first_c + c) * g.in[0] + iy) * g.in[1] + ix;
        const int64_t wi = ((m * s.ch_per_group + c) * g.kernel[0] + ky) * g.kernel[1] + kx;
        if constexpr (std::is_same_v<T, float>) {
          xs[t] = inside ? x.data<float>()[static_cast<size_t>(xi)] : pad_value;
          ws[t] = w.data<float>()[static_cast<size_t>(wi)];
        } else {
          xs[t] = inside ? static_cast<T>(x.GetInt(xi)) : pad_value;
          ws[t] = static_cast<T>(w.GetInt(wi));
        }
      }
    }
  }
}

// Calls fn(n, m, oy, ox, linear output index) over every output element.
template <typename Fn>
void ForEachOutput(const ConvShape& s, Fn fn) {
  int64_t idx = 0;
  for (int64_t n = 0; n < s.batch; ++n)
    for (int64_t m = 0; m < s.out_ch; ++m)
      for (int64_t oy = 0; oy < s.g.out[0]; ++oy)
        for (int64_t ox = 0; ox < s.g.out[1]; ++ox) fn(n, m, oy, ox, idx++);
}

}  // namespace

Status RunQLinearConv(const OpContext& ctx) {
  const Tensor& x = *ctx.Input(0);
  const Tensor& w = *ctx.Input(3);
  const Tensor* bias = ctx.Input(8);
  Tensor& y = ctx.out[0];
  QFARM_ASSIGN_OR_RETURN(ConvShape s, MakeShape(ctx, x, w));
  QFARM_ASSIGN_OR_RETURN(QuantParams qx, ReadQuantParams(ctx, 1, 2, x.dtype()));
  QFARM_ASSIGN_OR_RETURN(QuantParams qw, ReadQuantParams(ctx, 4, 5, w.dtype()));
  QFARM_ASSIGN_OR_RETURN(QuantParams qy, ReadQuantParams(ctx, 6, 7, y.dtype()));
  if (qw.scale.size() > 1 && static_cast<int64_t>(qw.scale.size()) != s.out_ch) {
    return ctx.Err(ctx.Field(4), "per-channel scale needs " + std::to_string(s.out_ch) + " values");
  }
  if (bias && (bias->dtype() != DType::kInt32 || bias->numel() != s.out_ch)) {
    return ctx.Err(ctx.Field(8), "bias must be int32 [" + std::to_string(s.out_ch) + "]");
  }
  std::vector<RequantParams> rp;
  for (int64_t m = 0; m < s.out_ch; ++m) {
    rp.push_back(MakeRequantParams(ctx.profile, qx.Scale(0), qw.Scale(m), qy.Scale(0)));
  }
  std::vector<int32_t> xs(static_cast<size_t>(s.taps())), ws(xs.size());
  ForEachOutput(s, [&](int64_t n, int64_t m, int64_t oy, int64_t ox, int64_t idx) {
    GatherTaps<int32_t>(x, w, s, n, m, oy, ox, qx.Zero(0), xs, ws);
    int32_t b = 0;
    if (bias) b = static_cast<int32_t>(bias->GetInt(m));
    const int64_t acc = DotAccumulate(ctx.profile, xs, ws, qx.Zero(0), qw.Zero(m), x.dtype(),
                                      bias ? &b : nullptr);
    const int64_t v = Requantize(ctx.profile, rp[static_cast<size_t>(m)], acc);
    y.SetInt(idx, FinishOutput(v, qy.Zero(0), y.dtype(), TypeLo(y.dtype()), TypeHi(y.dtype())));
  });
  return Status::Ok();
}

Status RunConvInteger(const OpContext& ctx) {
  const Tensor& x = *ctx.Input(0);
  const Tensor& w = *ctx.Input(1);
  Tensor& y = ctx.out[0];
  QFARM_ASSIGN_OR_RETURN(ConvShape s, MakeShape(ctx, x, w));
  const Tensor* zx_t = ctx.Input(2);
  const Tensor* zw_t = ctx.Input(3);
  if (zw_t && zw_t->numel() != 1 && zw_t->numel() != s.out_ch) {
    return ctx.Err(ctx.Field(3), "zero point must be a scalar or have " +
                                     std::to_string(s.out_ch) + " values");
  }
  const int32_t zx = zx_t ? static_cast<int32_t>(zx_t->GetInt(0)) : 0;
  std::vector<int32_t> xs(static_cast<size_t>(s.taps())), ws(xs.size());
  ForEachOutput(s, [&](int64_t n, int64_t m, int64_t oy, int64_t ox, int64_t idx) {
    GatherTaps<int32_t>(x, w, s, n, m, oy, ox, zx, xs, ws);
    const int32_t zw = zw_t ? static_cast<int32_t>(zw_t->GetInt(zw_t->numel() == 1 ? 0 : m)) : 0;
    const int64_t acc = DotAccumulate(ctx.profile, xs, ws, zx, zw, x.dtype(), nullptr);
    y.SetInt(idx, AccumulatorToInt32(ctx.profile, acc));
  });
  return Status::Ok();
}

Status RunConvFloat(const OpContext& ctx) {
  const Tensor& x = *ctx.Input(0);
  const Tensor& w = *ctx.Input(1);
  const Tensor* bias = ctx.Input(2);
  Tensor& y = ctx.out[0];
  QFARM_ASSIGN_OR_RETURN(ConvShape s, MakeShape(ctx, x, w));
  std::vector<float> xs(static_cast<size_t>(s.taps())), ws(xs.size());
  ForEachOutput(s, [&](int64_t n, int64_t m, int64_t oy, int64_t ox, int64_t idx) {
    GatherTaps<float>(x, w, s, n, m, oy, ox, 0.0f, xs, ws);
    float acc = 0.0f;
    for (size_t t = 0; t < xs.size(); ++t) acc += xs[t] * ws[t];
    if (bias) acc += bias->data<float>()[static_cast<size_t>(m)];
    y.data<float>()[static_cast<size_t>(idx)] = acc;
  });
  return Status::Ok();
}

}  // namespace qfarm::ref
