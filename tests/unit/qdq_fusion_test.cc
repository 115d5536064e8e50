// QDQ fusion (model/qdq_fusion.h) on hand-built graphs: each pattern becomes the right integer op
// with the right inputs, biases are quantized as documented (half-even ties, int32 clipping),
// unfusable patterns stay as they are, dead DQ/Q nodes and unused initializers go, and the fused
// graph computes within 1 LSB of the float QDQ graph on the reference emulator.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <iostream>
#include <limits>

#include "model/graph_builder.h"
#include "model/qdq_fusion.h"
#include "model/validate.h"
#include "reference/executor.h"

namespace qfarm {
namespace {

uint64_t TestSeed() {
  const char* env = std::getenv("QFARM_TEST_SEED");
  const uint64_t seed = env ? std::strtoull(env, nullptr, 10) : 4242;
  std::cout << "seed (QFARM_TEST_SEED): " << seed << "\n";
  return seed;
}

// x float → Q → DQ: the quantized activation "<name>_q" and its dequantized float "<name>_dq".
std::string QuantizedInput(GraphBuilder& b, const std::string& name, const Shape& shape, double scale,
                           DType type, int64_t zero) {
  b.Input(name, DType::kFloat32, shape);
  b.Scalar(name + "_scale", DType::kFloat32, scale);
  b.Scalar(name + "_zp", type, static_cast<double>(zero));
  b.Op("QuantizeLinear", "q_" + name, {name, name + "_scale", name + "_zp"}, {name + "_q"});
  return b.Op("DequantizeLinear", "dq_" + name, {name + "_q", name + "_scale", name + "_zp"}, {name + "_dq"});
}

// value → Q (scale, zero) → DQ → graph output "y".
void QuantizedOutput(GraphBuilder& b, const std::string& value, const Shape& shape, double scale, DType type,
                     int64_t zero) {
  b.Scalar("y_scale", DType::kFloat32, scale);
  b.Scalar("y_zp", type, static_cast<double>(zero));
  b.Op("QuantizeLinear", "q_y", {value, "y_scale", "y_zp"}, {"y_q"});
  b.Op("DequantizeLinear", "dq_y", {"y_q", "y_scale", "y_zp"}, {"y"});
  b.Output("y", DType::kFloat32, shape);
}

const Node* Find(const Graph& g, const std::string& op) {
  for (const Node& n : g.nodes) {
    if (n.op_type == op) return &n;
  }
  return nullptr;
}

int Count(const Graph& g, const std::string& op) {
  int k = 0;
  for (const Node& n : g.nodes) k += n.op_type == op;
  return k;
}

TensorMap RandomInputs(const Graph& g, uint64_t seed) {
  SplitMix64 rng(seed);
  TensorMap in;
  for (const ValueInfo& v : g.inputs) {
    Tensor t(v.dtype, v.shape);
    for (int64_t i = 0; i < t.numel(); ++i) t.SetDouble(i, rng.UniformReal(-4, 4));
    in[v.name] = t;
  }
  return in;
}

// The fused graph's "y" is within one output LSB of the float QDQ graph's, and mostly equal.
void ExpectCloseToFloat(const Graph& qdq, const Graph& fused, double y_scale, uint64_t seed) {
  const TensorMap in = RandomInputs(qdq, seed);
  const Profile p = *ParseProfile("onnx");
  auto a = RunReference(qdq, p, in);
  auto b = RunReference(fused, p, in);
  ASSERT_TRUE(a.ok()) << a.status().message();
  ASSERT_TRUE(b.ok()) << b.status().message();
  const Tensor &ya = a->outputs.at("y"), &yb = b->outputs.at("y");
  ASSERT_EQ(ya.shape(), yb.shape());
  int64_t equal = 0;
  for (int64_t i = 0; i < ya.numel(); ++i) {
    const double d = std::fabs(ya.GetDouble(i) - yb.GetDouble(i)) / y_scale;
    ASSERT_LE(d, 1.0001) << "y[" << i << "]: " << ya.GetDouble(i) << " vs " << yb.GetDouble(i);
    equal += d < 0.5;
  }
  EXPECT_GE(equal * 10, ya.numel() * 9) << equal << " of " << ya.numel() << " equal";
}

// DQ(x uint8) → Conv(DQ(w int8, per-channel axis 0), bias) → Q(uint8) → DQ.
// bias_mode 0: DQ of int32 at s_x·s_w; 1: float32 initializer; 2: none.
Graph ConvGraph(int bias_mode, uint64_t seed) {
  GraphBuilder b("conv", 13, seed);
  const float sx = 0.05f;
  const std::vector<double> sw = {0.01, 0.02, 0.004};
  const std::string x = QuantizedInput(b, "x", {1, 2, 5, 5}, sx, DType::kUInt8, 128);
  b.Init("w", b.RandomInts(DType::kInt8, {3, 2, 3, 3}, -127, 127));
  b.Vector("w_scale", DType::kFloat32, sw);
  b.Init("w_zp", Tensor::FromInts(DType::kInt8, {3}, {0, 0, 0}));
  b.Op("DequantizeLinear", "dq_w", {"w", "w_scale", "w_zp"}, {"w_dq"}, {{"axis", Attribute::Int(0)}});
  std::vector<std::string> ins = {x, "w_dq"};
  if (bias_mode == 0) {
    std::vector<double> bs;
    for (double s : sw) bs.push_back(static_cast<double>(sx * static_cast<float>(s)));
    b.Init("b", Tensor::FromInts(DType::kInt32, {3}, {-300, 17, 4000}));
    b.Vector("b_scale", DType::kFloat32, bs);
    b.Op("DequantizeLinear", "dq_b", {"b", "b_scale"}, {"b_dq"}, {{"axis", Attribute::Int(0)}});
    ins.push_back("b_dq");
  } else if (bias_mode == 1) {
    b.Vector("b_float", DType::kFloat32, {-0.3, 0.02, 0.1});
    ins.push_back("b_float");
  }
  b.Op("Conv", "conv", ins, {"conv_out"},
       {{"pads", Attribute::Ints({1, 1, 1, 1})}, {"kernel_shape", Attribute::Ints({3, 3})}});
  QuantizedOutput(b, "conv_out", {1, 3, 5, 5}, 0.08, DType::kUInt8, 120);
  return b.Build();
}

TEST(QdqFusion, ConvPerChannelWithInt32BiasBecomesQLinearConv) {
  const uint64_t seed = TestSeed();
  const Graph g = ConvGraph(0, seed);
  ASSERT_TRUE(Validate(g).ok()) << Validate(g).status().message();
  std::vector<FusionRecord> rec;
  const Graph f = FuseQdq(g, &rec);
  ASSERT_EQ(rec.size(), 1u);
  EXPECT_EQ(rec[0].fused_node, "conv");
  EXPECT_EQ(rec[0].op_type, "QLinearConv");
  EXPECT_EQ(rec[0].source_nodes, (std::vector<std::string>{"dq_x", "dq_w", "dq_b", "conv", "q_y"}));
  const Node* c = Find(f, "QLinearConv");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->name, "conv");
  EXPECT_EQ(c->domain, "");
  EXPECT_EQ(c->inputs, (std::vector<std::string>{"x_q", "x_scale", "x_zp", "w", "w_scale", "w_zp", "y_scale",
                                                 "y_zp", "b"}));
  EXPECT_EQ(c->outputs, std::vector<std::string>{"y_q"});
  EXPECT_EQ(c->AttrInts("pads"), (std::vector<int64_t>{1, 1, 1, 1}));
  EXPECT_EQ(Count(f, "Conv"), 0);
  EXPECT_EQ(Count(f, "DequantizeLinear"), 1);  // only dq_y
  EXPECT_EQ(Count(f, "QuantizeLinear"), 1);    // only q_x
  EXPECT_EQ(f.initializers.count("b_scale"), 0u) << "unused initializer kept";
  EXPECT_EQ(f.initializers.at("b"), g.initializers.at("b"));
  ASSERT_TRUE(Validate(f).ok()) << Validate(f).status().message();
  ExpectCloseToFloat(g, f, 0.08, seed);
}

TEST(QdqFusion, FloatBiasIsQuantizedHalfEvenAndClipped) {
  GraphBuilder b("conv_bias", 13, 1);
  // s_x·s_w = 0.5·0.25 = 0.125 exactly, so b / 0.125 lands on ties.
  const std::string x = QuantizedInput(b, "x", {1, 1, 3, 3}, 0.5, DType::kInt8, 0);
  b.Init("w", Tensor::FromInts(DType::kInt8, {4, 1, 1, 1}, {1, 2, 3, 4}));
  b.Scalar("w_scale", DType::kFloat32, 0.25);
  b.Scalar("w_zp", DType::kInt8, 0);
  b.Op("DequantizeLinear", "dq_w", {"w", "w_scale", "w_zp"}, {"w_dq"});
  // 0.5 → 0, 1.5 → 2, −0.5 → 0, −2.5 → −2, 1e12 → INT32_MAX, −1e12 → INT32_MIN.
  b.Vector("bias", DType::kFloat32, {0.0625, 0.1875, -0.0625, -0.3125});
  b.Op("Conv", "c", {x, "w_dq", "bias"}, {"c_out"});
  QuantizedOutput(b, "c_out", {1, 4, 3, 3}, 1.0, DType::kInt8, 0);
  Graph g = b.Build();
  std::vector<FusionRecord> rec;
  Graph f = FuseQdq(g, &rec);
  ASSERT_EQ(rec.size(), 1u);
  const Node* c = Find(f, "QLinearConv");
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(c->inputs.size(), 9u);
  EXPECT_EQ(f.initializers.at(c->inputs[8]), Tensor::FromInts(DType::kInt32, {4}, {0, 2, 0, -2}));
  EXPECT_EQ(f.initializers.count("bias"), 0u);

  g.initializers["bias"] = Tensor::FromDoubles(DType::kFloat32, {4}, {1e12, -1e12, 0, 0});
  f = FuseQdq(g, &rec);
  c = Find(f, "QLinearConv");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(f.initializers.at(c->inputs[8]),
            Tensor::FromInts(DType::kInt32, {4}, {2147483647, -2147483648LL, 0, 0}));
}

TEST(QdqFusion, FloatBiasConvIsCloseToTheFloatGraph) {
  const uint64_t seed = TestSeed();
  for (int mode : {1, 2}) {
    const Graph g = ConvGraph(mode, seed);
    std::vector<FusionRecord> rec;
    const Graph f = FuseQdq(g, &rec);
    ASSERT_EQ(rec.size(), 1u) << mode;
    const Node* c = Find(f, "QLinearConv");
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->inputs.size(), mode == 1 ? 9u : 8u);
    ExpectCloseToFloat(g, f, 0.08, seed);
  }
}

