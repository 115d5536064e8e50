// The real-valued reference (RunRealValued): the graph on real numbers in double, with no
// rounding and no saturation. A quantized value is carried as its unrounded quantized-domain
// value q̃ = x/s + z, so every op reads (q̃ − z)·s with its own parameters, exactly as the integer
// op would read q. Integer graph inputs and initializers have q̃ = q.
#include <cmath>
#include <limits>

#include "model/conv_geometry.h"
#include "model/validate.h"
#include "reference/executor.h"
#include "reference/ops.h"
#include "reference/ops/op_context.h"

namespace qfarm {
namespace {

using Vec = std::vector<double>;

struct RealValue {
  Shape shape;
  Vec v;
  bool has_params = false;  // per-tensor (scale, zero) of a quantized value, for reporting
  double scale = 1, zero = 0;
};

struct RealCtx {
  const Node& node;
  std::vector<const RealValue*> in;
  Status Err(const std::string& what) const {
    return InvalidArgument("node '" + node.name + "' (" + node.op_type + "): " + what);
  }
  const RealValue* In(size_t i) const { return i < in.size() ? in[i] : nullptr; }
  // Element k of input i, broadcasting scalars; `absent` when the input is omitted.
  double At(size_t i, int64_t k, double absent = 0.0) const {
    const RealValue* r = In(i);
    if (!r || r->v.empty()) return absent;
    return r->v[r->v.size() == 1 ? 0 : static_cast<size_t>(k)];
  }
};

RealValue FromTensor(const Tensor& t) {
  RealValue r;
  r.shape = t.shape();
  r.v.resize(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) r.v[static_cast<size_t>(i)] = t.GetDouble(i);
  return r;
}

Tensor ToTensor(const RealValue& r) { return Tensor::FromDoubles(DType::kFloat64, r.shape, r.v); }

// ---- Double-precision loops shared by the integer and float forms of an op ---------------------

// y[b, m, n] = Σ_k a[b, m, k]·w[k, n] (+ bias[n]); a is [batch·m, k], w is [k, n].
Vec MatMulD(const Vec& a, const Vec& w, int64_t rows, int64_t k, int64_t n, const Vec* bias) {
  Vec y(static_cast<size_t>(rows * n), 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < n; ++j) {
      double acc = bias ? (*bias)[static_cast<size_t>(j)] : 0.0;
      for (int64_t i = 0; i < k; ++i) acc += a[static_cast<size_t>(r * k + i)] * w[static_cast<size_t>(i * n + j)];
      y[static_cast<size_t>(r * n + j)] = acc;
    }
  return y;
}

StatusOr<Vec> ConvD(const RealCtx& c, const Vec& x, const Shape& xs, const Vec& w, const Shape& ws,
                    const Vec* bias, Shape* out_shape) {
  auto g = ResolveConvGeometry(c.node, xs, std::vector<int64_t>(ws.begin() + 2, ws.end()), false);
  if (!g.ok()) return g.status().WithContext("node '" + c.node.name + "'");
  const int64_t batch = xs[0], in_ch = xs[1], out_ch = ws[0], cpg = ws[1];
  const int64_t group = c.node.AttrInt("group", 1), opg = out_ch / group;
  *out_shape = {batch, out_ch};
  if (xs.size() == 4) out_shape->push_back(g->out[0]);
  out_shape->push_back(g->out[1]);
  Vec y(static_cast<size_t>(NumElements(*out_shape)), 0.0);
  size_t idx = 0;
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t m = 0; m < out_ch; ++m)
      for (int64_t oy = 0; oy < g->out[0]; ++oy)
        for (int64_t ox = 0; ox < g->out[1]; ++ox) {
          double acc = bias ? (*bias)[static_cast<size_t>(m)] : 0.0;
          for (int64_t ci = 0; ci < cpg; ++ci)
            for (int64_t ky = 0; ky < g->kernel[0]; ++ky)
              for (int64_t kx = 0; kx < g->kernel[1]; ++kx) {
                const int64_t iy = oy * g->stride[0] - g->pad_begin[0] + ky * g->dilation[0];
                const int64_t ix = ox * g->stride[1] - g->pad_begin[1] + kx * g->dilation[1];
                if (iy < 0 || iy >= g->in[0] || ix < 0 || ix >= g->in[1]) continue;
                const int64_t cin = (m / opg) * cpg + ci;
                acc += x[static_cast<size_t>(((n * in_ch + cin) * g->in[0] + iy) * g->in[1] + ix)] *
                       w[static_cast<size_t>(((m * cpg + ci) * g->kernel[0] + ky) * g->kernel[1] + kx)];
              }
          y[idx++] = acc;
        }
  return y;
}

// Pooling over real values: average (count per ONNX) or max.
StatusOr<Vec> PoolD(const RealCtx& c, const Vec& x, const Shape& xs, bool global, bool max,
                    Shape* out_shape) {
  ConvGeometry g;
  if (global) {
    g.in = {xs.size() == 4 ? xs[2] : 1, xs.back()};
    g.kernel = g.in;
  } else {
    auto r = ResolveConvGeometry(c.node, xs, c.node.AttrInts("kernel_shape"), true);
    if (!r.ok()) return r.status().WithContext("node '" + c.node.name + "'");
    g = *r;
  }
  const bool include_pad = c.node.AttrInt("count_include_pad", 0) != 0;
  *out_shape = {xs[0], xs[1]};
  if (xs.size() == 4) out_shape->push_back(g.out[0]);
  out_shape->push_back(g.out[1]);
  Vec y;
  for (int64_t nc = 0; nc < xs[0] * xs[1]; ++nc)
    for (int64_t oy = 0; oy < g.out[0]; ++oy)
      for (int64_t ox = 0; ox < g.out[1]; ++ox) {
        double acc = max ? -std::numeric_limits<double>::infinity() : 0.0;
        int64_t count = 0;
        for (int64_t ky = 0; ky < g.kernel[0]; ++ky)
          for (int64_t kx = 0; kx < g.kernel[1]; ++kx) {
            const int64_t iy = oy * g.stride[0] - g.pad_begin[0] + ky * g.dilation[0];
            const int64_t ix = ox * g.stride[1] - g.pad_begin[1] + kx * g.dilation[1];
            const bool inside = iy >= 0 && iy < g.in[0] && ix >= 0 && ix < g.in[1];
            const bool padded = iy >= -g.pad_begin[0] && iy < g.in[0] + g.pad_end[0] &&
                                ix >= -g.pad_begin[1] && ix < g.in[1] + g.pad_end[1];
            if (inside || (include_pad && padded)) ++count;
            if (!inside) continue;
            const double v = x[static_cast<size_t>((nc * g.in[0] + iy) * g.in[1] + ix)];
            acc = max ? std::fmax(acc, v) : acc + v;
          }
        y.push_back(max ? acc : (count ? acc / static_cast<double>(count) : 0.0));
      }
  return y;
}

// ---- Per-op real semantics ------------------------------------------------------------------------

// Dequantizes input `i` with scale input `si` and zero input `zi` along `channel_of(k)`. An
// index past the node's inputs (kNone) reads as scale 1 / zero 0: how the *Integer ops centre.
constexpr size_t kNone = 99;
template <typename ChannelOf>
Vec Deq(const RealCtx& c, size_t i, size_t si, size_t zi, ChannelOf channel_of) {
  const RealValue& x = *c.In(i);
  Vec out(x.v.size());
  for (size_t k = 0; k < x.v.size(); ++k) {
    const int64_t ch = channel_of(static_cast<int64_t>(k));
    out[k] = (x.v[k] - c.At(zi, ch)) * c.At(si, ch, 1.0);
  }
  return out;
}
auto PerTensor() { return [](int64_t) { return int64_t{0}; }; }

RealValue Requant(Vec y_real, Shape shape, double sy, double zy) {
  RealValue r{std::move(shape), std::move(y_real), true, sy, zy};
  for (double& v : r.v) v = v / sy + zy;
  return r;
}

StatusOr<RealValue> RunQLinearMatMulReal(const RealCtx& c, bool integer_op) {
  const size_t bi = integer_op ? 1 : 3;
  Shape as = c.In(0)->shape, bs = c.In(bi)->shape;
  if (as.size() == 1) as.insert(as.begin(), 1);
  if (bs.size() != 2) return c.Err("the real-valued reference supports 2-D B only");
  const int64_t k = as.back(), n = bs[1], rows = NumElements(as) / k;
  Vec a, w;
  if (integer_op) {
    a = Deq(c, 0, kNone, 2, [&](int64_t e) { return (e / k) % as[as.size() - 2]; });
    w = Deq(c, 1, kNone, 3, [&](int64_t e) { return e % n; });
  } else {
    a = Deq(c, 0, 1, 2, PerTensor());
    w = Deq(c, 3, 4, 5, [&](int64_t e) { return e % n; });
  }
  Shape out(c.In(0)->shape.begin(), c.In(0)->shape.end() - 1);
  out.push_back(n);
  Vec y = MatMulD(a, w, rows, k, n, nullptr);
  if (integer_op) return RealValue{out, y};
  return Requant(std::move(y), out, c.At(6, 0), c.At(7, 0));
}

StatusOr<RealValue> RunQLinearConvReal(const RealCtx& c, bool integer_op) {
  const size_t wi = integer_op ? 1 : 3;
  const Shape& ws = c.In(wi)->shape;
  const int64_t per_m = NumElements(ws) / ws[0];
  auto channel = [&](int64_t e) { return e / per_m; };
  Vec x = integer_op ? Deq(c, 0, kNone, 2, PerTensor()) : Deq(c, 0, 1, 2, PerTensor());
  Vec w = integer_op ? Deq(c, 1, kNone, 3, channel) : Deq(c, 3, 4, 5, channel);
  Vec bias;
  if (!integer_op && c.In(8)) {
    for (int64_t m = 0; m < ws[0]; ++m) bias.push_back(c.At(8, m) * c.At(1, 0) * c.At(4, m));
  }
  Shape out;
  QFARM_ASSIGN_OR_RETURN(Vec y, ConvD(c, x, c.In(0)->shape, w, ws, bias.empty() ? nullptr : &bias, &out));
  if (integer_op) return RealValue{out, y};
  return Requant(std::move(y), out, c.At(6, 0), c.At(7, 0));
}


Shape BroadcastShape(const Shape& a, const Shape& b) {
  Shape out(std::max(a.size(), b.size()), 1);
  for (size_t i = 0; i < out.size(); ++i) {
    const int64_t da = i < out.size() - a.size() ? 1 : a[i - (out.size() - a.size())];
    const int64_t db = i < out.size() - b.size() ? 1 : b[i - (out.size() - b.size())];
    out[i] = da == 1 ? db : da;
  }
  return out;
}

// QLinearAdd / QLinearMul (quantized) and Add / Mul (float), with broadcasting.
RealValue RunBinaryReal(const RealCtx& c, bool quantized, bool add) {
  const size_t bi = quantized ? 3 : 1;
  const RealValue& a = *c.In(0);
  const RealValue& b = *c.In(bi);
  const Shape out = BroadcastShape(a.shape, b.shape);
  Vec y(static_cast<size_t>(NumElements(out)));
  for (int64_t i = 0; i < static_cast<int64_t>(y.size()); ++i) {
    double va = a.v[static_cast<size_t>(ref::BroadcastIndex(out, a.shape, i))];
    double vb = b.v[static_cast<size_t>(ref::BroadcastIndex(out, b.shape, i))];
    if (quantized) {
      va = (va - c.At(2, 0)) * c.At(1, 0, 1.0);
      vb = (vb - c.At(5, 0)) * c.At(4, 0, 1.0);
    }
    y[static_cast<size_t>(i)] = add ? va + vb : va * vb;
  }
  if (!quantized) return RealValue{out, y};
  return Requant(std::move(y), out, c.At(6, 0, 1.0), c.At(7, 0));
}

// libm-free, so the real-valued reference is the same on every platform too.
double Logistic(double x) { return ref::PortableSigmoid(x); }

StatusOr<RealValue> RunOpReal(const RealCtx& c, const ValueInfo& out_info) {
  const std::string& op = c.node.op_type;
  const RealValue& x = *c.In(0);
  if (op == "QuantizeLinear") {
    const Vec s = c.In(1)->v;
    const int64_t axis_attr = c.node.AttrInt("axis", 1);
    const size_t axis = static_cast<size_t>(axis_attr < 0 ? axis_attr + static_cast<int64_t>(x.shape.size()) : axis_attr);
    const int64_t inner = s.size() > 1 ? NumElements(Shape(x.shape.begin() + static_cast<long>(axis) + 1, x.shape.end())) : 1;
    RealValue r{x.shape, x.v, s.size() == 1, s[0], c.At(2, 0)};
    for (size_t k = 0; k < r.v.size(); ++k) {
      const int64_t ch = s.size() > 1 ? (static_cast<int64_t>(k) / inner) % x.shape[axis] : 0;
      r.v[k] = r.v[k] / c.At(1, ch, 1.0) + c.At(2, ch);
    }
    return r;
  }
  if (op == "DequantizeLinear") {
    const Vec s = c.In(1)->v;
    const int64_t axis_attr = c.node.AttrInt("axis", 1);
    const size_t axis = static_cast<size_t>(axis_attr < 0 ? axis_attr + static_cast<int64_t>(x.shape.size()) : axis_attr);
    const int64_t inner = s.size() > 1 ? NumElements(Shape(x.shape.begin() + static_cast<long>(axis) + 1, x.shape.end())) : 1;
    return RealValue{x.shape, Deq(c, 0, 1, 2, [&](int64_t k) {
      return s.size() > 1 ? (k / inner) % x.shape[axis] : int64_t{0}; })};
  }
  if (op == "DynamicQuantizeLinear") return c.Err("internal: handled by the caller");
  if (op == "QLinearMatMul") return RunQLinearMatMulReal(c, false);
  if (op == "MatMulInteger") return RunQLinearMatMulReal(c, true);
  if (op == "QLinearConv") return RunQLinearConvReal(c, false);
  if (op == "ConvInteger") return RunQLinearConvReal(c, true);
  if (op == "QLinearAdd" || op == "QLinearMul") return RunBinaryReal(c, true, op == "QLinearAdd");
  if (op == "Add" || op == "Mul") return RunBinaryReal(c, false, op == "Add");
  if (op == "QLinearAveragePool" || op == "QLinearGlobalAveragePool") {
    Shape out;
    QFARM_ASSIGN_OR_RETURN(Vec y, PoolD(c, Deq(c, 0, 1, 2, PerTensor()), x.shape,
                                        op == "QLinearGlobalAveragePool", false, &out));
    return Requant(std::move(y), out, c.At(3, 0, 1.0), c.At(4, 0));
  }
  if (op == "QLinearSigmoid" || op == "QLinearLeakyRelu") {
    Vec y = Deq(c, 0, 1, 2, PerTensor());
    const double alpha = c.node.AttrFloat("alpha", 0.01f);
    for (double& v : y) v = op == "QLinearSigmoid" ? Logistic(v) : (v >= 0 ? v : v * alpha);
    return Requant(std::move(y), x.shape, c.At(3, 0, 1.0), c.At(4, 0));
  }
  if (op == "MaxPool" || op == "AveragePool") {
    Shape out;
    QFARM_ASSIGN_OR_RETURN(Vec y, PoolD(c, x.v, x.shape, false, op == "MaxPool", &out));
    return RealValue{out, y, x.has_params, x.scale, x.zero};
  }
  if (op == "Relu" || op == "Clip") {
    RealValue r = x;
    double lo = op == "Relu" ? 0.0 : -std::numeric_limits<double>::infinity();
    double hi = std::numeric_limits<double>::infinity();
    if (op == "Clip") {
      if (c.node.HasAttr("min")) lo = c.node.AttrFloat("min", 0);
      if (c.node.HasAttr("max")) hi = c.node.AttrFloat("max", 0);
      if (c.In(1)) lo = c.At(1, 0);
      if (c.In(2)) hi = c.At(2, 0);
    }
    for (double& v : r.v) v = std::fmin(std::fmax(v, lo), hi);
    return r;
  }
  if (op == "Sigmoid") {
    RealValue r = x;
    for (double& v : r.v) v = Logistic(v);
    return r;
  }
  if (op == "Conv") {
    Shape out;
    QFARM_ASSIGN_OR_RETURN(Vec y, ConvD(c, x.v, x.shape, c.In(1)->v, c.In(1)->shape,
                                        c.In(2) ? &c.In(2)->v : nullptr, &out));
    return RealValue{out, y};
  }
  if (op == "MatMul") {
    Shape as = x.shape;
    const Shape& bs = c.In(1)->shape;
    if (bs.size() != 2) return c.Err("the real-valued reference supports 2-D B only");
    return RealValue{out_info.shape, MatMulD(x.v, c.In(1)->v, NumElements(as) / as.back(),
                                             as.back(), bs[1], nullptr)};
  }
  if (op == "Gemm") {
    const bool ta = c.node.AttrInt("transA", 0) != 0, tb = c.node.AttrInt("transB", 0) != 0;
    const double alpha = c.node.AttrFloat("alpha", 1.0f), beta = c.node.AttrFloat("beta", 1.0f);
    const int64_t m = out_info.shape[0], n = out_info.shape[1];
    const int64_t k = ta ? x.shape[0] : x.shape[1];
    Vec y(static_cast<size_t>(m * n));
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (int64_t t = 0; t < k; ++t) {
          acc += x.v[static_cast<size_t>(ta ? t * m + i : i * k + t)] *
                 c.In(1)->v[static_cast<size_t>(tb ? j * k + t : t * n + j)];
        }
        double bias = 0;
        if (c.In(2)) bias = c.In(2)->v[static_cast<size_t>(ref::BroadcastIndex(out_info.shape, c.In(2)->shape, i * n + j))];
        y[static_cast<size_t>(i * n + j)] = alpha * acc + beta * bias;
      }
    return RealValue{out_info.shape, y};
  }
  return c.Err("internal: no real-valued rule");
}

}  // namespace

