// Validation and shape inference: good graphs infer the shapes ONNX defines (expected values are
// worked out by hand from the ONNX formulas in the comments), and every class of bad model is
// rejected with one line naming the node and the field.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "model/graph_builder.h"
#include "model/validate.h"

namespace qfarm {
namespace {

using Attrs = std::map<std::string, Attribute>;
Attribute Int(int64_t v) { return Attribute::Int(v); }
Attribute Ints(std::vector<int64_t> v) { return Attribute::Ints(std::move(v)); }
Attribute Str(std::string v) { return Attribute::String(std::move(v)); }

// x uint8 [x_shape] → QLinearConv (w int8, per-tensor or per-channel, int32 bias) → y uint8.
GraphBuilder ConvBuilder(Shape x, Shape w, Attrs attrs, bool per_channel = false) {
  GraphBuilder b("conv", 13, 1);
  b.Input("x", DType::kUInt8, x);
  b.Scalar("xs", DType::kFloat32, 0.5);
  b.Scalar("xz", DType::kUInt8, 128);
  b.Init("w", Tensor(DType::kInt8, w));
  if (per_channel) {
    b.Init("ws", Tensor::FromDoubles(DType::kFloat32, {w[0]}, std::vector<double>(w[0], 0.25)));
    b.Init("wz", Tensor(DType::kInt8, {w[0]}));
  } else {
    b.Scalar("ws", DType::kFloat32, 0.25);
    b.Scalar("wz", DType::kInt8, 0);
  }
  b.Scalar("ys", DType::kFloat32, 1.0);
  b.Scalar("yz", DType::kUInt8, 128);
  b.Init("bias", Tensor(DType::kInt32, {w[0]}));
  b.Op("QLinearConv", "conv", {"x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "bias"}, {"y"},
       std::move(attrs));
  b.Output("y", DType::kUInt8, {});
  return b;
}

Shape InferredShape(const Graph& g, const std::string& value) {
  auto v = Validate(g);
  EXPECT_TRUE(v.ok()) << v.status().message();
  if (!v.ok() || !v->count(value)) return {-999};
  return v->at(value).shape;
}

DType InferredType(const Graph& g, const std::string& value) {
  auto v = Validate(g);
  EXPECT_TRUE(v.ok()) << v.status().message();
  return v.ok() && v->count(value) ? v->at(value).dtype : DType::kUndefined;
}

void ExpectError(const Graph& g, const std::vector<std::string>& fragments,
                 const ModelLimits& limits = {}) {
  auto v = Validate(g, limits);
  ASSERT_FALSE(v.ok()) << "accepted a bad graph";
  const std::string m = v.status().message();
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  for (const std::string& f : fragments) EXPECT_NE(m.find(f), std::string::npos) << "'" << f << "' not in: " << m;
}

// ---- Convolution and pooling geometry ---------------------------------------------------------

TEST(InferConv, ExplicitPadsStridesDilations) {
  // out = floor((in + pb + pe - (d·(k−1)+1)) / s) + 1
  EXPECT_EQ(InferredShape(ConvBuilder({1, 3, 10, 10}, {8, 3, 3, 3}, {{"pads", Ints({1, 1, 1, 1})}}).Build(), "y"),
            (Shape{1, 8, 10, 10}));
  EXPECT_EQ(InferredShape(ConvBuilder({2, 3, 11, 9}, {4, 3, 3, 3}, {{"strides", Ints({2, 3})}}).Build(), "y"),
            (Shape{2, 4, 5, 3}));  // (11−3)/2+1 = 5, (9−3)/3+1 = 3
  EXPECT_EQ(InferredShape(ConvBuilder({1, 3, 10, 12}, {4, 3, 3, 3}, {{"dilations", Ints({2, 3})}}).Build(), "y"),
            (Shape{1, 4, 6, 6}));  // span 5 → 6; span 7 → 6
  EXPECT_EQ(InferredShape(ConvBuilder({1, 3, 10, 10}, {4, 3, 3, 2}, {{"pads", Ints({0, 1, 2, 0})}, {"strides", Ints({2, 2})}}).Build(), "y"),
            (Shape{1, 4, 5, 5}));  // (10+2−3)/2+1 = 5, (10+1−2)/2+1 = 5
}

TEST(InferConv, AutoPad) {
  // SAME_*: out = ceil(in / stride), whatever the kernel and dilation; VALID: no padding.
  for (const char* mode : {"SAME_UPPER", "SAME_LOWER"}) {
    EXPECT_EQ(InferredShape(ConvBuilder({1, 3, 10, 11}, {4, 3, 3, 3}, {{"auto_pad", Str(mode)}, {"strides", Ints({2, 2})}}).Build(), "y"),
              (Shape{1, 4, 5, 6})) << mode;
    EXPECT_EQ(InferredShape(ConvBuilder({1, 3, 7, 7}, {4, 3, 3, 3}, {{"auto_pad", Str(mode)}, {"dilations", Ints({2, 2})}}).Build(), "y"),
              (Shape{1, 4, 7, 7})) << mode;
  }
  EXPECT_EQ(InferredShape(ConvBuilder({1, 3, 10, 11}, {4, 3, 3, 3}, {{"auto_pad", Str("VALID")}, {"strides", Ints({2, 2})}}).Build(), "y"),
            (Shape{1, 4, 4, 5}));  // (10−3)/2+1 = 4, (11−3)/2+1 = 5
}

TEST(InferConv, GroupsDepthwisePerChannelAndOneD) {
  EXPECT_EQ(InferredShape(ConvBuilder({1, 8, 7, 7}, {8, 1, 3, 3}, {{"group", Int(8)}}, true).Build(), "y"),
            (Shape{1, 8, 5, 5}));
  EXPECT_EQ(InferredShape(ConvBuilder({1, 6, 5, 5}, {4, 3, 1, 1}, {{"group", Int(2)}}, true).Build(), "y"),
            (Shape{1, 4, 5, 5}));
  EXPECT_EQ(InferredShape(ConvBuilder({1, 3, 16}, {5, 3, 4}, {{"strides", Ints({3})}}).Build(), "y"),
            (Shape{1, 5, 5}));  // (16−4)/3+1 = 5
}

Graph Pool(const std::string& op, Shape x, Attrs attrs, DType t = DType::kInt8) {
  GraphBuilder b("pool", 13, 1);
  b.Input("x", t, x);
  if (op == "QLinearAveragePool") {
    b.Scalar("s", DType::kFloat32, 0.5);
    b.Scalar("z", t, 0);
    b.Op(op, "pool", {"x", "s", "z", "s", "z"}, {"y"}, std::move(attrs), "com.microsoft");
  } else {
    b.Op(op, "pool", {"x"}, {"y"}, std::move(attrs));
  }
  b.Output("y", t, {});
  return b.Build();
}

TEST(InferPool, CeilModeAndTheDroppedLastWindow) {
  // floor: (6−3)/2+1 = 2; ceil: ceil(3/2)+1 = 3 (last window starts at 4 < 6: kept).
  EXPECT_EQ(InferredShape(Pool("MaxPool", {1, 1, 6, 6}, {{"kernel_shape", Ints({3, 3})}, {"strides", Ints({2, 2})}}), "y"),
            (Shape{1, 1, 2, 2}));
  EXPECT_EQ(InferredShape(Pool("MaxPool", {1, 1, 6, 6}, {{"kernel_shape", Ints({3, 3})}, {"strides", Ints({2, 2})}, {"ceil_mode", Int(1)}}), "y"),
            (Shape{1, 1, 3, 3}));
  // in 3, k 1, s 2, end pad 1: ceil(3/2)+1 = 3, but window 3 would start at 4 ≥ 3 + 0 → 2.
  EXPECT_EQ(InferredShape(Pool("MaxPool", {1, 1, 3, 3}, {{"kernel_shape", Ints({1, 1})}, {"strides", Ints({2, 2})}, {"pads", Ints({0, 0, 1, 1})}, {"ceil_mode", Int(1)}}), "y"),
            (Shape{1, 1, 2, 2}));
  EXPECT_EQ(InferredShape(Pool("QLinearAveragePool", {2, 4, 9, 9}, {{"kernel_shape", Ints({2, 2})}, {"strides", Ints({2, 2})}, {"ceil_mode", Int(1)}, {"count_include_pad", Int(1)}}), "y"),
            (Shape{2, 4, 5, 5}));  // ceil(7/2)+1 = 5; last start 8 < 9
  EXPECT_EQ(InferredShape(Pool("AveragePool", {1, 2, 9, 8}, {{"kernel_shape", Ints({3, 3})}, {"strides", Ints({2, 2})}, {"auto_pad", Str("SAME_LOWER")}}, DType::kFloat32), "y"),
            (Shape{1, 2, 5, 4}));
  EXPECT_EQ(InferredShape(Pool("MaxPool", {1, 2, 9, 9}, {{"kernel_shape", Ints({3, 3})}, {"dilations", Ints({2, 2})}}, DType::kUInt8), "y"),
            (Shape{1, 2, 5, 5}));  // span 5: 9−5+1
}

TEST(InferPool, GlobalAveragePoolChannelsFirstAndLast) {
  for (int64_t last : {0, 1}) {
    GraphBuilder b("g", 13, 1);
    b.Input("x", DType::kUInt8, {2, 3, 4, 5});
    b.Scalar("s", DType::kFloat32, 0.5);
    b.Scalar("z", DType::kUInt8, 3);
    b.Op("QLinearGlobalAveragePool", "gap", {"x", "s", "z", "s", "z"}, {"y"}, {{"channels_last", Int(last)}}, "com.microsoft");
    b.Output("y", DType::kUInt8, {});
    EXPECT_EQ(InferredShape(b.Build(), "y"), last ? (Shape{2, 1, 1, 5}) : (Shape{2, 3, 1, 1}));
  }
}

// ---- Quantization, matmul, elementwise ------------------------------------------------------------

TEST(InferQuant, PerAxisAndOutputTypes) {
  GraphBuilder b("q", 13, 1);
  b.Input("x", DType::kFloat32, {2, 3, 4});
  b.Vector("s3", DType::kFloat32, {0.5, 0.25, 1});
  b.Init("z3", Tensor::FromInts(DType::kInt8, {3}, {-1, 0, 1}));
  b.Scalar("s", DType::kFloat32, 0.5);
  b.Op("QuantizeLinear", "q_axis", {"x", "s3", "z3"}, {"qa"}, {{"axis", Int(1)}});
  b.Op("QuantizeLinear", "q_default", {"x", "s"}, {"qd"});
  b.Init("z4", Tensor::FromInts(DType::kInt4, {}, {-8}));
  b.Op("QuantizeLinear", "q_int4", {"x", "s", "z4"}, {"q4"});
  b.Op("DequantizeLinear", "dq_int4", {"q4", "s", "z4"}, {"d4"});
  b.Vector("s4", DType::kFloat32, {1, 2, 3, 4});
  b.Op("DequantizeLinear", "dq_last", {"qa", "s4"}, {"dl"}, {{"axis", Int(-1)}});
  b.Op("DynamicQuantizeLinear", "dyn", {"x"}, {"dy", "dys", "dyz"});
  b.Output("dl", DType::kFloat32, {});
  auto v = Validate(b.Build());
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(v->at("qa").dtype, DType::kInt8);
  EXPECT_EQ(v->at("qd").dtype, DType::kUInt8);
  EXPECT_EQ(v->at("q4").dtype, DType::kInt4);
  EXPECT_EQ(v->at("d4").dtype, DType::kFloat32);
  EXPECT_EQ(v->at("dl").shape, (Shape{2, 3, 4}));
  EXPECT_EQ(v->at("dy").dtype, DType::kUInt8);
  EXPECT_EQ(v->at("dy").shape, (Shape{2, 3, 4}));
  EXPECT_EQ(v->at("dys").dtype, DType::kFloat32);
  EXPECT_EQ(v->at("dys").shape, Shape{});
  EXPECT_EQ(v->at("dyz").dtype, DType::kUInt8);
}

TEST(InferMatMul, BatchingPerColumnAndInteger) {
  GraphBuilder b("mm", 13, 1);
  b.Input("a", DType::kUInt8, {2, 5, 3});
  b.Init("w", Tensor(DType::kInt8, {3, 4}));
  b.Scalar("s", DType::kFloat32, 0.5);
  b.Scalar("az", DType::kUInt8, 10);
  b.Vector("ws", DType::kFloat32, {1, 2, 3, 4});
  b.Init("wz", Tensor(DType::kInt8, {4}));
  b.Scalar("yz", DType::kInt8, 0);
  b.Op("QLinearMatMul", "qmm", {"a", "s", "az", "w", "ws", "wz", "s", "yz"}, {"y"});
  b.Input("a2", DType::kInt8, {7, 1, 2, 3});
  b.Input("b2", DType::kInt8, {6, 3, 5});
  b.Op("MatMulInteger", "mmi", {"a2", "b2"}, {"acc"});
  b.Input("v", DType::kFloat32, {3});
  b.Input("m", DType::kFloat32, {4, 3, 2});
  b.Op("MatMul", "vec", {"v", "m"}, {"vm"});
  b.Input("ga", DType::kFloat32, {3, 5});
  b.Input("gb", DType::kFloat32, {4, 3});
  b.Vector("gc", DType::kFloat32, {1, 2, 3, 4});
  b.Op("Gemm", "gemm", {"ga", "gb", "gc"}, {"g"}, {{"transA", Int(1)}, {"transB", Int(1)}, {"alpha", Attribute::Float(0.5f)}});
  b.Output("y", DType::kInt8, {});
  auto v = Validate(b.Build());
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(v->at("y").shape, (Shape{2, 5, 4}));
  EXPECT_EQ(v->at("y").dtype, DType::kInt8);
  EXPECT_EQ(v->at("acc").shape, (Shape{7, 6, 2, 5}));
  EXPECT_EQ(v->at("acc").dtype, DType::kInt32);
  EXPECT_EQ(v->at("vm").shape, (Shape{4, 2}));
  EXPECT_EQ(v->at("g").shape, (Shape{5, 4}));
}

TEST(InferElementwise, BroadcastingAndOptionalZeroPoints) {
  GraphBuilder b("add", 14, 1);
  b.Input("a", DType::kInt8, {2, 1, 4});
  b.Input("bb", DType::kInt8, {3, 1});
  b.Scalar("s", DType::kFloat32, 0.5);
  b.Scalar("z", DType::kInt8, -3);
  b.Op("QLinearAdd", "add", {"a", "s", "z", "bb", "s", "z", "s", "z"}, {"y"}, {}, "com.microsoft");
  b.Op("QLinearMul", "mul", {"a", "s", "", "bb", "s", "", "s"}, {"y2"}, {}, "com.microsoft");
  b.Op("QLinearLeakyRelu", "lrelu", {"y", "s", "", "s"}, {"y3"}, {{"alpha", Attribute::Float(0.1f)}}, "com.microsoft");
  b.Op("QLinearSigmoid", "sig", {"y3", "s", "z", "s", "z"}, {"y4"}, {}, "com.microsoft");
  b.Op("Relu", "relu", {"y4"}, {"y5"});
  b.Scalar("lo", DType::kInt8, -5);
  b.Op("Clip", "clip", {"y5", "lo", ""}, {"y6"});
  b.Input("f", DType::kFloat32, {5, 1, 3});
  b.Input("g", DType::kFloat32, {4, 1});
  b.Op("Add", "fadd", {"f", "g"}, {"fg"});
  b.Op("Mul", "fmul", {"fg", "fg"}, {"fm"});
  b.Op("Sigmoid", "fsig", {"fm"}, {"fs"});
  b.Op("Relu", "frelu", {"fs"}, {"fr"});
  b.Output("y6", DType::kInt8, {});
  b.Output("fr", DType::kFloat32, {});
  auto v = Validate(b.Build());
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(v->at("y").shape, (Shape{2, 3, 4}));
  EXPECT_EQ(v->at("y2").shape, (Shape{2, 3, 4}));
  EXPECT_EQ(v->at("y6").shape, (Shape{2, 3, 4}));
  EXPECT_EQ(v->at("y6").dtype, DType::kInt8);
  EXPECT_EQ(v->at("fr").shape, (Shape{5, 4, 3}));
}

// ---- Shape ops -------------------------------------------------------------------------------------

TEST(InferShapeOps, ReshapeFlattenTransposeConcatSqueezeSplitCast) {
  GraphBuilder b("shapes", 18, 1);
  b.Input("x", DType::kInt8, {2, 3, 4});
  b.Init("shp", Tensor::FromInts(DType::kInt64, {3}, {0, -1, 2}));
  b.Op("Reshape", "r", {"x", "shp"}, {"r"});                       // [2, 6, 2]
  b.Init("shz", Tensor::FromInts(DType::kInt64, {2}, {0, 24}));
  b.Input("e", DType::kInt8, {0, 24});
  b.Op("Reshape", "rz", {"e", "shz"}, {"rz"}, {{"allowzero", Int(1)}});  // [0, 24]
  b.Op("Flatten", "f", {"x"}, {"f"}, {{"axis", Int(-1)}});         // [6, 4]
  b.Op("Flatten", "f0", {"x"}, {"f0"}, {{"axis", Int(0)}});        // [1, 24]
  b.Op("Transpose", "t", {"x"}, {"t"}, {{"perm", Ints({1, 2, 0})}});  // [3, 4, 2]
  b.Op("Transpose", "tr", {"x"}, {"tr"});                          // [4, 3, 2]
  b.Op("Concat", "c", {"x", "x", "x"}, {"c"}, {{"axis", Int(-2)}});  // [2, 9, 4]
  b.Init("ax", Tensor::FromInts(DType::kInt64, {2}, {0, 3}));
  b.Op("Unsqueeze", "u", {"x", "ax"}, {"u"});                      // [1, 2, 3, 1, 4]
  b.Init("ax3", Tensor::FromInts(DType::kInt64, {1}, {-2}));
  b.Op("Squeeze", "s", {"u", "ax3"}, {"s"});                       // [1, 2, 3, 4]
  b.Op("Squeeze", "sall", {"u"}, {"sall"});                        // [2, 3, 4]
  b.Init("sp", Tensor::FromInts(DType::kInt64, {2}, {1, 3}));
  b.Op("Split", "split", {"x", "sp"}, {"p0", "p1"}, {{"axis", Int(2)}});
  b.Op("Split", "split_eq", {"x"}, {"q0", "q1", "q2"}, {{"axis", Int(1)}});
  b.Input("x5", DType::kInt8, {2, 5});  // num_outputs 2: chunks of ceil(5/2) = 3, the last 2
  b.Op("Split", "split_n", {"x5"}, {"n0", "n1"}, {{"axis", Int(1)}, {"num_outputs", Int(2)}});
  b.Op("Cast", "cast", {"x"}, {"cf"}, {{"to", Int(1)}});
  b.Op("Identity", "id", {"cf"}, {"idv"});
  b.Output("idv", DType::kFloat32, {});
  auto v = Validate(b.Build());
  ASSERT_TRUE(v.ok()) << v.status().message();
  const std::map<std::string, Shape> want = {
      {"r", {2, 6, 2}}, {"rz", {0, 24}}, {"f", {6, 4}}, {"f0", {1, 24}}, {"t", {3, 4, 2}},
      {"tr", {4, 3, 2}}, {"c", {2, 9, 4}}, {"u", {1, 2, 3, 1, 4}}, {"s", {1, 2, 3, 4}},
      {"sall", {2, 3, 4}}, {"p0", {2, 3, 1}}, {"p1", {2, 3, 3}}, {"q0", {2, 1, 4}},
      {"q2", {2, 1, 4}}, {"n0", {2, 3}}, {"n1", {2, 2}},
      {"idv", {2, 3, 4}}};
  for (const auto& [name, shape] : want) EXPECT_EQ(v->at(name).shape, shape) << name;
  EXPECT_EQ(v->at("cf").dtype, DType::kFloat32);
  EXPECT_EQ(v->at("t").dtype, DType::kInt8);
}

TEST(InferShapeOps, OlderOpsetsTakeAxesSplitAndClipBoundsAsAttributes) {
  GraphBuilder b("old", 11, 1);
  b.Input("x", DType::kFloat32, {1, 4, 1});
  b.Op("Squeeze", "s", {"x"}, {"s"}, {{"axes", Ints({0, 2})}});
  b.Op("Unsqueeze", "u", {"s"}, {"u"}, {{"axes", Ints({1})}});
  b.Op("Split", "sp", {"u"}, {"a", "b"}, {{"axis", Int(0)}, {"split", Ints({3, 1})}});
  b.Op("Clip", "clip", {"a"}, {"c"});
  b.Output("c", DType::kFloat32, {});
  EXPECT_EQ(InferredShape(b.Build(), "a"), (Shape{3, 1}));
  GraphBuilder c("clip10", 10, 1);
  c.Input("x", DType::kFloat32, {3});
  c.Op("Clip", "clip", {"x"}, {"y"}, {{"min", Attribute::Float(-1)}, {"max", Attribute::Float(1)}});
  c.Output("y", DType::kFloat32, {});
  EXPECT_EQ(InferredType(c.Build(), "y"), DType::kFloat32);
}

TEST(InferNode, ExecutorsGetExactShapesFromRealInputs) {
  // A graph input's dynamic dim validates as 1; executors call InferNode with the real shape.
  Node n;
  n.name = "pool";
  n.op_type = "MaxPool";
  n.inputs = {"x"};
  n.outputs = {"y"};
  n.attrs["kernel_shape"] = Ints({2, 2});
  auto out = InferNode(n, {ValueInfo{"x", DType::kUInt8, {5, 3, 8, 6}}}, TensorMap{});
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ((*out)[0].name, "y");
  EXPECT_EQ((*out)[0].shape, (Shape{5, 3, 7, 5}));
  auto mismatch = InferNode(n, {}, TensorMap{});
  ASSERT_FALSE(mismatch.ok());
  EXPECT_NE(mismatch.status().message().find("node 'pool'"), std::string::npos);
  EXPECT_TRUE(IsSupportedOp("", "QLinearConv"));
  EXPECT_TRUE(IsSupportedOp("ai.onnx", "Split"));
  EXPECT_TRUE(IsSupportedOp("com.microsoft", "QLinearAdd"));
  EXPECT_FALSE(IsSupportedOp("", "QLinearAdd"));
  EXPECT_FALSE(IsSupportedOp("com.microsoft", "Softmax"));
}

TEST(Validate, ScalesAndZeroPointsThatAreGraphInputsAreCheckedByTypeOnly) {
  GraphBuilder b = ConvBuilder({1, 3, 5, 5}, {2, 3, 3, 3}, {});
  Graph g = b.Build();
  g.initializers.erase("xs");
  g.initializers.erase("yz");
  g.inputs.push_back({"xs", DType::kFloat32, {}});
  g.inputs.push_back({"yz", DType::kUInt8, {1}});
  EXPECT_EQ(InferredShape(g, "y"), (Shape{1, 2, 3, 3}));
  g.inputs[1].dtype = DType::kInt32;  // a scale input of the wrong type is still an error
  ExpectError(g, {"node 'conv' (QLinearConv)", "input 1 'xs'", "element type int32"});
}

// ---- Bad models: each one clear line naming the node (or value) and the field ------------------

struct BadCase {
  std::string label;
  std::function<void(Graph&)> mutate;
  std::vector<std::string> fragments;
};

void SetInit(Graph& g, const std::string& name, Tensor t) { g.initializers[name] = std::move(t); }

TEST(ValidateErrors, ConvModelMutations) {
  const std::string conv = "node 'conv' (QLinearConv)";
  const std::vector<BadCase> cases = {
      {"unknown op", [](Graph& g) { g.nodes[0].op_type = "QLinearConvX"; }, {"node 'conv'", "unknown op 'ai.onnx::QLinearConvX'"}},
      {"contrib domain", [](Graph& g) { g.nodes[0].domain = "com.microsoft"; }, {"unknown op 'com.microsoft::QLinearConv'"}},
      {"other domain", [](Graph& g) { g.nodes[0].domain = "com.example"; }, {"unknown op 'com.example::QLinearConv'"}},
      {"too few inputs", [](Graph& g) { g.nodes[0].inputs.resize(7); }, {conv, "inputs", "has 7 inputs, expected 8..9"}},
      {"too many inputs", [](Graph& g) { g.nodes[0].inputs.push_back("x"); }, {conv, "has 10 inputs"}},
      {"required input empty", [](Graph& g) { g.nodes[0].inputs[5] = ""; }, {conv, "input 5", "required input is missing"}},
      {"two outputs", [](Graph& g) { g.nodes[0].outputs.push_back("y2"); }, {conv, "outputs", "has 2 outputs, expected 1"}},
      {"no outputs", [](Graph& g) { g.nodes[0].outputs.clear(); }, {conv, "outputs"}},
      {"x float", [](Graph& g) { g.inputs[0].dtype = DType::kFloat32; }, {conv, "input 0 'x'", "element type float"}},
      {"w int16", [](Graph& g) { SetInit(g, "w", Tensor(DType::kInt16, {4, 3, 3, 3})); }, {conv, "input 3 'w'", "int16"}},
      {"channels vs weight", [](Graph& g) { SetInit(g, "w", Tensor(DType::kInt8, {4, 2, 3, 3})); }, {conv, "input 3 'w'", "expects 2 input channels, input has 3"}},
      {"group not dividing", [](Graph& g) { g.nodes[0].attrs["group"] = Int(2); }, {conv, "attribute 'group'", "divide"}},
      {"group zero", [](Graph& g) { g.nodes[0].attrs["group"] = Int(0); }, {conv, "attribute 'group'"}},
      {"weight rank", [](Graph& g) { SetInit(g, "w", Tensor(DType::kInt8, {4, 3, 3})); }, {conv, "input 3 'w'", "rank"}},
      {"kernel_shape mismatch", [](Graph& g) { g.nodes[0].attrs["kernel_shape"] = Ints({3, 2}); }, {conv, "attribute 'kernel_shape'"}},
      {"zero kernel", [](Graph& g) { SetInit(g, "w", Tensor(DType::kInt8, {4, 3, 0, 3})); }, {conv, "kernel"}},
      {"negative stride", [](Graph& g) { g.nodes[0].attrs["strides"] = Ints({-1, 1}); }, {conv, "attribute 'strides'", "-1"}},
      {"zero dilation", [](Graph& g) { g.nodes[0].attrs["dilations"] = Ints({1, 0}); }, {conv, "attribute 'dilations'"}},
      {"strides length", [](Graph& g) { g.nodes[0].attrs["strides"] = Ints({1}); }, {conv, "attribute 'strides'", "expected 2"}},
      {"pads length", [](Graph& g) { g.nodes[0].attrs["pads"] = Ints({1, 1}); }, {conv, "attribute 'pads'", "expected 4"}},
      {"negative pad", [](Graph& g) { g.nodes[0].attrs["pads"] = Ints({1, -1, 1, 1}); }, {conv, "attribute 'pads'"}},
      {"auto_pad value", [](Graph& g) { g.nodes[0].attrs["auto_pad"] = Str("SAME"); }, {conv, "attribute 'auto_pad'", "'SAME'"}},
      {"attr kind", [](Graph& g) { g.nodes[0].attrs["strides"] = Attribute::Float(2); }, {conv, "attribute 'strides'", "must be a list of ints, got a float"}},
      {"attr kind string", [](Graph& g) { g.nodes[0].attrs["auto_pad"] = Int(1); }, {conv, "attribute 'auto_pad'", "must be a string"}},
      {"ceil_mode on conv", [](Graph& g) { g.nodes[0].attrs["ceil_mode"] = Int(1); }, {conv, "attribute 'ceil_mode'"}},
      {"kernel larger than input", [](Graph& g) { SetInit(g, "w", Tensor(DType::kInt8, {4, 3, 9, 9})); }, {conv, "input 0 'x'", "smaller than the kernel"}},
      {"scale negative", [](Graph& g) { SetInit(g, "xs", Tensor::Scalar(DType::kFloat32, -1)); }, {conv, "input 1 'xs'", "scale must be finite and > 0"}},
      {"scale zero", [](Graph& g) { SetInit(g, "ys", Tensor::Scalar(DType::kFloat32, 0)); }, {conv, "input 6 'ys'", "> 0"}},
      {"scale NaN", [](Graph& g) { SetInit(g, "ys", Tensor::Scalar(DType::kFloat32, std::nan(""))); }, {conv, "input 6 'ys'", "finite"}},
      {"scale inf in a vector", [](Graph& g) { SetInit(g, "ws", Tensor::FromDoubles(DType::kFloat32, {4}, {1, 1, INFINITY, 1})); }, {conv, "input 4 'ws'", "at index 2"}},
      {"scale int", [](Graph& g) { SetInit(g, "xs", Tensor::Scalar(DType::kInt32, 1)); }, {conv, "input 1 'xs'", "int32"}},
      {"per-channel length", [](Graph& g) { SetInit(g, "ws", Tensor::FromDoubles(DType::kFloat32, {3}, {1, 1, 1})); }, {conv, "input 4 'ws'", "[4]"}},
      {"x scale per-channel", [](Graph& g) { SetInit(g, "xs", Tensor::FromDoubles(DType::kFloat32, {3}, {1, 1, 1})); }, {conv, "input 1 'xs'", "must be a scalar"}},
      {"zp wrong type", [](Graph& g) { SetInit(g, "xz", Tensor::Scalar(DType::kInt8, 0)); }, {conv, "input 2 'xz'", "zero point type int8 does not match the quantized tensor's type uint8"}},
      {"w zp length", [](Graph& g) { SetInit(g, "wz", Tensor(DType::kInt8, {3})); }, {conv, "input 5 'wz'", "zero point shape [3]"}},
      {"y zp int16", [](Graph& g) { SetInit(g, "yz", Tensor::Scalar(DType::kInt16, 0)); }, {conv, "input 7 'yz'", "int16"}},
      {"bias length", [](Graph& g) { SetInit(g, "bias", Tensor(DType::kInt32, {5})); }, {conv, "input 8 'bias'", "bias shape [5] must be [4]"}},
      {"bias type", [](Graph& g) { SetInit(g, "bias", Tensor(DType::kFloat32, {4})); }, {conv, "input 8 'bias'", "bias must be int32, got float"}},
      {"undefined value", [](Graph& g) { g.nodes[0].inputs[0] = "nowhere"; }, {conv, "input 0 'nowhere'", "undefined value"}},
      {"output redefines input", [](Graph& g) { g.nodes[0].outputs[0] = "x"; g.outputs[0].name = "x"; }, {conv, "output 'x' is already defined"}},
      {"graph input twice", [](Graph& g) { g.inputs.push_back(g.inputs[0]); }, {"graph input 'x'", "defined twice"}},
      {"input type unsupported", [](Graph& g) { g.inputs[0].dtype = static_cast<DType>(99); }, {"graph input 'x'", "unsupported element type", "99"}},
      {"input type undefined", [](Graph& g) { g.inputs[0].dtype = DType::kUndefined; }, {"graph input 'x'", "unsupported element type"}},
      {"output type unsupported", [](Graph& g) { g.outputs[0].dtype = static_cast<DType>(13); }, {"graph output 'y'", "unsupported element type"}},
      {"output type mismatch", [](Graph& g) { g.outputs[0].dtype = DType::kInt8; }, {"graph output 'y'", "declared int8 but computed uint8"}},
      {"output never produced", [](Graph& g) { g.outputs[0].name = "zz"; }, {"graph output 'zz'", "not produced"}},
      {"no outputs", [](Graph& g) { g.outputs.clear(); }, {"graph has no outputs"}},
      {"opset 9", [](Graph& g) { g.opset = 9; }, {"opset 9", "10 to 19"}},
      {"over element limit", [](Graph& g) { g.inputs[0].shape = {1, 3, 65536, 65536}; }, {"graph input 'x'", "over the limit"}},
      {"product overflows int64", [](Graph& g) { g.inputs[0].shape = {int64_t{1} << 40, 3, int64_t{1} << 40, 5}; }, {"graph input 'x'", "over the limit"}},
      {"huge dim beside a zero", [](Graph& g) { g.inputs[0].shape = {0, 3, int64_t{1} << 62, 5}; }, {"graph input 'x'", "over the limit"}},
  };
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.label);
    Graph g = ConvBuilder({1, 3, 5, 5}, {4, 3, 3, 3}, {}).Build();
    ASSERT_TRUE(Validate(g).ok());
    c.mutate(g);
    ExpectError(g, c.fragments);
  }
}

TEST(ValidateErrors, TotalBytesAndNodeCountLimits) {
  Graph g = ConvBuilder({1, 3, 64, 64}, {4, 3, 3, 3}, {}).Build();
  ModelLimits small;
  small.max_total_bytes = 64 * 64 * 3 + 1000;  // the input fits, the output does not
  ExpectError(g, {"node 'conv' (QLinearConv): output 'y'", "bytes"}, small);
  ModelLimits elems;
  elems.max_tensor_elements = 3 * 64 * 64;  // input fits exactly; output 4·62·62 does not
  ExpectError(g, {"node 'conv' (QLinearConv): output 'y'", "over the limit"}, elems);
  ModelLimits nodes;
  nodes.max_nodes = 0;
  ExpectError(g, {"1 nodes", "limit"}, nodes);
}

TEST(ValidateErrors, GraphStructure) {
  // y = Relu(x) twice with the same output name; a cycle; nodes out of order; duplicate names.
  auto two = [](std::vector<std::string> in0, std::string out0, std::vector<std::string> in1,
                std::string out1, std::string name1 = "b") {
    GraphBuilder b("s", 13, 1);
    b.Input("x", DType::kFloat32, {2});
    b.Op("Relu", "a", std::move(in0), {std::move(out0)});
    b.Op("Sigmoid", std::move(name1), std::move(in1), {std::move(out1)});
    b.Output("y", DType::kFloat32, {});
    return b.Build();
  };
  ASSERT_TRUE(Validate(two({"x"}, "t", {"t"}, "y")).ok());
  ExpectError(two({"x"}, "y", {"x"}, "y"), {"node 'b' (Sigmoid)", "output 'y' is already defined"});
  ExpectError(two({"y"}, "t", {"t"}, "y"), {"node 'a' (Relu)", "input 0 'y'", "produced by node 'b'", "cycle"});
  ExpectError(two({"t"}, "y", {"x"}, "t"), {"node 'a' (Relu)", "'t'", "topological order"});
  ExpectError(two({"x"}, "t", {"t"}, "y", "a"), {"node 'a' (Sigmoid)", "used twice"});
}

// One node `op` over graph inputs/initializers set up by `setup`, expected to fail.
struct OpCase {
  std::string label;
  int64_t opset;
  std::function<void(GraphBuilder&)> build;  // must create a node named "n"
  std::vector<std::string> fragments;
};

TEST(ValidateErrors, PerOpRules) {
  const auto f32 = DType::kFloat32;
  const std::vector<OpCase> cases = {
      {"matmul inner dims", 13, [&](GraphBuilder& b) {
         b.Input("a", f32, {2, 3}); b.Input("c", f32, {4, 5}); b.Op("MatMul", "n", {"a", "c"}, {"y"}); },
       {"node 'n' (MatMul)", "inputs", "inner dimensions differ"}},
      {"matmul batch broadcast", 13, [&](GraphBuilder& b) {
         b.Input("a", f32, {2, 2, 3}); b.Input("c", f32, {3, 3, 5}); b.Op("MatMul", "n", {"a", "c"}, {"y"}); },
       {"node 'n' (MatMul)", "cannot be broadcast"}},
      {"qlinearmatmul per-column length", 13, [&](GraphBuilder& b) {
         b.Input("a", DType::kInt8, {2, 3}); b.Init("w", Tensor(DType::kInt8, {3, 4}));
         b.Scalar("s", f32, 1); b.Scalar("z", DType::kInt8, 0); b.Vector("ws", f32, {1, 1, 1});
         b.Op("QLinearMatMul", "n", {"a", "s", "z", "w", "ws", "z", "s", "z"}, {"y"}); },
       {"node 'n' (QLinearMatMul)", "input 4 'ws'", "[4]"}},
      {"gemm inner dims", 13, [&](GraphBuilder& b) {
         b.Input("a", f32, {2, 3}); b.Input("c", f32, {2, 5}); b.Op("Gemm", "n", {"a", "c"}, {"y"}); },
       {"node 'n' (Gemm)", "inner dimensions differ"}},
      {"gemm flag", 13, [&](GraphBuilder& b) {
         b.Input("a", f32, {2, 3}); b.Input("c", f32, {3, 5}); b.Op("Gemm", "n", {"a", "c"}, {"y"}, {{"transA", Int(2)}}); },
       {"node 'n' (Gemm)", "attribute 'transA'", "0 or 1"}},
      {"add broadcast", 13, [&](GraphBuilder& b) {
         b.Input("a", f32, {2, 3}); b.Input("c", f32, {4}); b.Op("Add", "n", {"a", "c"}, {"y"}); },
       {"node 'n' (Add)", "inputs", "[2,3] and [4] cannot be broadcast"}},
      {"add int", 13, [&](GraphBuilder& b) {
         b.Input("a", DType::kInt8, {2}); b.Input("c", DType::kInt8, {2}); b.Op("Add", "n", {"a", "c"}, {"y"}); },
       {"node 'n' (Add)", "input 0 'a'", "int8"}},
      {"qlinearadd type mismatch", 13, [&](GraphBuilder& b) {
         b.Input("a", DType::kInt8, {2}); b.Input("c", DType::kUInt8, {2}); b.Scalar("s", f32, 1); b.Scalar("z", DType::kInt8, 0);
         b.Op("QLinearAdd", "n", {"a", "s", "z", "c", "s", "", "s", "z"}, {"y"}, {}, "com.microsoft"); },
       {"node 'n' (QLinearAdd)", "input 3 'c'", "uint8"}},
      {"qlinearadd broadcast", 13, [&](GraphBuilder& b) {
         b.Input("a", DType::kInt8, {2, 3}); b.Input("c", DType::kInt8, {2}); b.Scalar("s", f32, 1);
         b.Op("QLinearAdd", "n", {"a", "s", "", "c", "s", "", "s"}, {"y"}, {}, "com.microsoft"); },
       {"node 'n' (QLinearAdd)", "cannot be broadcast"}},
      {"quantize per-axis length", 13, [&](GraphBuilder& b) {
         b.Input("x", f32, {2, 3, 4}); b.Vector("s", f32, {1, 1, 1, 1});
         b.Op("QuantizeLinear", "n", {"x", "s"}, {"y"}, {{"axis", Int(1)}}); },
       {"node 'n' (QuantizeLinear)", "input 1 's'", "[3]"}},
      {"quantize axis out of range", 13, [&](GraphBuilder& b) {
         b.Input("x", f32, {2, 3}); b.Vector("s", f32, {1, 1, 1});
         b.Op("QuantizeLinear", "n", {"x", "s"}, {"y"}, {{"axis", Int(2)}}); },
       {"node 'n' (QuantizeLinear)", "attribute 'axis'", "out of range"}},
      {"quantize zp per-axis length", 13, [&](GraphBuilder& b) {
         b.Input("x", f32, {2, 3}); b.Vector("s", f32, {1, 1, 1}); b.Init("z", Tensor(DType::kInt8, {2}));
         b.Op("QuantizeLinear", "n", {"x", "s", "z"}, {"y"}, {{"axis", Int(1)}}); },
       {"node 'n' (QuantizeLinear)", "input 2 'z'", "zero point shape [2]"}},
      {"quantize zp int32", 13, [&](GraphBuilder& b) {
         b.Input("x", f32, {2}); b.Scalar("s", f32, 1); b.Scalar("z", DType::kInt32, 0);
         b.Op("QuantizeLinear", "n", {"x", "s", "z"}, {"y"}); },
       {"node 'n' (QuantizeLinear)", "input 2 'z'", "not a quantized type"}},
      {"quantize from int", 13, [&](GraphBuilder& b) {
         b.Input("x", DType::kInt8, {2}); b.Scalar("s", f32, 1); b.Op("QuantizeLinear", "n", {"x", "s"}, {"y"}); },
       {"node 'n' (QuantizeLinear)", "input 0 'x'"}},
      {"int4 zero point range", 13, [&](GraphBuilder& b) {
         b.Input("x", DType::kInt4, {2}); b.Scalar("s", f32, 1); b.Init("z", Tensor::FromInts(DType::kInt4, {}, {9}));
         b.Op("DequantizeLinear", "n", {"x", "s", "z"}, {"y"}); },
       {"node 'n' (DequantizeLinear)", "input 2 'z'", "zero point 9 is out of range [-8, 7]"}},
      {"int32 zero point nonzero", 13, [&](GraphBuilder& b) {
         b.Input("x", DType::kInt32, {2}); b.Scalar("s", f32, 1); b.Init("z", Tensor::FromInts(DType::kInt32, {}, {5}));
         b.Op("DequantizeLinear", "n", {"x", "s", "z"}, {"y"}); },
       {"node 'n' (DequantizeLinear)", "input 2 'z'", "zero point 5 is out of range [0, 0]"}},
      {"dequantize float16 scale", 13, [&](GraphBuilder& b) {
         b.Input("x", DType::kInt8, {2}); b.Scalar("s", DType::kFloat16, 1); b.Op("DequantizeLinear", "n", {"x", "s"}, {"y"}); },
       {"node 'n' (DequantizeLinear)", "input 1 's'", "float16"}},
      {"dequantize from float", 13, [&](GraphBuilder& b) {
         b.Input("x", f32, {2}); b.Scalar("s", f32, 1); b.Op("DequantizeLinear", "n", {"x", "s"}, {"y"}); },
       {"node 'n' (DequantizeLinear)", "input 0 'x'", "cannot be dequantized"}},
      {"dynamic quantize outputs", 13, [&](GraphBuilder& b) {
         b.Input("x", f32, {2}); b.Op("DynamicQuantizeLinear", "n", {"x"}, {"y", "s"}); },
       {"node 'n' (DynamicQuantizeLinear)", "outputs", "has 2 outputs, expected 3"}},
      {"pool kernel missing", 13, [&](GraphBuilder& b) {
         b.Input("x", f32, {1, 1, 4, 4}); b.Op("MaxPool", "n", {"x"}, {"y"}); },
       {"node 'n' (MaxPool)", "attribute 'kernel_shape'", "required"}},
      {"pool kernel zero", 13, [&](GraphBuilder& b) {
         b.Input("x", f32, {1, 1, 4, 4}); b.Op("MaxPool", "n", {"x"}, {"y"}, {{"kernel_shape", Ints({0, 2})}}); },
       {"node 'n' (MaxPool)", "attribute 'kernel_shape'"}},
      {"pool kernel huge", 13, [&](GraphBuilder& b) {
         b.Input("x", f32, {1, 1, 4, 4}); b.Op("MaxPool", "n", {"x"}, {"y"}, {{"kernel_shape", Ints({int64_t{1} << 62, 2})}}); },
       {"node 'n' (MaxPool)", "attribute 'kernel_shape'"}},
      {"pool int16", 13, [&](GraphBuilder& b) {
         b.Input("x", DType::kInt16, {1, 1, 4, 4}); b.Op("MaxPool", "n", {"x"}, {"y"}, {{"kernel_shape", Ints({2, 2})}}); },
       {"node 'n' (MaxPool)", "input 0 'x'", "int16"}},
      {"pool int8 at opset 11", 11, [&](GraphBuilder& b) {
         b.Input("x", DType::kInt8, {1, 1, 4, 4}); b.Op("MaxPool", "n", {"x"}, {"y"}, {{"kernel_shape", Ints({2, 2})}}); },
       {"node 'n' (MaxPool)", "opset 12"}},
      {"count_include_pad 2", 13, [&](GraphBuilder& b) {
         b.Input("x", f32, {1, 1, 4, 4}); b.Op("AveragePool", "n", {"x"}, {"y"}, {{"kernel_shape", Ints({2, 2})}, {"count_include_pad", Int(2)}}); },
       {"node 'n' (AveragePool)", "attribute 'count_include_pad'", "0 or 1"}},
      {"leaky alpha nan", 13, [&](GraphBuilder& b) {
         b.Input("x", DType::kUInt8, {4}); b.Scalar("s", f32, 1);
         b.Op("QLinearLeakyRelu", "n", {"x", "s", "", "s"}, {"y"}, {{"alpha", Attribute::Float(NAN)}}, "com.microsoft"); },
       {"node 'n' (QLinearLeakyRelu)", "attribute 'alpha'", "finite"}},
      {"relu int8 at opset 13", 13, [&](GraphBuilder& b) {
         b.Input("x", DType::kInt8, {4}); b.Op("Relu", "n", {"x"}, {"y"}); },
       {"node 'n' (Relu)", "input 0 'x'", "opset 14"}},
      {"clip bound type", 13, [&](GraphBuilder& b) {
         b.Input("x", DType::kInt8, {4}); b.Scalar("lo", f32, 0); b.Op("Clip", "n", {"x", "lo"}, {"y"}); },
       {"node 'n' (Clip)", "input 1 'lo'", "scalar of the input's type int8"}},
      {"clip attrs at opset 13", 13, [&](GraphBuilder& b) {
         b.Input("x", f32, {4}); b.Op("Clip", "n", {"x"}, {"y"}, {{"min", Attribute::Float(0)}}); },
       {"node 'n' (Clip)", "attribute 'min'", "opset 13"}},
      {"clip inputs at opset 10", 10, [&](GraphBuilder& b) {
         b.Input("x", f32, {4}); b.Scalar("lo", f32, 0); b.Op("Clip", "n", {"x", "lo"}, {"y"}); },
       {"node 'n' (Clip)", "input 1 'lo'", "opset 11"}},
      {"reshape shape not constant", 13, [&](GraphBuilder& b) {
         b.Input("x", f32, {4}); b.Input("shp", DType::kInt64, {2}); b.Op("Reshape", "n", {"x", "shp"}, {"y"}); },
       {"node 'n' (Reshape)", "input 1 'shape'", "constant"}},
      {"reshape count", 13, [&](GraphBuilder& b) {
         b.Input("x", f32, {2, 3}); b.Init("shp", Tensor::FromInts(DType::kInt64, {2}, {4, 2})); b.Op("Reshape", "n", {"x", "shp"}, {"y"}); },
       {"node 'n' (Reshape)", "cannot reshape [2,3] to [4,2]"}},
      {"reshape two -1", 13, [&](GraphBuilder& b) {
         b.Input("x", f32, {2, 3}); b.Init("shp", Tensor::FromInts(DType::kInt64, {2}, {-1, -1})); b.Op("Reshape", "n", {"x", "shp"}, {"y"}); },
       {"node 'n' (Reshape)", "more than one -1"}},
      {"reshape allowzero with -1", 14, [&](GraphBuilder& b) {
         b.Input("x", f32, {2, 3}); b.Init("shp", Tensor::FromInts(DType::kInt64, {2}, {0, -1}));
         b.Op("Reshape", "n", {"x", "shp"}, {"y"}, {{"allowzero", Int(1)}}); },
       {"node 'n' (Reshape)", "allowzero"}},
      {"flatten axis", 13, [&](GraphBuilder& b) {
         b.Input("x", f32, {2, 3}); b.Op("Flatten", "n", {"x"}, {"y"}, {{"axis", Int(3)}}); },
       {"node 'n' (Flatten)", "attribute 'axis'", "out of range"}},
      {"transpose perm repeats", 13, [&](GraphBuilder& b) {
         b.Input("x", f32, {2, 3, 4}); b.Op("Transpose", "n", {"x"}, {"y"}, {{"perm", Ints({0, 0, 1})}}); },
       {"node 'n' (Transpose)", "attribute 'perm'", "not a permutation"}},
      {"transpose perm length", 13, [&](GraphBuilder& b) {
         b.Input("x", f32, {2, 3, 4}); b.Op("Transpose", "n", {"x"}, {"y"}, {{"perm", Ints({1, 0})}}); },
       {"node 'n' (Transpose)", "attribute 'perm'"}},
      {"concat axis", 13, [&](GraphBuilder& b) {
         b.Input("x", f32, {2, 3}); b.Op("Concat", "n", {"x", "x"}, {"y"}, {{"axis", Int(-3)}}); },
       {"node 'n' (Concat)", "attribute 'axis'", "out of range"}},
      {"concat shapes", 13, [&](GraphBuilder& b) {
         b.Input("x", f32, {2, 3}); b.Input("z", f32, {3, 3}); b.Op("Concat", "n", {"x", "z"}, {"y"}, {{"axis", Int(1)}}); },
       {"node 'n' (Concat)", "input 1", "[3,3] does not match [2,3]"}},
      {"concat types", 13, [&](GraphBuilder& b) {
         b.Input("x", f32, {2, 3}); b.Input("z", DType::kInt8, {2, 3}); b.Op("Concat", "n", {"x", "z"}, {"y"}, {{"axis", Int(1)}}); },
       {"node 'n' (Concat)", "input 1", "element type"}},
      {"squeeze non-1 dim", 13, [&](GraphBuilder& b) {
         b.Input("x", f32, {2, 1}); b.Init("ax", Tensor::FromInts(DType::kInt64, {1}, {0})); b.Op("Squeeze", "n", {"x", "ax"}, {"y"}); },
       {"node 'n' (Squeeze)", "axes", "not 1"}},
      {"squeeze attr at opset 13", 13, [&](GraphBuilder& b) {
         b.Input("x", f32, {2, 1}); b.Op("Squeeze", "n", {"x"}, {"y"}, {{"axes", Ints({1})}}); },
       {"node 'n' (Squeeze)", "attribute 'axes'", "opset 13"}},
      {"unsqueeze input at opset 11", 11, [&](GraphBuilder& b) {
         b.Input("x", f32, {2}); b.Init("ax", Tensor::FromInts(DType::kInt64, {1}, {0})); b.Op("Unsqueeze", "n", {"x", "ax"}, {"y"}); },
       {"node 'n' (Unsqueeze)", "input 1 'ax'", "opset 13"}},
      {"unsqueeze repeated axis", 13, [&](GraphBuilder& b) {
         b.Input("x", f32, {2}); b.Init("ax", Tensor::FromInts(DType::kInt64, {2}, {0, -3})); b.Op("Unsqueeze", "n", {"x", "ax"}, {"y"}); },
       {"node 'n' (Unsqueeze)", "axes", "repeated"}},
      {"split uneven", 13, [&](GraphBuilder& b) {
         b.Input("x", f32, {5}); b.Op("Split", "n", {"x"}, {"a", "c"}); },
       {"node 'n' (Split)", "outputs", "does not split evenly"}},
      {"split sizes", 13, [&](GraphBuilder& b) {
         b.Input("x", f32, {5}); b.Init("sp", Tensor::FromInts(DType::kInt64, {2}, {2, 2})); b.Op("Split", "n", {"x", "sp"}, {"a", "c"}); },
       {"node 'n' (Split)", "split", "summing to 5"}},
      {"split num_outputs mismatch", 18, [&](GraphBuilder& b) {
         b.Input("x", f32, {5}); b.Op("Split", "n", {"x"}, {"a", "c"}, {{"num_outputs", Int(3)}}); },
       {"node 'n' (Split)", "attribute 'num_outputs'"}},
      {"split num_outputs before 18", 13, [&](GraphBuilder& b) {
         b.Input("x", f32, {6}); b.Op("Split", "n", {"x"}, {"a", "c"}, {{"num_outputs", Int(2)}}); },
       {"node 'n' (Split)", "attribute 'num_outputs'", "opset 18"}},
      {"cast to float16", 13, [&](GraphBuilder& b) {
         b.Input("x", f32, {5}); b.Op("Cast", "n", {"x"}, {"y"}, {{"to", Int(10)}}); },
       {"node 'n' (Cast)", "attribute 'to'", "type 10"}},
      {"cast from int16", 13, [&](GraphBuilder& b) {
         b.Input("x", DType::kInt16, {5}); b.Op("Cast", "n", {"x"}, {"y"}, {{"to", Int(1)}}); },
       {"node 'n' (Cast)", "input 0 'x'", "int16"}},
      {"cast without to", 13, [&](GraphBuilder& b) {
         b.Input("x", f32, {5}); b.Op("Cast", "n", {"x"}, {"y"}); },
       {"node 'n' (Cast)", "attribute 'to'", "required"}},
      {"identity arity", 13, [&](GraphBuilder& b) {
         b.Input("x", f32, {5}); b.Op("Identity", "n", {"x", "x"}, {"y"}); },
       {"node 'n' (Identity)", "inputs", "has 2 inputs"}},
      {"global pool channels_last 2", 13, [&](GraphBuilder& b) {
         b.Input("x", DType::kUInt8, {1, 2, 3, 3}); b.Scalar("s", f32, 1); b.Scalar("z", DType::kUInt8, 0);
         b.Op("QLinearGlobalAveragePool", "n", {"x", "s", "z", "s", "z"}, {"y"}, {{"channels_last", Int(2)}}, "com.microsoft"); },
       {"node 'n' (QLinearGlobalAveragePool)", "attribute 'channels_last'", "0 or 1"}},
      {"conv float bias", 13, [&](GraphBuilder& b) {
         b.Input("x", f32, {1, 2, 4, 4}); b.Init("w", Tensor(f32, {3, 2, 3, 3})); b.Init("bi", Tensor(f32, {2}));
         b.Op("Conv", "n", {"x", "w", "bi"}, {"y"}); },
       {"node 'n' (Conv)", "input 2 'bi'", "[3]"}},
      {"conv integer zp per channel", 13, [&](GraphBuilder& b) {
         b.Input("x", DType::kUInt8, {1, 2, 4, 4}); b.Init("w", Tensor(DType::kInt8, {3, 2, 3, 3})); b.Init("wz", Tensor(DType::kInt8, {2}));
         b.Op("ConvInteger", "n", {"x", "w", "", "wz"}, {"y"}); },
       {"node 'n' (ConvInteger)", "input 3 'wz'", "[3]"}},
  };
  for (const OpCase& c : cases) {
    SCOPED_TRACE(c.label);
    GraphBuilder b("op", c.opset, 1);
    c.build(b);
    b.Output("y", DType::kUndefined, {});
    Graph g = b.Build();
    if (g.ProducerIndex("y") < 0) g.outputs[0].name = g.nodes.back().outputs[0];
    ExpectError(g, c.fragments);
  }
}

}  // namespace
}  // namespace qfarm