TEST(QdqFusion, MatMulPerColumnAndOmittedZeroPoints) {
  const uint64_t seed = TestSeed();
  GraphBuilder b("mm", 13, seed);
  // x quantized with no zero point: uint8, zero point 0 (ONNX default); inputs ≥ 0 after Relu.
  b.Input("x", DType::kFloat32, {3, 4});
  b.Op("Relu", "relu", {"x"}, {"xr"});
  b.Scalar("x_scale", DType::kFloat32, 0.02);
  b.Op("QuantizeLinear", "q_x", {"xr", "x_scale"}, {"x_q"});
  b.Op("DequantizeLinear", "dq_x", {"x_q", "x_scale"}, {"x_dq"});
  b.Init("w", b.RandomInts(DType::kInt8, {4, 5}, -100, 100));
  b.Vector("w_scale", DType::kFloat32, {0.01, 0.02, 0.03, 0.015, 0.005});
  b.Op("DequantizeLinear", "dq_w", {"w", "w_scale"}, {"w_dq"}, {{"axis", Attribute::Int(1)}});
  b.Op("MatMul", "mm", {"x_dq", "w_dq"}, {"mm_out"});
  QuantizedOutput(b, "mm_out", {3, 5}, 0.01, DType::kInt8, -3);
  const Graph g = b.Build();
  std::vector<FusionRecord> rec;
  const Graph f = FuseQdq(g, &rec);
  ASSERT_EQ(rec.size(), 1u);
  const Node* m = Find(f, "QLinearMatMul");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->name, "mm");
  ASSERT_EQ(m->inputs.size(), 8u);
  EXPECT_EQ(m->inputs[0], "x_q");
  EXPECT_EQ(m->inputs[3], "w");
  EXPECT_EQ(m->inputs[4], "w_scale");
  EXPECT_EQ(f.initializers.at(m->inputs[2]), Tensor::FromInts(DType::kUInt8, {}, {0}));
  EXPECT_EQ(f.initializers.at(m->inputs[5]), Tensor::FromInts(DType::kInt8, {}, {0}));
  EXPECT_EQ(m->inputs[6], "y_scale");
  EXPECT_EQ(m->inputs[7], "y_zp");
  ASSERT_TRUE(Validate(f).ok()) << Validate(f).status().message();
  ExpectCloseToFloat(g, f, 0.01, seed);
}

