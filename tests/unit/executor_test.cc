// The reference executor: input checks, runtime parameter checks, initializer overrides,
// intermediate capture, MAC counts, the memory limit, RunGraph with a custom node runner, and
// the real-valued reference against the quantized one.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "model/graph_builder.h"
#include "reference/executor.h"
#include "reference/ops.h"

namespace qfarm {
namespace {

// x (int8 [1,3,8,8], a graph input) → QLinearConv 3x3 pad 1 (4 out channels) → y (uint8).
// The output scale `sy` is a graph input too, so it is only known at run time.
Graph ConvGraph() {
  GraphBuilder b("conv", 14, 5);
  b.Input("x", DType::kInt8, {1, 3, 8, 8});
  b.Input("sy", DType::kFloat32, {});
  b.Output("y", DType::kUInt8, {1, 4, 8, 8});
  b.Scalar("sx", DType::kFloat32, 0.05);
  b.Scalar("zx", DType::kInt8, -2);
  b.Init("w", b.RandomInts(DType::kInt8, {4, 3, 3, 3}, -127, 127));
  b.Scalar("sw", DType::kFloat32, 0.01);
  b.Scalar("zw", DType::kInt8, 0);
  b.Scalar("zy", DType::kUInt8, 128);
  b.Op("QLinearConv", "conv", {"x", "sx", "zx", "w", "sw", "zw", "sy", "zy"}, {"yc"},
       {{"pads", Attribute::Ints({1, 1, 1, 1})}});
  b.Op("Relu", "relu", {"yc"}, {"y"});
  return b.Build();
}

Tensor RandomX(uint64_t seed) {
  GraphBuilder in("in", 13, seed);
  return in.RandomInts(DType::kInt8, {1, 3, 8, 8}, -128, 127);
}

bool Contains(const Status& s, const std::string& text) {
  return s.message().find(text) != std::string::npos;
}

TEST(Executor, MissingInputIsNamed) {
  auto r = RunReference(ConvGraph(), *ParseProfile("onnx"),
                        {{"sy", Tensor::Scalar(DType::kFloat32, 0.1)}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "input 'x' was not given");
}

TEST(Executor, WrongDtypeAndShapeAreNamedWithBoth) {
  const Graph g = ConvGraph();
  const Tensor sy = Tensor::Scalar(DType::kFloat32, 0.1);
  auto dtype = RunReference(g, *ParseProfile("onnx"),
                            {{"x", Tensor(DType::kUInt8, {1, 3, 8, 8})}, {"sy", sy}});
  ASSERT_FALSE(dtype.ok());
  EXPECT_EQ(dtype.status().message(), "input 'x': expected int8 [1,3,8,8], got uint8 [1,3,8,8]");
  auto shape = RunReference(g, *ParseProfile("onnx"),
                            {{"x", Tensor(DType::kInt8, {1, 3, 8, 9})}, {"sy", sy}});
  ASSERT_FALSE(shape.ok());
  EXPECT_EQ(shape.status().message(), "input 'x': expected int8 [1,3,8,8], got int8 [1,3,8,9]");
  auto unknown = RunReference(g, *ParseProfile("onnx"),
                              {{"x", RandomX(1)}, {"sy", sy}, {"nope", sy}});
  ASSERT_FALSE(unknown.ok());
  EXPECT_TRUE(Contains(unknown.status(), "'nope' is not a graph input or initializer"));
}

TEST(Executor, RuntimeScalesAndZeroPointsAreChecked) {
  const Graph g = ConvGraph();
  for (double bad : {0.0, -0.5, std::numeric_limits<double>::quiet_NaN(),
                     std::numeric_limits<double>::infinity()}) {
    auto r = RunReference(g, *ParseProfile("onnx"),
                          {{"x", RandomX(2)}, {"sy", Tensor::Scalar(DType::kFloat32, bad)}});
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_TRUE(Contains(r.status(), "node 'conv' (QLinearConv)")) << r.status().message();
    EXPECT_TRUE(Contains(r.status(), "'sy'")) << r.status().message();
    EXPECT_TRUE(Contains(r.status(), "scale must be finite and > 0")) << r.status().message();
  }
  // A per-channel weight scale overriding the initializer with a non-positive entry.
  auto sw = RunReference(g, *ParseProfile("onnx"),
                         {{"x", RandomX(2)}, {"sy", Tensor::Scalar(DType::kFloat32, 0.1)},
                          {"sw", Tensor::Scalar(DType::kFloat32, -1)}});
  ASSERT_FALSE(sw.ok());
  EXPECT_TRUE(Contains(sw.status(), "'sw'")) << sw.status().message();
}

TEST(Executor, ZeroPointOutOfRangeIsRefusedForInt32Bias) {
  // DequantizeLinear of int32 needs a zero point of 0 (ONNX): 5 is refused at run time.
  GraphBuilder b("dq32", 13, 1);
  b.Input("x", DType::kInt32, {4});
  b.Input("z", DType::kInt32, {});
  b.Output("y", DType::kFloat32, {4});
  b.Scalar("s", DType::kFloat32, 0.5);
  b.Op("DequantizeLinear", "dq", {"x", "s", "z"}, {"y"});
  const Tensor x = Tensor::FromInts(DType::kInt32, {4}, {1, 2, 3, 4});
  auto bad = RunReference(b.Build(), *ParseProfile("onnx"),
                          {{"x", x}, {"z", Tensor::Scalar(DType::kInt32, 5)}});
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(Contains(bad.status(), "zero point 5 is out of range")) << bad.status().message();
  auto good = RunReference(b.Build(), *ParseProfile("onnx"),
                           {{"x", x}, {"z", Tensor::Scalar(DType::kInt32, 0)}});
  ASSERT_TRUE(good.ok()) << good.status().message();
  EXPECT_EQ(good->outputs.at("y").GetDouble(3), 2.0);
}

TEST(Executor, CapturesEveryIntermediateAsTheSingleNodeRunGivesIt) {
  const Graph g = ConvGraph();
  const Profile p = *ParseProfile("tflite");
  const Tensor x = RandomX(3), sy = Tensor::Scalar(DType::kFloat32, 0.07);
  ExecOptions o;
  o.capture_intermediates = true;
  auto r = RunReference(g, p, {{"x", x}, {"sy", sy}}, o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->intermediates.size(), 2u);
  // Re-run the two nodes one by one through the single-node entry point.
  const Node& conv = g.nodes[0];
  std::vector<const Tensor*> args;
  for (const std::string& name : conv.inputs) {
    args.push_back(name == "x" ? &x : name == "sy" ? &sy : &g.initializers.at(name));
  }
  auto yc = RunReferenceNode(conv, p, args);
  ASSERT_TRUE(yc.ok()) << yc.status().message();
  EXPECT_EQ(r->intermediates.at("yc"), (*yc)[0]);
  auto y = RunReferenceNode(g.nodes[1], p, {&(*yc)[0]});
  ASSERT_TRUE(y.ok());
  EXPECT_EQ(r->intermediates.at("y"), (*y)[0]);
  EXPECT_EQ(r->outputs.at("y"), (*y)[0]);
  // Relu on uint8 is max(x, 0) on the integers: the identity (ONNX semantics, not the zero point).
  EXPECT_EQ(r->intermediates.at("yc"), r->intermediates.at("y"));
  auto plain = RunReference(g, p, {{"x", x}, {"sy", sy}});
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(plain->intermediates.empty());
}

TEST(Executor, OverridingAnInitializerEqualsBuildingWithIt) {
  Graph g = ConvGraph();
  GraphBuilder gen("w", 13, 77);
  const Tensor w2 = gen.RandomInts(DType::kInt8, {4, 3, 3, 3}, -127, 127);
  const TensorMap in = {{"x", RandomX(4)}, {"sy", Tensor::Scalar(DType::kFloat32, 0.1)}};
  TensorMap with_w2 = in;
  with_w2["w"] = w2;
  auto overridden = RunReference(g, *ParseProfile("onnx"), with_w2);
  auto original = RunReference(g, *ParseProfile("onnx"), in);
  g.initializers["w"] = w2;
  auto rebuilt = RunReference(g, *ParseProfile("onnx"), in);
  ASSERT_TRUE(overridden.ok() && original.ok() && rebuilt.ok());
  EXPECT_EQ(overridden->outputs.at("y"), rebuilt->outputs.at("y"));
  EXPECT_NE(overridden->outputs.at("y"), original->outputs.at("y"));
  with_w2["w"] = Tensor(DType::kInt8, {4, 3, 3, 2});
  auto wrong = RunReference(g, *ParseProfile("onnx"), with_w2);
  ASSERT_FALSE(wrong.ok());
  EXPECT_TRUE(Contains(wrong.status(), "input 'w' overrides an initializer of int8 [4,3,3,3]"));
}

TEST(Executor, CountsMacsAndRespectsTheMemoryLimit) {
  const Graph g = ConvGraph();
  const TensorMap in = {{"x", RandomX(5)}, {"sy", Tensor::Scalar(DType::kFloat32, 0.1)}};
  auto r = RunReference(g, *ParseProfile("onnx"), in);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->macs, int64_t{4 * 8 * 8} * (3 * 3 * 3));  // outputs × taps per output
  ExecOptions small;
  small.max_tensor_bytes = 4 * 8 * 8 + 10;  // room for yc (256 bytes) but not for y as well
  auto limited = RunReference(g, *ParseProfile("onnx"), in, small);
  ASSERT_FALSE(limited.ok());
  EXPECT_EQ(limited.status().code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(Contains(limited.status(), "node 'relu'")) << limited.status().message();
}

TEST(Executor, RunGraphHandsEveryNodeToTheRunnerInOrder) {
  const Graph g = ConvGraph();
  std::vector<std::string> seen;
  const Profile p = *ParseProfile("onnx");
  auto r = RunGraph(g, {{"x", RandomX(6)}, {"sy", Tensor::Scalar(DType::kFloat32, 0.1)}}, {},
                    [&](const Node& n, const std::vector<const Tensor*>& args) {
                      seen.push_back(n.name);
                      return RunReferenceNode(n, p, args);
                    });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"conv", "relu"}));
  auto failing = RunGraph(g, {{"x", RandomX(6)}, {"sy", Tensor::Scalar(DType::kFloat32, 0.1)}},
                          {}, [](const Node& n, const std::vector<const Tensor*>&)
                                  -> StatusOr<std::vector<Tensor>> {
                            return Internal("node '" + n.name + "': injected");
                          });
  ASSERT_FALSE(failing.ok());
  EXPECT_EQ(failing.status().message(), "node 'conv': injected");
}

