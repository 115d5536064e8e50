// Reference ops against values worked out here by hand or by naive formulas written from the ONNX
// spec, ARITHMETIC.md and docs/arithmetic.md (exact integer or long double arithmetic), over
// generated shape sweeps and crafted ties and saturation cases. Executor tests: executor_test.cc.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <random>

#include "agent/device.h"
#include "agent/diff.h"
#include "model/graph_builder.h"
#include "reference/executor.h"
#include "reference/ops.h"
#include "reference/ops/op_context.h"

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

// --- Single-node helpers ------------------------------------------------------------------------

Node MakeNode(const std::string& op, size_t n_inputs, size_t n_outputs,
              std::map<std::string, Attribute> attrs = {}, const std::string& domain = "") {
  Node n;
  n.name = "n";
  n.op_type = op;
  n.domain = domain;
  for (size_t i = 0; i < n_inputs; ++i) n.inputs.push_back("i" + std::to_string(i));
  for (size_t i = 0; i < n_outputs; ++i) n.outputs.push_back("o" + std::to_string(i));
  n.attrs = std::move(attrs);
  return n;
}

// Runs one node on `inputs` (all present) and returns its first output; fails the test on error.
Tensor RunOne(const Node& n, const std::string& profile, const std::vector<Tensor>& inputs) {
  std::vector<const Tensor*> args;
  for (const Tensor& t : inputs) args.push_back(&t);
  auto r = RunReferenceNode(n, *ParseProfile(profile), args);
  EXPECT_TRUE(r.ok()) << n.op_type << " under " << profile << ": " << r.status().message();
  return r.ok() ? (*r)[0] : Tensor();
}

Tensor F(double v) { return Tensor::Scalar(DType::kFloat32, v); }
Tensor Q(DType t, int64_t v) { return Tensor::Scalar(t, static_cast<double>(v)); }

// Round half to even of an exact long double (ties decided exactly when the value is exact).
int64_t HalfEven(long double v) {
  const long double fl = std::floor(v);
  const long double d = v - fl;
  int64_t r = static_cast<int64_t>(fl);
  if (d > 0.5L || (d == 0.5L && (r & 1))) ++r;
  return r;
}

// --- QLinearAdd / QLinearMul --------------------------------------------------------------------

TEST(Ops, QLinearAddTiesPerProfile) {
  // s_a = s_b = 1, s_y = 2, z_a = z_b = 0, z_y = 1: y = (a + b)/2 + 1 with the tie rounded per
  // profile. ONNX Runtime (ort) adds z_y before rounding half-even: 5/2 + 1 = 3.5 → 4.
  // onnx rounds the centred value: round_half_even(2.5) + 1 = 3. TFLite: RDBPOT ties away.
  const Node n = MakeNode("QLinearAdd", 8, 1, {}, "com.microsoft");
  const DType t = DType::kInt8;
  auto add = [&](const std::string& prof, int64_t a, int64_t b) {
    return RunOne(n, prof, {Q(t, a), F(1), Q(t, 0), Q(t, b), F(1), Q(t, 0), F(2), Q(t, 1)}).GetInt(0);
  };
  EXPECT_EQ(add("ort", 5, 0), 4);
  EXPECT_EQ(add("onnx", 5, 0), 3);
  EXPECT_EQ(add("tflite", 5, 0), 4);         // 2.5 → 3, + 1
  EXPECT_EQ(add("tflite", -5, 0), -2);       // −2.5 → −3, + 1
  EXPECT_EQ(add("tflite-single", -5, 0), -1);  // half up: −2.5 → −2, + 1
  EXPECT_EQ(add("onnx", -5, 0), -1);         // −2.5 → −2, + 1
  EXPECT_EQ(add("ort", -5, 0), -2);          // −2.5 + 1 = −1.5 → −2
  // Equal scales: TFLite's 2^20 fixed point is exact, every profile gives a + b + z_y.
  auto same = [&](const std::string& prof, int64_t a, int64_t b) {
    return RunOne(n, prof, {Q(t, a), F(0.5), Q(t, 3), Q(t, b), F(0.5), Q(t, -2), F(0.5), Q(t, 7)}).GetInt(0);
  };
  for (const char* prof : {"onnx", "ort", "tflite", "tflite-single", "xnnpack-rndnu"}) {
    EXPECT_EQ(same(prof, 10, -20), (10 - 3) + (-20 + 2) + 7) << prof;
    EXPECT_EQ(same(prof, 127, 127), 127) << prof;  // saturates
  }
}