Graph GemmGraph(int64_t trans_b, bool with_c, uint64_t seed) {
  GraphBuilder b("gemm", 13, seed);
  const std::string x = QuantizedInput(b, "x", {2, 6}, 0.03, DType::kInt8, 1);
  const Shape ws = trans_b ? Shape{4, 6} : Shape{6, 4};
  b.Init("w", b.RandomInts(DType::kInt8, ws, -127, 127));
  b.Vector("w_scale", DType::kFloat32, {0.01, 0.02, 0.005, 0.04});
  b.Op("DequantizeLinear", "dq_w", {"w", "w_scale"}, {"w_dq"}, {{"axis", Attribute::Int(trans_b ? 0 : 1)}});
  std::vector<std::string> ins = {x, "w_dq"};
  if (with_c) ins.push_back(b.Vector("c", DType::kFloat32, {0.1, 0.2, 0.3, 0.4}));
  b.Op("Gemm", "gemm", ins, {"g_out"}, {{"transB", Attribute::Int(trans_b)}});
  QuantizedOutput(b, "g_out", {2, 4}, 0.05, DType::kInt8, 0);
  return b.Build();
}

TEST(QdqFusion, GemmTransBBecomesQLinearMatMulOnATransposedWeight) {
  const uint64_t seed = TestSeed();
  const Graph g = GemmGraph(1, false, seed);
  std::vector<FusionRecord> rec;
  const Graph f = FuseQdq(g, &rec);
  ASSERT_EQ(rec.size(), 1u);
  const Node* m = Find(f, "QLinearMatMul");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->name, "gemm");
  const Tensor& w = g.initializers.at("w");
  const Tensor& wt = f.initializers.at(m->inputs[3]);
  ASSERT_EQ(wt.shape(), (Shape{6, 4}));
  for (int64_t n = 0; n < 4; ++n) {
    for (int64_t k = 0; k < 6; ++k) EXPECT_EQ(wt.GetInt(k * 4 + n), w.GetInt(n * 6 + k)) << n << "," << k;
  }
  EXPECT_EQ(m->inputs[4], "w_scale");  // per row of [N,K] = per column of [K,N]
  EXPECT_EQ(f.initializers.count("w"), 0u);
  ExpectCloseToFloat(g, f, 0.05, seed);

  const Graph g0 = GemmGraph(0, false, seed);
  const Graph f0 = FuseQdq(g0, &rec);
  ASSERT_EQ(rec.size(), 1u);
  EXPECT_EQ(Find(f0, "QLinearMatMul")->inputs[3], "w");
}

