// The built-in suite (model/builtin.h). Each model's weights are drawn once from its own seed and
// shared by its QOperator and QDQ forms, so the two forms differ only in how they are written.
#include "model/builtin.h"

#include "model/graph_builder.h"

namespace qfarm {
namespace {

constexpr DType kI8 = DType::kInt8;
constexpr DType kU8 = DType::kUInt8;
constexpr DType kF32 = DType::kFloat32;

Attribute Ints(std::vector<int64_t> v) { return Attribute::Ints(std::move(v)); }
Attribute Int(int64_t v) { return Attribute::Int(v); }

// DequantizeLinear / QuantizeLinear helpers for the QDQ forms.
std::string Dq(GraphBuilder& b, const std::string& name, const std::string& x,
               const std::string& scale, const std::string& zp, int64_t axis = 1) {
  return b.Op("DequantizeLinear", name, {x, scale, zp}, {name + "_out"}, {{"axis", Int(axis)}});
}
std::string Q(GraphBuilder& b, const std::string& name, const std::string& x,
              const std::string& scale, const std::string& zp) {
  return b.Op("QuantizeLinear", name, {x, scale, zp}, {name + "_out"});
}

// ---- mlp: per-tensor int8, 64 → 128 → 10 --------------------------------------------------------

BuiltinModel Mlp(bool qdq) {
  GraphBuilder b(qdq ? "mlp_qdq" : "mlp", 14, 0x6d6c70);  // opset 14: Relu on int8
  b.Input("x", kF32, {1, 64});
  b.Output("y", kF32, {1, 10});
  // Full-range int8 weights: saturation-sensitive profiles (pair_sat16) really differ on them.
  const std::string w1 = b.Init("fc1.w", b.RandomInts(kI8, {64, 128}, -128, 127));
  const std::string b1 = b.Init("fc1.bias", b.RandomInts(kI8, {1, 128}, -128, 127));
  const std::string w2 = b.Init("fc2.w", b.RandomInts(kI8, {128, 10}, -128, 127));
  const std::string sx = b.Scalar("x.scale", kF32, 1.0 / 127), zx = b.Scalar("x.zp", kI8, 0);
  const std::string sw = b.Scalar("w.scale", kF32, 0.01), zw = b.Scalar("w.zp", kI8, 0);
  const std::string sb = b.Scalar("bias.scale", kF32, 0.02);
  const std::string sh = b.Scalar("h.scale", kF32, 0.08), zh = b.Scalar("h.zp", kI8, 0);
  const std::string so = b.Scalar("logits.scale", kF32, 0.4), zo = b.Scalar("logits.zp", kI8, 0);
  std::string x = Q(b, "quant_x", "x", sx, zx);
  if (!qdq) {
    x = b.Op("QLinearMatMul", "fc1", {x, sx, zx, w1, sw, zw, sh, zh}, {"fc1_out"});
    x = b.Op("QLinearAdd", "fc1_bias", {x, sh, zh, b1, sb, zw, sh, zh}, {"fc1_bias_out"}, {},
             "com.microsoft");
    x = b.Op("Relu", "relu1", {x}, {"relu1_out"});
    x = b.Op("QLinearMatMul", "fc2", {x, sh, zh, w2, sw, zw, so, zo}, {"logits"});
  } else {
    x = b.Op("MatMul", "fc1", {Dq(b, "dq_x", x, sx, zx), Dq(b, "dq_fc1_w", w1, sw, zw)},
             {"fc1_out"});
    x = Q(b, "q_fc1", x, sh, zh);
    x = b.Op("Add", "fc1_bias", {Dq(b, "dq_fc1", x, sh, zh), Dq(b, "dq_fc1_bias", b1, sb, zw)},
             {"fc1_bias_out"});
    x = Q(b, "q_fc1_bias", x, sh, zh);
    x = b.Op("Relu", "relu1", {Dq(b, "dq_relu1_in", x, sh, zh)}, {"relu1_out"});
    x = Q(b, "q_relu1", x, sh, zh);
    x = b.Op("MatMul", "fc2", {Dq(b, "dq_fc2_in", x, sh, zh), Dq(b, "dq_fc2_w", w2, sw, zw)},
             {"fc2_out"});
    x = Q(b, "q_logits", x, so, zo);
  }
  b.Op("DequantizeLinear", "dequant_y", {x, so, zo}, {"y"});
  BuiltinModel m{b.graph().name, b.Build(), {}};
  GraphBuilder in("inputs", 13, 0x78);
  m.sample_inputs["x"] = in.RandomFloats({1, 64}, -1.0, 1.0);
  return m;
}

// ---- mobilenet_block: pointwise → depthwise 3×3 → pointwise, residual, average pools ------------

struct ConvSpec {
  std::string name;
  int64_t out_ch, in_ch_per_group, k, group;
  double in_scale, out_scale;
};

BuiltinModel MobileNetBlock(bool qdq) {
  GraphBuilder b(qdq ? "mobilenet_block_qdq" : "mobilenet_block", 13, 0x6d6f62);
  b.Input("x", kF32, {1, 16, 16, 16});
  b.Output("y", kF32, {1, 16, 1, 1});
  const double s_in = 1.0 / 127;
  const std::string sx = b.Scalar("x.scale", kF32, s_in), zx = b.Scalar("x.zp", kU8, 128);
  std::string x = Q(b, "quant_x", "x", sx, zx);
  const std::string x_q = x;
  const ConvSpec convs[] = {{"pw_expand", 32, 16, 1, 1, s_in, 0.04},
                            {"dw3x3", 32, 1, 3, 32, 0.04, 0.09},
                            {"pw_project", 16, 32, 1, 1, 0.09, 0.36}};
  for (const ConvSpec& c : convs) {
    const std::string w = b.Init(c.name + ".w", b.RandomInts(kI8, {c.out_ch, c.in_ch_per_group, c.k, c.k}, -128, 127));
    const std::string sw = b.Vector(c.name + ".w_scale", kF32, b.RandomReals(static_cast<size_t>(c.out_ch), 0.005, 0.015));
    const std::string zw = b.Init(c.name + ".w_zp", Tensor(kI8, {c.out_ch}));
    const std::string bias = b.Init(c.name + ".bias", b.RandomInts(DType::kInt32, {c.out_ch}, -2000, 2000));
    const std::string si = b.Scalar(c.name + ".in_scale", kF32, c.in_scale);
    const std::string so = b.Scalar(c.name + ".out_scale", kF32, c.out_scale);
    const std::string zp = b.Scalar(c.name + ".zp", kU8, 128);
    std::map<std::string, Attribute> attrs = {{"group", Int(c.group)}, {"kernel_shape", Ints({c.k, c.k})}};
    if (c.k == 3) attrs["pads"] = Ints({1, 1, 1, 1});
    if (!qdq) {
      x = b.Op("QLinearConv", c.name, {x, si, zp, w, sw, zw, so, zp, bias}, {c.name + "_out"}, attrs);
    } else {
      // Bias as a DequantizeLinear of int32 with scale s_x·s_w, as ONNX Runtime's quantizer writes it.
      const std::string bias_scale = b.Init(c.name + ".bias_scale", [&] {
        Tensor s(kF32, {c.out_ch});
        const Tensor& ws = b.graph().initializers.at(sw);
        for (int64_t i = 0; i < c.out_ch; ++i) {
          s.SetDouble(i, static_cast<float>(static_cast<float>(c.in_scale) * static_cast<float>(ws.GetDouble(i))));
        }
        return s;
      }());
      const std::string bias_zp = b.Init(c.name + ".bias_zp", Tensor(DType::kInt32, {c.out_ch}));
      const std::string y = b.Op("Conv", c.name, {Dq(b, "dq_" + c.name + "_in", x, si, zp),
                                                   Dq(b, "dq_" + c.name + "_w", w, sw, zw, 0),
                                                   Dq(b, "dq_" + c.name + "_bias", bias, bias_scale, bias_zp, 0)},
                                 {c.name + "_out"}, attrs);
      x = Q(b, "q_" + c.name, y, so, zp);
    }
  }
  const std::string s_sum = b.Scalar("residual.scale", kF32, 0.4), z_sum = b.Scalar("residual.zp", kU8, 128);
  const std::string s_proj = b.Scalar("pw_project.out_scale2", kF32, 0.36);
  const std::string z_proj = b.Scalar("pw_project.zp2", kU8, 128);
  const std::string s_gap = b.Scalar("pool.scale", kF32, 0.1), z_gap = b.Scalar("pool.zp", kU8, 128);
  if (!qdq) {
    x = b.Op("QLinearAdd", "residual", {x, s_proj, z_proj, x_q, sx, zx, s_sum, z_sum}, {"residual_out"}, {}, "com.microsoft");
    x = b.Op("QLinearAveragePool", "avgpool2x2", {x, s_sum, z_sum, s_sum, z_sum}, {"avgpool_out"},
             {{"kernel_shape", Ints({2, 2})}, {"strides", Ints({2, 2})}}, "com.microsoft");
    x = b.Op("QLinearGlobalAveragePool", "global_pool", {x, s_sum, z_sum, s_gap, z_gap}, {"pool_out"}, {}, "com.microsoft");
  } else {
    x = b.Op("Add", "residual", {Dq(b, "dq_residual_a", x, s_proj, z_proj), Dq(b, "dq_residual_b", x_q, sx, zx)}, {"residual_out"});
    x = Q(b, "q_residual", x, s_sum, z_sum);
    x = b.Op("AveragePool", "avgpool2x2", {Dq(b, "dq_avgpool_in", x, s_sum, z_sum)}, {"avgpool_out"},
             {{"kernel_shape", Ints({2, 2})}, {"strides", Ints({2, 2})}});
    x = Q(b, "q_avgpool", x, s_sum, z_sum);
    x = b.Op("AveragePool", "global_pool", {Dq(b, "dq_pool_in", x, s_sum, z_sum)}, {"pool_float"},
             {{"kernel_shape", Ints({8, 8})}});
    x = Q(b, "q_pool", x, s_gap, z_gap);
  }
  b.Op("DequantizeLinear", "dequant_y", {x, s_gap, z_gap}, {"y"});
  BuiltinModel m{b.graph().name, b.Build(), {}};
  GraphBuilder in("inputs", 13, 0x79);
  m.sample_inputs["x"] = in.RandomFloats({1, 16, 16, 16}, -1.0, 1.0);
  return m;
}

// ---- transformer_mlp: per-token dynamic quantization, 64 → 256 → 64 ----------------------------

BuiltinModel TransformerMlp(bool qdq) {
  constexpr int64_t kTokens = 4, kModel = 64, kHidden = 256;
  GraphBuilder b(qdq ? "transformer_mlp_qdq" : "transformer_mlp", 13, 0x747266);
  b.Input("x", kF32, {kTokens, kModel});
  b.Output("y", kF32, {kTokens, kModel});
  const std::string w1 = b.Init("up.w", b.RandomInts(kI8, {kModel, kHidden}, -127, 127));
  const std::string w2 = b.Init("down.w", b.RandomInts(kI8, {kHidden, kModel}, -127, 127));
  const std::string s1 = b.Scalar("up.w_scale", kF32, 0.004), s2 = b.Scalar("down.w_scale", kF32, 0.003);
  const std::string zw = b.Scalar("w.zp", kI8, 0);
  std::vector<std::string> tokens, outs;
  for (int64_t t = 0; t < kTokens; ++t) tokens.push_back("token" + std::to_string(t));
  b.Op("Split", "split_tokens", {"x"}, tokens, {{"axis", Int(0)}});
  // One token: dynamic quantization, integer matmul, rescale to float (MatMulIntegerToFloat).
  auto layer = [&](const std::string& in, const std::string& name, const std::string& w,
                   const std::string& ws) {
    const std::string q = name + "_q", s = name + "_xscale", z = name + "_xzp";
    b.Op("DynamicQuantizeLinear", name + "_dynq", {in}, {q, s, z});
    const std::string scale = b.Op("Mul", name + "_scale", {s, ws}, {name + "_scale_out"});
    if (!qdq) {
      const std::string acc = b.Op("MatMulInteger", name, {q, w, z, zw}, {name + "_acc"});
      const std::string f = b.Op("Cast", name + "_cast", {acc}, {name + "_accf"}, {{"to", Int(1)}});
      return b.Op("Mul", name + "_rescale", {f, scale}, {name + "_out"});
    }
    return b.Op("MatMul", name, {Dq(b, name + "_dq_x", q, s, z), Dq(b, name + "_dq_w", w, ws, zw)},
                {name + "_out"});
  };
  for (int64_t t = 0; t < kTokens; ++t) {
    const std::string p = "tok" + std::to_string(t);
    std::string h = layer(tokens[static_cast<size_t>(t)], p + "_up", w1, s1);
    h = b.Op("Relu", p + "_relu", {h}, {p + "_relu_out"});
    outs.push_back(layer(h, p + "_down", w2, s2));
  }
  if (!qdq) {
    b.Op("Concat", "concat_tokens", outs, {"y"}, {{"axis", Int(0)}});
  } else {
    // A static Q/DQ pair on the output, as a calibrated quantizer writes it: scale ≈ max|y|/127
    // over the sample input (max|y| ≈ 20.6). It fuses with nothing (Concat is not a fused op).
    const std::string sy = b.Scalar("y.scale", kF32, 0.165), zy = b.Scalar("y.zp", kI8, 0);
    const std::string y = b.Op("Concat", "concat_tokens", outs, {"concat_out"}, {{"axis", Int(0)}});
    b.Op("DequantizeLinear", "dequant_y", {Q(b, "quant_y", y, sy, zy), sy, zy}, {"y"});
  }
  BuiltinModel m{b.graph().name, b.Build(), {}};
  GraphBuilder in("inputs", 13, 0x7a);
  m.sample_inputs["x"] = in.RandomFloats({kTokens, kModel}, -2.0, 2.0);
  return m;
}

}  // namespace

std::vector<BuiltinModel> BuiltinSuite() {
  return {Mlp(false), Mlp(true), MobileNetBlock(false), MobileNetBlock(true),
          TransformerMlp(false), TransformerMlp(true)};
}

}  // namespace qfarm