TEST(Ops, QLinearAddRandomMatchesNaiveFormulas) {
  const uint32_t seed = ::testing::UnitTest::GetInstance()->random_seed();
  std::mt19937 rng(seed);
  const Node n = MakeNode("QLinearAdd", 8, 1, {}, "com.microsoft");
  const DType t = DType::kUInt8;
  std::uniform_real_distribution<float> scale(0.01f, 0.2f);
  std::uniform_int_distribution<int> val(0, 255);
  for (int trial = 0; trial < 40; ++trial) {
    const float sa = scale(rng), sb = scale(rng), sy = scale(rng);
    const int za = val(rng), zb = val(rng), zy = val(rng);
    Tensor a(t, {2, 3, 4}), b(t, {3, 1});  // b broadcasts: constant along the last axis
    for (int64_t i = 0; i < a.numel(); ++i) a.SetInt(i, val(rng));
    for (int64_t i = 0; i < b.numel(); ++i) b.SetInt(i, val(rng));
    const std::vector<Tensor> in = {a, F(sa), Q(t, za), b, F(sb), Q(t, zb), F(sy), Q(t, zy)};
    const Tensor onnx = RunOne(n, "onnx", in), ort = RunOne(n, "ort", in);
    for (int64_t i = 0; i < a.numel(); ++i) {
      const int64_t av = a.GetInt(i), bv = b.GetInt((i / 4) % 3);
      // onnx: (s_a/s_y)(a − z_a) + (s_b/s_y)(b − z_b) in double, half-even, + z_y.
      const double v = double{sa} / sy * (av - za) + double{sb} / sy * (bv - zb);
      EXPECT_EQ(onnx.GetInt(i), std::clamp<int64_t>(HalfEven(v) + zy, 0, 255)) << "seed " << seed;
      // ort (MLAS AVX2, b constant over the span): F = z_y − (r_a·z_a + r_b·z_b); F += b·r_b;
      // y = fma(a, r_a, F), rounded half-even.
      const float ra = sa / sy, rb = sb / sy;
      float f = static_cast<float>(zy) - (ra * static_cast<float>(za) + rb * static_cast<float>(zb));
      f = f + static_cast<float>(bv) * rb;
      const float w = std::fma(static_cast<float>(av), ra, f);
      EXPECT_EQ(ort.GetInt(i), std::clamp<int64_t>(std::lrint(w), 0, 255)) << "seed " << seed;
    }
  }
}

TEST(Ops, QLinearMulPerProfile) {
  const Node n = MakeNode("QLinearMul", 8, 1, {}, "com.microsoft");
  const DType t = DType::kInt8;
  // s_a·s_b/s_y = 0.25 (TFLite: M = 2^30, shift −1, so SRDHM is exact for even products and the
  // tie is RDBPOT's), z_y = 1. Product 6 → 1.5: ort adds z_y first, 2.5 → 2; onnx 2 + 1 = 3;
  // tflite 2 + 1 = 3. Product −10 → −2.5: ort −1.5 → −2; onnx −2 + 1 = −1; tflite −3 + 1 = −2;
  // tflite-single (half up) −2 + 1 = −1.
  auto mul = [&](const std::string& prof, int64_t a, int64_t b) {
    return RunOne(n, prof, {Q(t, a), F(0.25), Q(t, 0), Q(t, b), F(1), Q(t, 0), F(1), Q(t, 1)}).GetInt(0);
  };
  EXPECT_EQ(mul("ort", 6, 1), 2);
  EXPECT_EQ(mul("onnx", 6, 1), 3);
  EXPECT_EQ(mul("tflite", 6, 1), 3);
  EXPECT_EQ(mul("ort", -10, 1), -2);
  EXPECT_EQ(mul("onnx", -10, 1), -1);
  EXPECT_EQ(mul("tflite", -10, 1), -2);
  EXPECT_EQ(mul("tflite-single", -10, 1), -1);
  EXPECT_EQ(mul("onnx", 100, 100), 127);  // 5000 saturates
  // Random int8 against the exact product with the double multiplier (onnx), away from ties.
  const uint32_t seed = ::testing::UnitTest::GetInstance()->random_seed();
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> val(-128, 127);
  for (int trial = 0; trial < 2000; ++trial) {
    const int a = val(rng), b = val(rng), za = val(rng) / 8, zb = val(rng) / 8, zy = val(rng) / 4;
    const Tensor y = RunOne(n, "onnx", {Q(t, a), F(0.02), Q(t, za), Q(t, b), F(0.03), Q(t, zb),
                                        F(0.1), Q(t, zy)});
    const double m = double{0.02f} * double{0.03f} / double{0.1f};
    const long double v = static_cast<long double>((a - za) * (b - zb)) * m;
    EXPECT_EQ(y.GetInt(0), std::clamp<int64_t>(HalfEven(v) + zy, -128, 127)) << "seed " << seed;
  }
}

// --- Lookup-table ops ---------------------------------------------------------------------------

// |got − exact| in units of the float ulp at `exact`.
long double UlpError(float got, long double exact) {
  int e;
  std::frexp(static_cast<double>(exact), &e);
  const long double ulp = std::ldexp(1.0L, std::max(e - 24, -149));
  return std::fabs(static_cast<long double>(got) - exact) / ulp;
}