TEST(QdqFusion, GemmWithBiasStaysUnfused) {
  const Graph g = GemmGraph(0, true, 3);
  std::vector<FusionRecord> rec;
  const Graph f = FuseQdq(g, &rec);
  EXPECT_TRUE(rec.empty());
  EXPECT_EQ(Count(f, "Gemm"), 1);
  EXPECT_EQ(Count(f, "DequantizeLinear"), 3);
}

TEST(QdqFusion, AddBecomesQLinearAdd) {
  const uint64_t seed = TestSeed();
  GraphBuilder b("add", 13, seed);
  const std::string a = QuantizedInput(b, "a", {2, 3, 4}, 0.04, DType::kInt8, -5);
  const std::string c = QuantizedInput(b, "c", {3, 4}, 0.02, DType::kInt8, 7);
  b.Op("Add", "add", {a, c}, {"sum"});
  QuantizedOutput(b, "sum", {2, 3, 4}, 0.05, DType::kInt8, 2);
  const Graph g = b.Build();
  std::vector<FusionRecord> rec;
  const Graph f = FuseQdq(g, &rec);
  ASSERT_EQ(rec.size(), 1u);
  const Node* n = Find(f, "QLinearAdd");
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(n->domain, "com.microsoft");
  EXPECT_EQ(n->name, "add");
  EXPECT_EQ(n->inputs, (std::vector<std::string>{"a_q", "a_scale", "a_zp", "c_q", "c_scale", "c_zp", "y_scale",
                                                 "y_zp"}));
  EXPECT_EQ(rec[0].source_nodes, (std::vector<std::string>{"dq_a", "dq_c", "add", "q_y"}));
  ExpectCloseToFloat(g, f, 0.05, seed);
}

TEST(QdqFusion, AveragePoolBecomesQLinearAveragePool) {
  const uint64_t seed = TestSeed();
  GraphBuilder b("pool", 13, seed);
  const std::string x = QuantizedInput(b, "x", {1, 2, 6, 6}, 0.03, DType::kUInt8, 100);
  b.Op("AveragePool", "pool", {x}, {"p"},
       {{"kernel_shape", Attribute::Ints({3, 3})}, {"strides", Attribute::Ints({2, 2})},
        {"pads", Attribute::Ints({1, 1, 1, 1})}, {"count_include_pad", Attribute::Int(1)}});
  QuantizedOutput(b, "p", {1, 2, 3, 3}, 0.03, DType::kUInt8, 100);
  const Graph g = b.Build();
  std::vector<FusionRecord> rec;
  const Graph f = FuseQdq(g, &rec);
  ASSERT_EQ(rec.size(), 1u);
  const Node* n = Find(f, "QLinearAveragePool");
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(n->domain, "com.microsoft");
  EXPECT_EQ(n->inputs, (std::vector<std::string>{"x_q", "x_scale", "x_zp", "y_scale", "y_zp"}));
  EXPECT_EQ(n->AttrInts("kernel_shape"), (std::vector<int64_t>{3, 3}));
  EXPECT_EQ(n->AttrInt("count_include_pad", 0), 1);
  ExpectCloseToFloat(g, f, 0.03, seed);
}