TEST(Executor, UnknownOpIsNamed) {
  Node n;
  n.name = "mystery";
  n.op_type = "FancyOp";
  n.inputs = {"x"};
  n.outputs = {"y"};
  const Tensor x(DType::kFloat32, {2});
  auto r = RunReferenceNode(n, *ParseProfile("onnx"), {&x});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.status(), "node 'mystery'")) << r.status().message();
  EXPECT_TRUE(Contains(r.status(), "FancyOp")) << r.status().message();
}

// SQNR in dB of `approx` against `real`.
double Sqnr(const std::vector<double>& real, const Tensor& approx) {
  double signal = 0, noise = 0;
  for (size_t i = 0; i < real.size(); ++i) {
    const double d = approx.GetDouble(static_cast<int64_t>(i)) - real[i];
    signal += real[i] * real[i];
    noise += d * d;
  }
  return 10 * std::log10(signal / noise);
}

TEST(RealValued, CloseToTheQuantizedConvButNotRounded) {
  GraphBuilder b("conv", 13, 21);
  b.Input("x", DType::kFloat32, {1, 4, 6, 6});
  b.Output("y", DType::kFloat32, {1, 3, 6, 6});
  b.Scalar("sx", DType::kFloat32, 1.0 / 127);
  b.Scalar("zx", DType::kInt8, 0);
  b.Init("w", b.RandomInts(DType::kInt8, {3, 4, 3, 3}, -127, 127));
  b.Vector("sw", DType::kFloat32, {0.01, 0.012, 0.009});
  b.Scalar("zw", DType::kInt8, 0);
  b.Scalar("sy", DType::kFloat32, 0.08);
  b.Scalar("zy", DType::kInt8, 0);
  b.Init("bias", Tensor::FromInts(DType::kInt32, {3}, {300, -200, 50}));
  b.Op("QuantizeLinear", "q", {"x", "sx", "zx"}, {"xq"});
  b.Op("QLinearConv", "conv", {"xq", "sx", "zx", "w", "sw", "zw", "sy", "zy", "bias"}, {"yq"},
       {{"pads", Attribute::Ints({1, 1, 1, 1})}});
  b.Op("DequantizeLinear", "dq", {"yq", "sy", "zy"}, {"y"});
  const Graph g = b.Build();
  GraphBuilder in("in", 13, 22);
  const Tensor x = in.RandomFloats({1, 4, 6, 6}, -1, 1);
  auto q = RunReference(g, *ParseProfile("onnx"), {{"x", x}});
  auto r = RunRealValued(g, {{"x", x}});
  ASSERT_TRUE(q.ok() && r.ok()) << r.status().message();
  const std::vector<double>& real = r->outputs.at("y");
  ASSERT_EQ(real.size(), 108u);
  EXPECT_GT(Sqnr(real, q->outputs.at("y")), 30.0);
  // The real-valued conv, written here in double from the ONNX definition: x itself (QuantizeLinear
  // passes real values through), weights dequantized per channel, bias at s_x·s_w[m].
  const Tensor& w = g.initializers.at("w");
  const double sw[3] = {double{0.01f}, double{0.012f}, double{0.009f}};
  const double bias[3] = {300, -200, 50};
  for (int64_t m = 0; m < 3; ++m)
    for (int64_t i = 0; i < 6; ++i)
      for (int64_t j = 0; j < 6; ++j) {
        double acc = bias[m] * double{1.0f / 127} * sw[m];
        for (int64_t c = 0; c < 4; ++c)
          for (int64_t a = 0; a < 3; ++a)
            for (int64_t e = 0; e < 3; ++e) {
              const int64_t r0 = i + a - 1, c0 = j + e - 1;
              if (r0 < 0 || r0 >= 6 || c0 < 0 || c0 >= 6) continue;
              acc += x.GetDouble((c * 6 + r0) * 6 + c0) * w.GetInt(((m * 4 + c) * 3 + a) * 3 + e) * sw[m];
            }
        EXPECT_NEAR(real[static_cast<size_t>((m * 6 + i) * 6 + j)], acc, 1e-9) << m << "," << i << "," << j;
      }
}