TEST(Ops, PortableExpfIsCorrectlyRoundedAndWithinAnUlpOfLibm) {
  // Every float in [−20, 20] spaced by 2^−14, plus random ones over expf's range: the emulator's
  // expf is correctly rounded (checked against long double expl); the platform's expf (glibc)
  // is within one ulp and, measured here, not always correctly rounded.
  const uint32_t seed = ::testing::UnitTest::GetInstance()->random_seed();
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> wide(-103.0f, 88.7f);
  int64_t checked = 0, libm_differs = 0;
  for (int64_t k = -20 * 16384; k <= 20 * 16384 + 200000; ++k, ++checked) {
    const float x = k <= 20 * 16384 ? static_cast<float>(k) / 16384.0f : wide(rng);
    const long double exact = std::exp(static_cast<long double>(x));
    const float mine = ref::PortableExpf(x), libm = std::exp(x);
    ASSERT_LE(UlpError(mine, exact), 0.5005L) << "x = " << x << " seed " << seed;
    ASSERT_LE(UlpError(libm, exact), 1.0L) << "x = " << x;
    libm_differs += mine != libm;
  }
  EXPECT_LT(libm_differs, checked / 100) << "of " << checked;
  EXPECT_EQ(ref::PortableExpf(89.0f), std::numeric_limits<float>::infinity());
  EXPECT_EQ(ref::PortableExpf(0.0f), 1.0f);
  EXPECT_EQ(ref::PortableExpf(-110.0f), 0.0f);
}

TEST(Ops, QLinearSigmoidAndLeakyReluTables) {
  const DType t = DType::kUInt8;
  const Node sig = MakeNode("QLinearSigmoid", 5, 1, {}, "com.microsoft");
  const Node leaky = MakeNode("QLinearLeakyRelu", 5, 1, {{"alpha", Attribute::Float(0.25f)}},
                              "com.microsoft");
  Tensor x(t, {256});
  for (int64_t i = 0; i < 256; ++i) x.SetInt(i, i);
  const float sx = 0.05f, sy = 1.0f / 256;
  const std::vector<Tensor> in = {x, F(sx), Q(t, 128), F(sy), Q(t, 0)};
  const Tensor onnx = RunOne(sig, "onnx", in), ort = RunOne(sig, "ort", in);
  int differ = 0;
  for (int64_t q = 0; q < 256; ++q) {
    const float xf = sx * static_cast<float>(q - 128);
    const long double exact = 1.0L / (1.0L + std::exp(-static_cast<long double>(xf)));
    // onnx: float 1/(1+expf(−x)) quantized; within half an LSB plus float error of the exact value.
    EXPECT_LE(std::fabs(static_cast<long double>(onnx.GetInt(q)) - std::min(exact / sy, 255.0L)), 0.5001L) << q;
    EXPECT_LE(std::abs(ort.GetInt(q) - onnx.GetInt(q)), 1) << q;  // MLAS's rational approximation
    differ += ort.GetInt(q) != onnx.GetInt(q);
  }
  EXPECT_EQ(onnx.GetInt(128), 128);  // sigmoid(0) = 0.5 exactly
  EXPECT_LT(differ, 32);
  // LeakyRelu: s_x = 0.5, z_x = 128, alpha 0.25, s_y = 0.25, z_y = 100.
  const std::vector<Tensor> lin = {x, F(0.5), Q(t, 128), F(0.25), Q(t, 100)};
  const Tensor l_onnx = RunOne(leaky, "onnx", lin), l_tfl = RunOne(leaky, "tflite", lin);
  EXPECT_EQ(l_onnx.GetInt(125), 100 - 2);   // x = −1.5 → −0.375 → −1.5 LSB → half-even −2
  EXPECT_EQ(l_tfl.GetInt(125), 100 - 2);    // half away: −2 as well
  EXPECT_EQ(l_onnx.GetInt(127), 100 + 0);   // x = −0.5 → −0.125 → −0.5 LSB → 0 (even)
  EXPECT_EQ(l_tfl.GetInt(127), 100 - 1);    // TFLite: −0.5 → −1
  EXPECT_EQ(l_onnx.GetInt(200), 244);       // 36 → 144 LSB + 100
  EXPECT_EQ(l_onnx.GetInt(255), 255);       // 63.5 → 254 LSB + 100 saturates
  EXPECT_EQ(l_onnx.GetInt(130), 100 + 4);   // 1.0 → 4 LSB
}

// --- Quantize / Dequantize ----------------------------------------------------------------------

