// Reference ops against naive formulas written here from the ONNX spec and ARITHMETIC.md, over
// generated shape sweeps; executor errors and capture; the real-valued reference.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "model/graph_builder.h"
#include "reference/executor.h"
#include "reference/ops.h"

namespace qfarm {
namespace {

struct ConvCase {
  int64_t n, c, h, w, m, k, group, stride, dilation, pad;
  std::string auto_pad;
};

std::string Describe(const ConvCase& t) {
  return "n=" + std::to_string(t.n) + " c=" + std::to_string(t.c) + " h=" + std::to_string(t.h) +
         " w=" + std::to_string(t.w) + " m=" + std::to_string(t.m) + " k=" + std::to_string(t.k) +
         " group=" + std::to_string(t.group) + " stride=" + std::to_string(t.stride) +
         " dilation=" + std::to_string(t.dilation) + " pad=" + std::to_string(t.pad) + " auto_pad=" + t.auto_pad;
}

// Naive QLinearConv under the `onnx` profile: exact integer sum skipping out-of-image taps,
// multiplier float32(float32(sx·sw)/sy), value acc·m in double, half-even, + zy, saturate u8.
std::vector<int64_t> NaiveConv(const ConvCase& t, const Tensor& x, const Tensor& w, const Tensor& bias,
                               float sx, int zx, const std::vector<float>& sw, float sy, int zy,
                               int64_t* oh_out, int64_t* ow_out) {
  const int64_t span = t.dilation * (t.k - 1) + 1;
  int64_t pb_h = t.pad, pb_w = t.pad, oh, ow;
  if (t.auto_pad == "SAME_UPPER" || t.auto_pad == "SAME_LOWER") {
    oh = (t.h + t.stride - 1) / t.stride;
    ow = (t.w + t.stride - 1) / t.stride;
    const int64_t th = std::max<int64_t>(0, (oh - 1) * t.stride + span - t.h);
    const int64_t tw = std::max<int64_t>(0, (ow - 1) * t.stride + span - t.w);
    pb_h = t.auto_pad == "SAME_UPPER" ? th / 2 : th - th / 2;
    pb_w = t.auto_pad == "SAME_UPPER" ? tw / 2 : tw - tw / 2;
  } else if (t.auto_pad == "VALID") {
    pb_h = pb_w = 0;
    oh = (t.h - span) / t.stride + 1;
    ow = (t.w - span) / t.stride + 1;
  } else {
    oh = (t.h + 2 * t.pad - span) / t.stride + 1;
    ow = (t.w + 2 * t.pad - span) / t.stride + 1;
  }
  *oh_out = oh;
  *ow_out = ow;
  const int64_t cpg = t.c / t.group, mpg = t.m / t.group;
  std::vector<int64_t> y;
  for (int64_t n = 0; n < t.n; ++n)
    for (int64_t m = 0; m < t.m; ++m)
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
          int64_t acc = bias.GetInt(m);
          for (int64_t ci = 0; ci < cpg; ++ci)
            for (int64_t a = 0; a < t.k; ++a)
              for (int64_t b = 0; b < t.k; ++b) {
                const int64_t r = i * t.stride + a * t.dilation - pb_h, s = j * t.stride + b * t.dilation - pb_w;
                if (r < 0 || r >= t.h || s < 0 || s >= t.w) continue;
                const int64_t cin = (m / mpg) * cpg + ci;
                acc += (x.GetInt(((n * t.c + cin) * t.h + r) * t.w + s) - zx) *
                       w.GetInt(((m * cpg + ci) * t.k + a) * t.k + b);
              }
          const float mult = (sx * sw[static_cast<size_t>(m)]) / sy;
          const double v = static_cast<double>(acc) * static_cast<double>(mult);
          const int64_t q = static_cast<int64_t>(std::nearbyint(v)) + zy;  // FE_TONEAREST: half-even
          y.push_back(std::clamp<int64_t>(q, 0, 255));
        }
  return y;
}

TEST(Ops, QLinearConvMatchesNaiveOverShapeSweep) {
  const uint32_t seed = ::testing::UnitTest::GetInstance()->random_seed();
  std::mt19937 rng(seed);
  const Profile onnx = *ParseProfile("onnx");
  int cases = 0;
  for (int trial = 0; trial < 150; ++trial) {
    ConvCase t;
    t.group = (rng() % 3 == 0) ? 1 + rng() % 4 : 1;
    t.c = t.group * (1 + rng() % 5);
    t.m = t.group * (1 + rng() % 4);
    if (rng() % 4 == 0) { t.group = t.c; t.m = t.c; }  // depthwise
    t.n = 1 + rng() % 2;
    t.k = 1 + rng() % 5;
    t.stride = 1 + rng() % 3;
    t.dilation = 1 + rng() % 2;
    t.pad = rng() % 3;
    const char* modes[] = {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"};
    t.auto_pad = modes[rng() % 4];
    const int64_t span = t.dilation * (t.k - 1) + 1;
    t.h = span + rng() % 7;
    t.w = span + rng() % 9;
    GraphBuilder b("conv", 13, rng());
    const Tensor x = b.RandomInts(DType::kUInt8, {t.n, t.c, t.h, t.w}, 0, 255);
    const Tensor w = b.RandomInts(DType::kInt8, {t.m, t.c / t.group, t.k, t.k}, -128, 127);
    const Tensor bias = b.RandomInts(DType::kInt32, {t.m}, -3000, 3000);
    std::vector<double> sw_d = b.RandomReals(static_cast<size_t>(t.m), 0.001, 0.02);
    std::vector<float> sw(sw_d.begin(), sw_d.end());
    const float sx = 0.02f, sy = 0.05f + 0.01f * static_cast<float>(t.k);
    const int zx = static_cast<int>(rng() % 256), zy = static_cast<int>(rng() % 256);
    Node node;
    node.name = "conv";
    node.op_type = "QLinearConv";
    node.inputs = {"x", "sx", "zx", "w", "sw", "zw", "sy", "zy", "b"};
    node.outputs = {"y"};
    node.attrs["strides"] = Attribute::Ints({t.stride, t.stride});
    node.attrs["dilations"] = Attribute::Ints({t.dilation, t.dilation});
    node.attrs["group"] = Attribute::Int(t.group);
    node.attrs["auto_pad"] = Attribute::String(t.auto_pad);
    if (t.auto_pad == "NOTSET") node.attrs["pads"] = Attribute::Ints({t.pad, t.pad, t.pad, t.pad});
    const Tensor tsx = Tensor::Scalar(DType::kFloat32, sx), tsy = Tensor::Scalar(DType::kFloat32, sy);
    const Tensor tzx = Tensor::Scalar(DType::kUInt8, zx), tzy = Tensor::Scalar(DType::kUInt8, zy);
    const Tensor tsw = Tensor::FromDoubles(DType::kFloat32, {t.m}, sw_d);
    const Tensor tzw(DType::kInt8, {t.m});
    auto out = RunReferenceNode(node, onnx, {&x, &tsx, &tzx, &w, &tsw, &tzw, &tsy, &tzy, &bias});
    ASSERT_TRUE(out.ok()) << Describe(t) << ": " << out.status().message();
    int64_t oh, ow;
    const std::vector<int64_t> want = NaiveConv(t, x, w, bias, sx, zx, sw, sy, zy, &oh, &ow);
    ASSERT_EQ((*out)[0].shape(), (Shape{t.n, t.m, oh, ow})) << Describe(t);
    for (int64_t i = 0; i < (*out)[0].numel(); ++i) {
      ASSERT_EQ((*out)[0].GetInt(i), want[static_cast<size_t>(i)]) << Describe(t) << " seed=" << seed << " at " << i;
    }
    ++cases;
  }
  EXPECT_EQ(cases, 150);
}

Graph MatMulGraph(DType a_type, int64_t m, int64_t k, int64_t n, uint64_t seed) {
  GraphBuilder b("mm", 13, seed);
  b.Input("a", a_type, {m, k});
  b.Output("y", DType::kInt8, {m, n});
  b.Scalar("sa", DType::kFloat32, 0.03);
  b.Scalar("za", a_type, a_type == DType::kUInt8 ? 128 : 0);
  b.Init("w", b.RandomInts(DType::kInt8, {k, n}, -128, 127));
  b.Scalar("sw", DType::kFloat32, 0.01);
  b.Scalar("zw", DType::kInt8, 0);
  b.Scalar("sy", DType::kFloat32, 0.5);
  b.Scalar("zy", DType::kInt8, -3);
  b.Op("QLinearMatMul", "mm", {"a", "sa", "za", "w", "sw", "zw", "sy", "zy"}, {"y"});
  return b.Build();
}

TEST(Ops, QLinearMatMulUnderTfliteEqualsGemmlowpStyleFormula) {
  const Graph g = MatMulGraph(DType::kUInt8, 3, 37, 5, 11);
  GraphBuilder in("in", 13, 12);
  const Tensor a = in.RandomInts(DType::kUInt8, {3, 37}, 0, 255);
  auto r = RunReference(g, *ParseProfile("tflite"), {{"a", a}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  const Tensor& w = g.initializers.at("w");
  // m = 0.03·0.01/0.5 in double = 6e-4 → M, shift by frexp; y = RDBPOT(SRDHM(acc, M), −shift).
  int exp;
  const double q = std::frexp((double{0.03f} * double{0.01f}) / double{0.5f}, &exp);
  const int64_t mult = static_cast<int64_t>(std::round(q * 2147483648.0));
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 5; ++j) {
      int64_t acc = 0;
      for (int64_t k = 0; k < 37; ++k) acc += (a.GetInt(i * 37 + k) - 128) * w.GetInt(k * 5 + j);
      // Exact: acc·M/2^31 rounded half up, then /2^(−exp) rounded half away from zero.
      const __int128 prod = static_cast<__int128>(acc) * mult;
      const int64_t high = static_cast<int64_t>((prod + (__int128{1} << 30)) >> 31);
      const int64_t e = -exp;
      const int64_t mag = ((high < 0 ? -high : high) + (int64_t{1} << (e - 1))) >> e;
      const int64_t y = std::clamp<int64_t>((high < 0 ? -mag : mag) - 3, -128, 127);
      EXPECT_EQ(r->outputs.at("y").GetInt(i * 5 + j), y) << i << "," << j;
    }
}

TEST(Ops, ProfilesDifferExactlyWhereTheySay) {
  // Full-range weights with u8 activations near 255: int16 pairs saturate under avx2-u8s8.
  const Graph g = MatMulGraph(DType::kUInt8, 4, 64, 8, 5);
  Tensor a(DType::kUInt8, {4, 64});
  for (int64_t i = 0; i < a.numel(); ++i) a.SetInt(i, 250 + i % 6);
  auto ort = RunReference(g, *ParseProfile("ort"), {{"a", a}});
  auto avx2 = RunReference(g, *ParseProfile("avx2-u8s8"), {{"a", a}});
  ASSERT_TRUE(ort.ok() && avx2.ok());
  EXPECT_NE(ort->outputs.at("y"), avx2->outputs.at("y"));
  // Small activations never saturate a pair: the two profiles agree.
  for (int64_t i = 0; i < a.numel(); ++i) a.SetInt(i, 120 + i % 16);
  ort = RunReference(g, *ParseProfile("ort"), {{"a", a}});
  avx2 = RunReference(g, *ParseProfile("avx2-u8s8"), {{"a", a}});
  EXPECT_EQ(ort->outputs.at("y"), avx2->outputs.at("y"));
}

TEST(Ops, DynamicQuantizeLinearFollowsTheSpecFormula) {
  GraphBuilder b("dq", 13, 1);
  b.Input("x", DType::kFloat32, {6});
  b.Output("y", DType::kUInt8, {6});
  b.Op("DynamicQuantizeLinear", "dql", {"x"}, {"y", "s", "z"});
  const Tensor x = Tensor::FromDoubles(DType::kFloat32, {6}, {-1.0, 0.5, 2.0, 3.0, -0.25, 0.0});
  ExecOptions o;
  o.capture_intermediates = true;
  auto r = RunReference(b.Build(), *ParseProfile("onnx"), {{"x", x}}, o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  const float scale = (3.0f - -1.0f) / 255.0f;
  EXPECT_EQ(r->intermediates.at("s").GetDouble(0), scale);
  const int64_t zp = static_cast<int64_t>(std::nearbyint(1.0f / scale));  // −min/scale = 63.75 → 64
  EXPECT_EQ(r->intermediates.at("z").GetInt(0), zp);
  for (int64_t i = 0; i < 6; ++i) {
    const float q = static_cast<float>(x.GetDouble(i)) / scale;
    EXPECT_EQ(r->outputs.at("y").GetInt(i), std::clamp<int64_t>(static_cast<int64_t>(std::nearbyint(q)) + zp, 0, 255));
  }
}

TEST(Ops, AveragePoolRoundingPerProfile) {
  // One 2x2 window summing to 6 (−1.5 after centring... ): sum of (x − zx) = 2+2+1+1 = 6, count 4.
  GraphBuilder b("pool", 13, 1);
  b.Input("x", DType::kInt8, {1, 1, 2, 2});
  b.Output("y", DType::kInt8, {1, 1, 1, 1});
  b.Scalar("s", DType::kFloat32, 0.5);
  b.Scalar("z", DType::kInt8, 0);
  b.Op("QLinearAveragePool", "pool", {"x", "s", "z", "s", "z"}, {"y"},
       {{"kernel_shape", Attribute::Ints({2, 2})}}, "com.microsoft");
  const Graph g = b.Build();
  for (int sign : {1, -1}) {
    const Tensor x = Tensor::FromInts(DType::kInt8, {1, 1, 2, 2}, {2 * sign, 2 * sign, 1 * sign, 1 * sign});
    // 6/4 = 1.5: TFLite rounds half away from zero (2), ONNX Runtime half to even (2), floor 1.
    EXPECT_EQ(RunReference(g, *ParseProfile("tflite"), {{"x", x}})->outputs.at("y").GetInt(0), 2 * sign);
    EXPECT_EQ(RunReference(g, *ParseProfile("ort"), {{"x", x}})->outputs.at("y").GetInt(0), 2 * sign);
    EXPECT_EQ(RunReference(g, *ParseProfile("tflite-single"), {{"x", x}})->outputs.at("y").GetInt(0), sign > 0 ? 2 : -1);
  }
}

TEST(Executor, ErrorsCaptureAndOverrides) {
  const Graph g = MatMulGraph(DType::kInt8, 2, 8, 3, 3);
  const Profile p = *ParseProfile("onnx");
  auto missing = RunReference(g, p, {});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("input 'a' was not given"), std::string::npos);
  auto wrong = RunReference(g, p, {{"a", Tensor(DType::kInt8, {2, 9})}});
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("expected int8 [2,8], got int8 [2,9]"), std::string::npos);
  auto bad_scale = RunReference(g, p, {{"a", Tensor(DType::kInt8, {2, 8})}, {"sy", Tensor::Scalar(DType::kFloat32, 0)}});
  ASSERT_FALSE(bad_scale.ok());
  EXPECT_NE(bad_scale.status().message().find("scale must be finite and > 0"), std::string::npos);
  EXPECT_NE(bad_scale.status().message().find("node 'mm'"), std::string::npos);
  Tensor a(DType::kInt8, {2, 8});
  for (int64_t i = 0; i < 16; ++i) a.SetInt(i, i * 7 - 50);
  ExecOptions o;
  o.capture_intermediates = true;
  auto base = RunReference(g, p, {{"a", a}}, o);
  ASSERT_TRUE(base.ok());
  EXPECT_EQ(base->intermediates.count("y"), 1u);
  EXPECT_EQ(base->macs, 2 * 8 * 3);
  auto scaled = RunReference(g, p, {{"a", a}, {"sy", Tensor::Scalar(DType::kFloat32, 0.25)}});
  ASSERT_TRUE(scaled.ok());
  EXPECT_NE(scaled->outputs.at("y"), base->outputs.at("y"));
}

TEST(RealValued, CloseToTheQuantizedConv) {
  GraphBuilder b("conv", 13, 21);
  b.Input("x", DType::kFloat32, {1, 4, 6, 6});
  b.Output("y", DType::kFloat32, {1, 3, 6, 6});
  b.Scalar("sx", DType::kFloat32, 1.0 / 127);
  b.Scalar("zx", DType::kInt8, 0);
  b.Init("w", b.RandomInts(DType::kInt8, {3, 4, 3, 3}, -127, 127));
  b.Scalar("sw", DType::kFloat32, 0.01);
  b.Scalar("zw", DType::kInt8, 0);
  b.Scalar("sy", DType::kFloat32, 0.08);
  b.Scalar("zy", DType::kInt8, 0);
  b.Op("QuantizeLinear", "q", {"x", "sx", "zx"}, {"xq"});
  b.Op("QLinearConv", "conv", {"xq", "sx", "zx", "w", "sw", "zw", "sy", "zy"}, {"yq"},
       {{"pads", Attribute::Ints({1, 1, 1, 1})}});
  b.Op("DequantizeLinear", "dq", {"yq", "sy", "zy"}, {"y"});
  const Graph g = b.Build();
  GraphBuilder in("in", 13, 22);
  const Tensor x = in.RandomFloats({1, 4, 6, 6}, -1, 1);
  auto q = RunReference(g, *ParseProfile("onnx"), {{"x", x}});
  auto r = RunRealValued(g, {{"x", x}});
  ASSERT_TRUE(q.ok() && r.ok()) << r.status().message();
  const std::vector<double>& real = r->outputs.at("y");
  double signal = 0, noise = 0;
  for (size_t i = 0; i < real.size(); ++i) {
    const double d = q->outputs.at("y").GetDouble(static_cast<int64_t>(i)) - real[i];
    signal += real[i] * real[i];
    noise += d * d;
  }
  EXPECT_GT(10 * std::log10(signal / noise), 30.0);
  EXPECT_GT(noise, 0.0);  // the real-valued reference does not round
}

}  // namespace
}  // namespace qfarm