TEST(RealValued, GraphInputIntegersAreDequantized) {
  GraphBuilder b("dq", 13, 1);
  b.Input("x", DType::kUInt8, {3});
  b.Output("y", DType::kFloat32, {3});
  b.Scalar("s", DType::kFloat32, 0.25);
  b.Scalar("z", DType::kUInt8, 10);
  b.Op("DequantizeLinear", "dq", {"x", "s", "z"}, {"y"});
  auto r = RunRealValued(b.Build(), {{"x", Tensor::FromInts(DType::kUInt8, {3}, {10, 14, 0})}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->outputs.at("y"), (std::vector<double>{0.0, 1.0, -2.5}));
}

TEST(RealValued, ElementwiseOpsAreTheirRealFunctions) {
  // x → QuantizeLinear (real passes through) → QLinearAdd(x, x) and QLinearSigmoid(x) →
  // DequantizeLinear: the real outputs are 2x and 1/(1 + e^−x), with no rounding anywhere.
  GraphBuilder b("elt", 14, 3);
  b.Input("x", DType::kFloat32, {9});
  b.Output("sum", DType::kFloat32, {9});
  b.Output("sig", DType::kFloat32, {9});
  b.Scalar("s", DType::kFloat32, 0.05);
  b.Scalar("z", DType::kUInt8, 128);
  b.Scalar("s2", DType::kFloat32, 1.0 / 256);
  b.Scalar("z2", DType::kUInt8, 0);
  b.Op("QuantizeLinear", "q", {"x", "s", "z"}, {"xq"});
  b.Op("QLinearAdd", "add", {"xq", "s", "z", "xq", "s", "z", "s", "z"}, {"aq"}, {}, "com.microsoft");
  b.Op("QLinearSigmoid", "sigm", {"xq", "s", "z", "s2", "z2"}, {"gq"}, {}, "com.microsoft");
  b.Op("DequantizeLinear", "dq1", {"aq", "s", "z"}, {"sum"});
  b.Op("DequantizeLinear", "dq2", {"gq", "s2", "z2"}, {"sig"});
  const std::vector<double> xs = {-3.0, -1.234, -0.5, -0.01, 0.0, 0.02, 0.777, 2.5, 3.1};
  const Tensor x = Tensor::FromDoubles(DType::kFloat32, {9}, xs);
  auto r = RunRealValued(b.Build(), {{"x", x}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  for (size_t i = 0; i < xs.size(); ++i) {
    const double xv = x.GetDouble(static_cast<int64_t>(i));
    EXPECT_NEAR(r->outputs.at("sum")[i], 2 * xv, 1e-12) << i;
    EXPECT_NEAR(r->outputs.at("sig")[i], 1.0 / (1.0 + std::exp(-xv)), 1e-13) << i;
  }
  auto q = RunReference(b.Build(), *ParseProfile("onnx"), {{"x", x}});
  ASSERT_TRUE(q.ok());
  EXPECT_NE(q->outputs.at("sum").GetDouble(1), r->outputs.at("sum")[1]);  // quantized: rounded
}

}  // namespace
}  // namespace qfarm