TEST(Ops, QuantizeLinearPerAxisAndLowBitTypes) {
  const uint32_t seed = ::testing::UnitTest::GetInstance()->random_seed();
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> xs(-300.0f, 300.0f);
  for (DType t : {DType::kInt4, DType::kUInt4, DType::kInt8, DType::kUInt8, DType::kInt16,
                  DType::kUInt16}) {
    const Node n = MakeNode("QuantizeLinear", 3, 1, {{"axis", Attribute::Int(0)}});
    Tensor x(DType::kFloat32, {3, 5});
    for (int64_t i = 0; i < x.numel(); ++i) x.SetDouble(i, xs(rng));
    x.SetDouble(0, 2.5);  // an exact tie at scale 1: half-even gives 2
    const std::vector<double> sc = {1.0, 0.37, 3.0};
    const int64_t lo = DTypeMin(t), hi = DTypeMax(t);
    const std::vector<int64_t> zp = {lo / 2, hi / 3, 0};
    const Tensor y = RunOne(n, "onnx", {x, Tensor::FromDoubles(DType::kFloat32, {3}, sc),
                                        Tensor::FromInts(t, {3}, zp)});
    ASSERT_EQ(y.dtype(), t);
    for (int64_t i = 0; i < x.numel(); ++i) {
      const float q = static_cast<float>(x.GetDouble(i)) / static_cast<float>(sc[i / 5]);
      const int64_t want = std::clamp<int64_t>(std::llrint(q) + zp[i / 5], lo, hi);
      EXPECT_EQ(y.GetInt(i), want) << DTypeName(t) << " i=" << i << " seed " << seed;
    }
    EXPECT_EQ(y.GetInt(0), std::clamp<int64_t>(2 + zp[0], lo, hi));
  }
}

TEST(Ops, DequantizeLinearIsOneFloatMultiply) {
  const Node n = MakeNode("DequantizeLinear", 3, 1, {{"axis", Attribute::Int(1)}});
  const Tensor x = Tensor::FromInts(DType::kInt8, {2, 2}, {-128, 127, 5, -7});
  const Tensor y = RunOne(n, "onnx", {x, Tensor::FromDoubles(DType::kFloat32, {2}, {0.1, 3.0}),
                                      Tensor::FromInts(DType::kInt8, {2}, {1, -2})});
  EXPECT_EQ(y.GetDouble(0), double{-129.0f * 0.1f});
  EXPECT_EQ(y.GetDouble(1), 129.0 * 3.0);
  EXPECT_EQ(y.GetDouble(2), double{4.0f * 0.1f});
  EXPECT_EQ(y.GetDouble(3), -15.0);
}

// --- Integer matmul / conv ----------------------------------------------------------------------

TEST(Ops, MatMulIntegerIsTheAccumulatorUnderAccBits) {
  const uint32_t seed = ::testing::UnitTest::GetInstance()->random_seed();
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> u8(0, 255), s8(-128, 127);
  const Node n = MakeNode("MatMulInteger", 4, 1);
  Tensor a(DType::kUInt8, {2, 3, 40}), b(DType::kInt8, {40, 5});
  for (int64_t i = 0; i < a.numel(); ++i) a.SetInt(i, u8(rng));
  for (int64_t i = 0; i < b.numel(); ++i) b.SetInt(i, s8(rng));
  const int za = 100;
  const Tensor zb = Tensor::FromInts(DType::kInt8, {5}, {0, 1, -1, 5, -5});
  for (const char* prof : {"onnx", "onnx,acc_bits=16", "onnx,acc_bits=16,acc_overflow=saturate"}) {
    const Profile p = *ParseProfile(prof);
    const Tensor y = RunOne(n, prof, {a, b, Q(DType::kUInt8, za), zb});
    ASSERT_EQ(y.dtype(), DType::kInt32);
    for (int64_t bi = 0; bi < 2; ++bi)
      for (int64_t m = 0; m < 3; ++m)
        for (int64_t j = 0; j < 5; ++j) {
          int64_t acc = 0;  // k ascending, each step wrapped or clamped to acc_bits
          for (int64_t k = 0; k < 40; ++k) {
            acc += (a.GetInt((bi * 3 + m) * 40 + k) - za) * (b.GetInt(k * 5 + j) - zb.GetInt(j));
            const int64_t lim = int64_t{1} << (p.acc_bits - 1);
            if (p.acc_overflow == AccOverflow::kSaturate) acc = std::clamp(acc, -lim, lim - 1);
            else acc = ((acc + lim) % (2 * lim) + 2 * lim) % (2 * lim) - lim;
          }
          EXPECT_EQ(y.GetInt((bi * 3 + m) * 5 + j), acc) << prof << " seed " << seed;
        }
  }
}