StatusOr<RealResult> RunRealValued(const Graph& graph, const TensorMap& inputs) {
  QFARM_ASSIGN_OR_RETURN(ValueInfoMap infos, Validate(graph));
  std::map<std::string, RealValue> values;
  for (const auto& [name, t] : graph.initializers) values[name] = FromTensor(t);
  for (const auto& [name, t] : inputs) values[name] = FromTensor(t);
  for (const Node& node : graph.nodes) {
    RealCtx c{node, {}};
    std::vector<const Tensor*> tensor_args;
    std::vector<Tensor> holders;
    holders.reserve(2 * node.inputs.size() + 1);  // pointers into it must stay valid
    for (const std::string& name : node.inputs) {
      if (name.empty()) {
        c.in.push_back(nullptr);
        continue;
      }
      auto it = values.find(name);
      if (it == values.end()) return InvalidArgument("real-valued reference: value '" + name + "' is missing");
      c.in.push_back(&it->second);
    }
    const std::string& op = node.op_type;
    if (op == "DynamicQuantizeLinear") {
      const RealValue& x = *c.In(0);
      double lo = 0, hi = 0;
      for (double v : x.v) { lo = std::fmin(lo, v); hi = std::fmax(hi, v); }
      double scale = (hi - lo) / 255.0;
      if (scale == 0) scale = 1;
      const double zp = std::nearbyint(std::fmin(std::fmax(-lo / scale, 0.0), 255.0));
      RealValue y{x.shape, x.v, true, scale, zp};
      for (double& v : y.v) v = v / scale + zp;
      values[node.outputs[0]] = y;
      values[node.outputs[1]] = RealValue{{}, {scale}};
      values[node.outputs[2]] = RealValue{{}, {zp}};
      continue;
    }
    if (op == "Reshape" || op == "Flatten" || op == "Squeeze" || op == "Unsqueeze" ||
        op == "Identity" || op == "Transpose" || op == "Concat" || op == "Split" || op == "Cast") {
      // Pure data movement: run the reference op on the values held as a double tensor.
      std::vector<const Tensor*> args;
      for (const RealValue* r : c.in) {
        holders.push_back(r ? ToTensor(*r) : Tensor());
        args.push_back(r ? &holders.back() : nullptr);
      }
      if (op == "Cast") {
        values[node.outputs[0]] = *c.In(0);
        continue;
      }
      // Shape-typed inputs (Reshape's shape, Squeeze's axes, Split's sizes) must stay int64.
      for (size_t i = 1; i < node.inputs.size(); ++i) {
        if (auto it = graph.initializers.find(node.inputs[i]); it != graph.initializers.end()) {
          holders.push_back(it->second);
          args[i] = &holders.back();
        }
      }
      QFARM_ASSIGN_OR_RETURN(std::vector<Tensor> outs, RunReferenceNode(node, Profile{}, args));
      for (size_t i = 0; i < outs.size(); ++i) {
        RealValue r = FromTensor(outs[i]);
        r.has_params = c.In(0)->has_params;
        r.scale = c.In(0)->scale;
        r.zero = c.In(0)->zero;
        values[node.outputs[i]] = std::move(r);
      }
      continue;
    }
    QFARM_ASSIGN_OR_RETURN(RealValue y, RunOpReal(c, infos[node.outputs[0]]));
    values[node.outputs[0]] = std::move(y);
  }
  RealResult result;
  for (const ValueInfo& out : graph.outputs) {
    const RealValue& r = values[out.name];
    Vec v = r.v;
    if (IsIntegerType(infos[out.name].dtype) && r.has_params) {
      for (double& e : v) e = (e - r.zero) * r.scale;
      result.quant_params[out.name] = {r.scale, r.zero};
    }
    result.outputs[out.name] = std::move(v);
    result.shapes[out.name] = r.shape;
  }
  return result;
}

}  // namespace qfarm