TEST(QdqFusion, UnfusablePatternsStay) {
  // The input DQ also feeds a Relu: two consumers.
  {
    Graph g = ConvGraph(2, 11);
    g.nodes.push_back(Node{"relu", "Relu", "", {"x_dq"}, {"r"}, {}});
    g.outputs.push_back({"r", DType::kFloat32, {1, 2, 5, 5}});
    ASSERT_TRUE(Validate(g).ok());
    std::vector<FusionRecord> rec;
    const Graph f = FuseQdq(g, &rec);
    EXPECT_TRUE(rec.empty());
    EXPECT_EQ(Count(f, "Conv"), 1);
    EXPECT_EQ(Count(f, "DequantizeLinear"), 3);
    EXPECT_EQ(f.nodes.size(), g.nodes.size());
  }
  // The float op's output is also a graph output.
  {
    Graph g = ConvGraph(2, 11);
    g.outputs.push_back({"conv_out", DType::kFloat32, {1, 3, 5, 5}});
    std::vector<FusionRecord> rec;
    FuseQdq(g, &rec);
    EXPECT_TRUE(rec.empty());
  }
  // A scale that is a graph input, not a constant.
  {
    Graph g = ConvGraph(2, 11);
    g.initializers.erase("x_scale");
    g.inputs.push_back({"x_scale", DType::kFloat32, {}});
    ASSERT_TRUE(Validate(g).ok()) << Validate(g).status().message();
    std::vector<FusionRecord> rec;
    const Graph f = FuseQdq(g, &rec);
    EXPECT_TRUE(rec.empty());
    EXPECT_EQ(Count(f, "Conv"), 1);
  }
  // Per-tensor activation required: a per-channel DQ on the input stays float.
  {
    GraphBuilder b("pc", 13, 2);
    b.Input("x_q", DType::kInt8, {2, 3});
    b.Vector("xs", DType::kFloat32, {0.1, 0.2});
    b.Op("DequantizeLinear", "dq_x", {"x_q", "xs"}, {"x_dq"}, {{"axis", Attribute::Int(0)}});
    const std::string c = QuantizedInput(b, "c", {2, 3}, 0.1, DType::kInt8, 0);
    b.Op("Add", "add", {"x_dq", c}, {"s"});
    QuantizedOutput(b, "s", {2, 3}, 0.1, DType::kInt8, 0);
    std::vector<FusionRecord> rec;
    FuseQdq(b.Build(), &rec);
    EXPECT_TRUE(rec.empty());
  }
}

TEST(QdqFusion, DeadDqAndUnusedInitializersAreRemoved) {
  Graph g = ConvGraph(2, 5);
  g.initializers["orphan"] = Tensor::FromInts(DType::kInt8, {2}, {1, 2});
  g.initializers["orphan_scale"] = Tensor::Scalar(DType::kFloat32, 0.5);
  g.nodes.insert(g.nodes.begin(), Node{"dead_dq", "DequantizeLinear", "", {"orphan", "orphan_scale"}, {"dead"}, {}});
  ASSERT_TRUE(Validate(g).ok()) << Validate(g).status().message();
  std::vector<FusionRecord> rec;
  const Graph f = FuseQdq(g, &rec);
  EXPECT_EQ(rec.size(), 1u);
  EXPECT_EQ(f.FindNode("dead_dq"), nullptr);
  EXPECT_EQ(f.initializers.count("orphan"), 0u);
  EXPECT_EQ(f.initializers.count("orphan_scale"), 0u);
  ASSERT_TRUE(Validate(f).ok()) << Validate(f).status().message();
}

TEST(QdqFusion, InvalidGraphIsReturnedUnchanged) {
  Graph g = ConvGraph(0, 5);
  g.nodes[0].inputs[0] = "undefined_value";
  std::vector<FusionRecord> rec = {FusionRecord{"stale", "X", {}}};
  const Graph f = FuseQdq(g, &rec);
  EXPECT_TRUE(rec.empty());
  EXPECT_EQ(f.nodes.size(), g.nodes.size());
}

}  // namespace
}  // namespace qfarm