TEST(Ops, ConvIntegerMatchesNaiveWithGroups) {
  const uint32_t seed = ::testing::UnitTest::GetInstance()->random_seed();
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> u8(0, 255);
  const Node n = MakeNode("ConvInteger", 4, 1, {{"group", Attribute::Int(2)},
                                                {"strides", Attribute::Ints({2, 1})},
                                                {"pads", Attribute::Ints({1, 0, 0, 1})}});
  Tensor x(DType::kUInt8, {1, 4, 5, 5}), w(DType::kUInt8, {6, 2, 3, 2});
  for (int64_t i = 0; i < x.numel(); ++i) x.SetInt(i, u8(rng));
  for (int64_t i = 0; i < w.numel(); ++i) w.SetInt(i, u8(rng));
  const int zx = 7, zw = 130;
  const Tensor y = RunOne(n, "onnx", {x, w, Q(DType::kUInt8, zx), Q(DType::kUInt8, zw)});
  // out h = (5 + 1 + 0 − 3)/2 + 1 = 2, out w = (5 + 0 + 1 − 2)/1 + 1 = 5.
  ASSERT_EQ(y.shape(), (Shape{1, 6, 2, 5}));
  for (int64_t m = 0; m < 6; ++m)
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < 5; ++j) {
        int64_t acc = 0;
        for (int64_t c = 0; c < 2; ++c)
          for (int64_t a = 0; a < 3; ++a)
            for (int64_t e = 0; e < 2; ++e) {
              const int64_t r = i * 2 + a - 1, s = j + e;
              const int64_t xv = (r < 0 || r >= 5 || s >= 5) ? zx : x.GetInt(((m / 3 * 2 + c) * 5 + r) * 5 + s);
              acc += (xv - zx) * (w.GetInt(((m * 2 + c) * 3 + a) * 2 + e) - zw);
            }
        EXPECT_EQ(y.GetInt((m * 2 + i) * 5 + j), acc) << m << "," << i << "," << j << " seed " << seed;
      }
}

TEST(Ops, QLinearConvProfilesDifferOnCraftedTiesAndSaturation) {
  // 1x1 conv over 2 channels, one output: acc = x0·w0 + x1·w1 (zero points 0), m = s_x·s_w/s_y.
  const Node n = MakeNode("QLinearConv", 8, 1);
  auto conv = [&](const std::string& prof, int64_t x0, int64_t x1, int64_t w0, int64_t w1,
                  double sy, DType t) {
    const Tensor x = Tensor::FromInts(t, {1, 2, 1, 1}, {x0, x1});
    const Tensor w = Tensor::FromInts(DType::kInt8, {1, 2, 1, 1}, {w0, w1});
    return RunOne(n, prof, {x, F(1), Q(t, 0), w, F(0.5), Q(DType::kInt8, 0), F(sy), Q(t, 0)}).GetInt(0);
  };
  const DType s8 = DType::kInt8, u8 = DType::kUInt8;
  // s_y = 2 → m = 0.25 (TFLite: M = 2^30, shift −1; SRDHM exact on even acc, RDBPOT rounds).
  // acc = −6: −1.5 → onnx/ort half-even −2, tflite half-away −2, tflite-single half-up −1.
  EXPECT_EQ(conv("onnx", -6, 0, 1, 0, 2, s8), -2);
  EXPECT_EQ(conv("tflite", -6, 0, 1, 0, 2, s8), -2);
  EXPECT_EQ(conv("tflite-single", -6, 0, 1, 0, 2, s8), -1);
  EXPECT_EQ(conv("neon-naive", -6, 0, 1, 0, 2, s8), -1);  // SRSHL without the fixup: half up
  // acc = −10: −2.5 → half-even −2, half-away −3, half-up −2.
  EXPECT_EQ(conv("onnx", -10, 0, 1, 0, 2, s8), -2);
  EXPECT_EQ(conv("ort", -10, 0, 1, 0, 2, s8), -2);
  EXPECT_EQ(conv("tflite", -10, 0, 1, 0, 2, s8), -3);
  EXPECT_EQ(conv("tflite-single", -10, 0, 1, 0, 2, s8), -2);
  // acc = 10: 2.5 → half-even 2, half-away 3, half-up 3.
  EXPECT_EQ(conv("onnx", 10, 0, 1, 0, 2, s8), 2);
  EXPECT_EQ(conv("tflite", 10, 0, 1, 0, 2, s8), 3);
  EXPECT_EQ(conv("tflite-single", 10, 0, 1, 0, 2, s8), 3);
  // VPMADDUBSW: u8 {255, 255} · s8 {127, 127} = 64770 saturates to 32767 as one int16 pair.
  // s_y = 512 → m = 1/1024: 64770/1024 = 63.25 → 63; 32767/1024 = 31.999 → 32.
  EXPECT_EQ(conv("ort", 255, 255, 127, 127, 512, u8), 63);
  EXPECT_EQ(conv("onnx", 255, 255, 127, 127, 512, u8), 63);
  EXPECT_EQ(conv("avx2-u8s8", 255, 255, 127, 127, 512, u8), 32);
  // Output saturation: 255·127·2·0.5 = 32385 → 127 for int8 under every profile.
  for (const char* prof : {"onnx", "ort", "tflite", "avx2-u8s8", "dsp-sat32"}) {
    EXPECT_EQ(conv(prof, 127, 127, 127, 127, 1, s8), 127) << prof;
  }
}

// --- Pooling ------------------------------------------------------------------------------------

TEST(Ops, QLinearAveragePoolTfliteSumsRawValues) {
  // z_x = z_y = 1, equal scales, window {0, 1}: TFLite sums raw values (1) and rounds 1/2 away
  // from zero → 1. Centred it would be (−1)/2 → −1, + 1 = 0; onnx (half-even of −0.5) → 0 + 1.
  const Node n = MakeNode("QLinearAveragePool", 5, 1, {{"kernel_shape", Attribute::Ints({1, 2})}},
                          "com.microsoft");
  const Tensor x = Tensor::FromInts(DType::kInt8, {1, 1, 1, 2}, {0, 1});
  const std::vector<Tensor> in = {x, F(0.5), Q(DType::kInt8, 1), F(0.5), Q(DType::kInt8, 1)};
  EXPECT_EQ(RunOne(n, "tflite", in).GetInt(0), 1);
  EXPECT_EQ(RunOne(n, "onnx", in).GetInt(0), 1);
  // ort: float avg −0.25 / 0.5 + 1 = 0.5 → half-even 0.
  EXPECT_EQ(RunOne(n, "ort", in).GetInt(0), 0);
}

TEST(Ops, QLinearAveragePoolRandomMatchesNaive) {
  const uint32_t seed = ::testing::UnitTest::GetInstance()->random_seed();
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> u8(0, 255);
  for (int include_pad : {0, 1}) {
    const Node n = MakeNode("QLinearAveragePool", 5, 1,
                            {{"kernel_shape", Attribute::Ints({3, 3})}, {"strides", Attribute::Ints({2, 2})},
                             {"pads", Attribute::Ints({1, 1, 1, 1})},
                             {"count_include_pad", Attribute::Int(include_pad)}},
                            "com.microsoft");
    Tensor x(DType::kUInt8, {1, 2, 7, 7});
    for (int64_t i = 0; i < x.numel(); ++i) x.SetInt(i, u8(rng));
    const float sx = 0.03f, sy = 0.05f;
    const int zx = 90, zy = 120;
    const std::vector<Tensor> in = {x, F(sx), Q(DType::kUInt8, zx), F(sy), Q(DType::kUInt8, zy)};
    const Tensor onnx = RunOne(n, "onnx", in), ort = RunOne(n, "ort", in);
    ASSERT_EQ(onnx.shape(), (Shape{1, 2, 4, 4}));
    for (int64_t c = 0; c < 2; ++c)
      for (int64_t i = 0; i < 4; ++i)
        for (int64_t j = 0; j < 4; ++j) {
          int64_t sum = 0, count = 0;
          float fsum = 0.0f;
          for (int64_t a = 0; a < 3; ++a)
            for (int64_t e = 0; e < 3; ++e) {
              const int64_t r = i * 2 + a - 1, s = j * 2 + e - 1;  // padded extent [−1, 7]
              if (r < 0 || r >= 7 || s < 0 || s >= 7) { count += include_pad; continue; }
              sum += x.GetInt((c * 7 + r) * 7 + s) - zx;
              fsum += sx * static_cast<float>(x.GetInt((c * 7 + r) * 7 + s) - zx);
              ++count;
            }
          const long double v = static_cast<long double>(sum) * double{sx} / (double{sy} * count);
          const int64_t idx = (c * 4 + i) * 4 + j;
          EXPECT_EQ(onnx.GetInt(idx), std::clamp<int64_t>(HalfEven(v) + zy, 0, 255)) << "seed " << seed;
          const float fv = fsum / static_cast<float>(count) / sy + static_cast<float>(zy);
          EXPECT_EQ(ort.GetInt(idx), std::clamp<int64_t>(std::lrint(fv), 0, 255)) << "seed " << seed;
        }
  }
}

TEST(Ops, MaxPoolReluClipOnIntegers) {
  const Tensor x = Tensor::FromInts(DType::kInt8, {1, 1, 2, 3}, {-5, 3, -128, 7, 0, 2});
  const Tensor mp = RunOne(MakeNode("MaxPool", 1, 1, {{"kernel_shape", Attribute::Ints({2, 2})}}),
                           "onnx", {x});
  EXPECT_EQ(mp, Tensor::FromInts(DType::kInt8, {1, 1, 1, 2}, {7, 3}));
  const Tensor relu = RunOne(MakeNode("Relu", 1, 1), "onnx", {x});
  EXPECT_EQ(relu, Tensor::FromInts(DType::kInt8, {1, 1, 2, 3}, {0, 3, 0, 7, 0, 2}));
  const Tensor clip = RunOne(MakeNode("Clip", 3, 1), "onnx", {x, Q(DType::kInt8, -3), Q(DType::kInt8, 2)});
  EXPECT_EQ(clip, Tensor::FromInts(DType::kInt8, {1, 1, 2, 3}, {-3, 2, -3, 2, 0, 2}));
}

// --- Data movement and float ops ----------------------------------------------------------------

TEST(Ops, TransposeConcatSplitReshapeCast) {
  Tensor x(DType::kInt16, {2, 3, 4});
  for (int64_t i = 0; i < x.numel(); ++i) x.SetInt(i, i * 37 - 400);
  const Tensor t = RunOne(MakeNode("Transpose", 1, 1, {{"perm", Attribute::Ints({2, 0, 1})}}), "onnx", {x});
  ASSERT_EQ(t.shape(), (Shape{4, 2, 3}));
  for (int64_t a = 0; a < 2; ++a)
    for (int64_t b = 0; b < 3; ++b)
      for (int64_t c = 0; c < 4; ++c) EXPECT_EQ(t.GetInt((c * 2 + a) * 3 + b), x.GetInt((a * 3 + b) * 4 + c));
  const Tensor cat = RunOne(MakeNode("Concat", 2, 1, {{"axis", Attribute::Int(1)}}), "onnx", {x, x});
  ASSERT_EQ(cat.shape(), (Shape{2, 6, 4}));
  EXPECT_EQ(cat.GetInt(1 * 24 + 3 * 4 + 2), x.GetInt(1 * 12 + 0 * 4 + 2));
  std::vector<const Tensor*> args = {&cat, nullptr};
  Node split = MakeNode("Split", 1, 2, {{"axis", Attribute::Int(1)}});
  auto parts = RunReferenceNode(split, *ParseProfile("onnx"), {&cat});
  ASSERT_TRUE(parts.ok()) << parts.status().message();
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0], x);
  EXPECT_EQ((*parts)[1], x);
  const Tensor flat = RunOne(MakeNode("Flatten", 1, 1, {{"axis", Attribute::Int(2)}}), "onnx", {x});
  EXPECT_EQ(flat.shape(), (Shape{6, 4}));
  EXPECT_EQ(flat.GetInt(23), x.GetInt(23));
  const Tensor shape = Tensor::FromInts(DType::kInt64, {2}, {4, -1});
  const Tensor re = RunOne(MakeNode("Reshape", 2, 1), "onnx", {x, shape});
  EXPECT_EQ(re.shape(), (Shape{4, 6}));
  Tensor x32(DType::kInt32, {6});
  for (int64_t i = 0; i < 6; ++i) x32.SetInt(i, i * 100003 - 250000);
  const Tensor c8 = RunOne(MakeNode("Cast", 1, 1, {{"to", Attribute::Int(3)}}), "onnx", {x32});  // int8
  ASSERT_EQ(c8.dtype(), DType::kInt8);
  for (int64_t i = 0; i < 6; ++i) {  // two's-complement wrap, as a C cast
    EXPECT_EQ(c8.GetInt(i), static_cast<int8_t>(static_cast<uint32_t>(x32.GetInt(i)) & 0xff)) << i;
  }
}

TEST(Ops, FloatConvAndGemmSumSequentiallyWithoutFma) {
  const uint32_t seed = ::testing::UnitTest::GetInstance()->random_seed();
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  Tensor a(DType::kFloat32, {3, 17}), b(DType::kFloat32, {5, 17}), c(DType::kFloat32, {5});
  for (Tensor* t : {&a, &b, &c})
    for (int64_t i = 0; i < t->numel(); ++i) t->SetDouble(i, d(rng));
  const Node gemm = MakeNode("Gemm", 3, 1, {{"transB", Attribute::Int(1)}, {"alpha", Attribute::Float(0.5f)},
                                            {"beta", Attribute::Float(2.0f)}});
  const Tensor y = RunOne(gemm, "onnx", {a, b, c});
  for (int64_t m = 0; m < 3; ++m)
    for (int64_t n = 0; n < 5; ++n) {
      volatile float acc = 0.0f;  // one rounding per product and per sum, k ascending
      for (int64_t k = 0; k < 17; ++k) {
        volatile float p = static_cast<float>(a.GetDouble(m * 17 + k)) * static_cast<float>(b.GetDouble(n * 17 + k));
        acc = acc + p;
      }
      volatile float scaled = 0.5f * acc;
      volatile float bias = 2.0f * static_cast<float>(c.GetDouble(n));
      EXPECT_EQ(y.GetDouble(m * 5 + n), static_cast<double>(scaled + bias)) << "seed " << seed;
    }
}


// --- Against ONNX Runtime itself (skipped where examples/ort-runner is not installed) ----------

TEST(Ops, OrtProfileIsBitExactAgainstOnnxRuntime) {
  const std::string dir = std::string(QFARM_SOURCE_DIR) + "/examples/ort-runner";
  if (!std::filesystem::exists(dir + "/node_modules/onnxruntime-node") ||
      std::system("node --version >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "onnxruntime-node not installed (scripts/setup.sh installs it)";
  }
  auto dev = OpenDevice("command:" + dir + "/qfarm-ort-runner");
  ASSERT_TRUE(dev.ok()) << dev.status().message();
  const Profile ort = *ParseProfile("ort");
  const std::string ms = "com.microsoft";
  // Random scales, then scales that make most outputs exact ties (ratios 0.5, pools with s_x ==
  // s_y, odd output zero points), where ONNX Runtime's order (zero point before rounding) shows.
  for (int ties = 0; ties < 2; ++ties)
  for (DType t : {DType::kUInt8, DType::kInt8}) {
    const bool u = t == DType::kUInt8;
    GraphBuilder b("ort_ops", 14, u ? 11 : 12);
    b.Input("a", t, {1, 8, 16, 16});
    b.Input("c", t, {1, 8, 1, 1});
    b.Input("d", t, {1});
    std::vector<double> s = b.RandomReals(5, 0.005, 0.1);
    if (ties) s = {0.5, 0.5, 1.0, 0.5, 4 * 0.5};  // sy3 = s[4]/4 = s_a
    b.Scalar("sa", DType::kFloat32, s[0]);
    b.Scalar("za", t, u ? 117 : -9);
    b.Scalar("sc", DType::kFloat32, s[1]);
    b.Scalar("zc", t, u ? 140 : 13);
    b.Scalar("sy", DType::kFloat32, s[2]);
    b.Scalar("zy", t, u ? 121 : 3);
    b.Scalar("sy2", DType::kFloat32, s[3]);
    b.Scalar("zy2", t, u ? 99 : -5);
    b.Scalar("sy3", DType::kFloat32, s[4] / 4);
    b.Scalar("zy3", t, u ? 127 : 1);
    const std::vector<std::pair<std::string, Shape>> outs = {
        {"add_same", {1, 8, 16, 16}}, {"add_bcast", {1, 8, 16, 16}}, {"add_scalar_a", {1, 8, 16, 16}},
        {"mul", {1, 8, 16, 16}}, {"avgpool", {1, 8, 8, 8}}, {"gap", {1, 8, 1, 1}},
        {"sigmoid", {1, 8, 16, 16}}, {"leaky", {1, 8, 16, 16}}};
    b.Op("QLinearAdd", "add_same", {"a", "sa", "za", "a", "sc", "zc", "sy", "zy"}, {"add_same"}, {}, ms);
    b.Op("QLinearAdd", "add_bcast", {"a", "sa", "za", "c", "sc", "zc", "sy", "zy"}, {"add_bcast"}, {}, ms);
    b.Op("QLinearAdd", "add_scalar_a", {"d", "sc", "zc", "a", "sa", "za", "sy", "zy"}, {"add_scalar_a"}, {}, ms);
    b.Op("QLinearMul", "mul", {"a", "sa", "za", "c", "sc", "zc", "sy2", "zy2"}, {"mul"}, {}, ms);
    b.Op("QLinearAveragePool", "avgpool", {"a", "sa", "za", "sy3", "zy3"}, {"avgpool"},
         {{"kernel_shape", Attribute::Ints({3, 3})}, {"pads", Attribute::Ints({1, 1, 1, 1})},
          {"strides", Attribute::Ints({2, 2})}, {"count_include_pad", Attribute::Int(u ? 1 : 0)}}, ms);
    b.Op("QLinearGlobalAveragePool", "gap", {"a", "sa", "za", "sy3", "zy3"}, {"gap"}, {}, ms);
    b.Op("QLinearSigmoid", "sigmoid", {"a", "sa", "za", "sy2", "zy2"}, {"sigmoid"}, {}, ms);
    b.Op("QLinearLeakyRelu", "leaky", {"a", "sa", "za", "sy2", "zy2"}, {"leaky"},
         {{"alpha", Attribute::Float(0.1f)}}, ms);
    for (const auto& [name, shape] : outs) b.Output(name, t, shape);
    const int64_t lo = DTypeMin(t), hi = DTypeMax(t);
    const TensorMap in = {{"a", b.RandomInts(t, {1, 8, 16, 16}, lo, hi)},
                          {"c", b.RandomInts(t, {1, 8, 1, 1}, lo, hi)},
                          {"d", b.RandomInts(t, {1}, lo, hi)}};
    auto r = Diff(**dev, b.Build(), ort, ort, in, 1);
    ASSERT_TRUE(r.ok()) << r.status().message();
    ASSERT_EQ(r->layers.size(), outs.size());
    for (const LayerDivergence& l : r->layers) {
      EXPECT_TRUE(l.metrics.bit_exact) << DTypeName(t) << " ties=" << ties << " " << l.node << ": "
                                       << l.metrics.mismatches << " of " << l.metrics.elements << " differ";
    }
    if (!ties) continue;
    // The centred float64 formula (onnx) rounds before adding the zero point: not ONNX Runtime.
    auto onnx = Diff(**dev, b.Build(), ort, *ParseProfile("onnx"), in, 1);
    ASSERT_TRUE(onnx.ok()) << onnx.status().message();
    EXPECT_FALSE(onnx->layers[1].metrics.bit_exact) << "add_bcast";
    EXPECT_FALSE(onnx->layers[3].metrics.bit_exact) << "mul";
  }
}

}  // namespace
}  // namespace qfarm
