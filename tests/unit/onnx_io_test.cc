// ONNX model import/export (model/onnx/onnx_io.h): real ModelProtos built here with the onnx
// protobuf API (QOperator ops, every attribute kind, typed-field and raw-data initializers,
// Constant nodes, unnamed and out-of-order nodes), every bad-input class rejected with an error
// naming the file and the node or field, and Save → Load round trips that reproduce the graph.
#include <gtest/gtest.h>

#include <onnx/onnx_pb.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "model/builtin.h"
#include "model/graph_builder.h"
#include "model/onnx/onnx_io.h"
#include "reference/executor.h"
#include "tests/support/test_util.h"

namespace qfarm {
namespace {

using qfarm::testing::TempDir;

// ---- Building ModelProtos -----------------------------------------------------------------------

void AddValue(onnx::ValueInfoProto* v, const std::string& name, int32_t type, const Shape& dims) {
  v->set_name(name);
  auto* tt = v->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(type);
  for (int64_t d : dims) {
    if (d < 0) tt->mutable_shape()->add_dim()->set_dim_param("N");
    else tt->mutable_shape()->add_dim()->set_dim_value(d);
  }
}

onnx::TensorProto RawTensor(const std::string& name, int32_t type, const Shape& dims, const std::string& raw) {
  onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(type);
  for (int64_t d : dims) t.add_dims(d);
  t.set_raw_data(raw);
  return t;
}

onnx::NodeProto* AddNode(onnx::GraphProto* g, const std::string& op, const std::string& name,
                         const std::vector<std::string>& ins, const std::vector<std::string>& outs,
                         const std::string& domain = "") {
  auto* n = g->add_node();
  n->set_op_type(op);
  if (!name.empty()) n->set_name(name);
  if (!domain.empty()) n->set_domain(domain);
  for (const auto& i : ins) n->add_input(i);
  for (const auto& o : outs) n->add_output(o);
  return n;
}

onnx::AttributeProto* AddAttr(onnx::NodeProto* n, const std::string& name, onnx::AttributeProto::AttributeType type) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(type);
  return a;
}

void AddInts(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v) {
  auto* a = AddAttr(n, name, onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}

onnx::ModelProto EmptyModel(int64_t opset = 13) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  auto* o = m.add_opset_import();
  o->set_domain("");
  o->set_version(opset);
  m.mutable_graph()->set_name("g");
  return m;
}

std::string Int8Bytes(const std::vector<int>& v) {
  std::string s;
  for (int x : v) s.push_back(static_cast<char>(static_cast<int8_t>(x)));
  return s;
}

// x float [N,2,4,4] → QuantizeLinear (unnamed) → QLinearConv "conv" (per-channel int8 weights,
// int32 bias, pads/strides/group/auto_pad) → com.microsoft QLinearLeakyRelu "lrelu" (alpha) →
// DequantizeLinear (unnamed) → y. Scales and zero points partly from Constant nodes
// (value_float, value tensor with typed int32_data), partly typed-field initializers. Nodes are
// listed out of order.
onnx::ModelProto QOperatorModel() {
  onnx::ModelProto m = EmptyModel(13);
  auto* ms = m.add_opset_import();
  ms->set_domain("com.microsoft");
  ms->set_version(1);
  auto* g = m.mutable_graph();
  AddValue(g->add_input(), "x", 1, {-1, 2, 4, 4});
  AddValue(g->add_output(), "y", 1, {-1, 3, 4, 4});
  std::vector<int> w(3 * 2 * 3 * 3);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<int>(i * 37 % 255) - 127;
  *g->add_initializer() = RawTensor("w", 3, {3, 2, 3, 3}, Int8Bytes(w));
  onnx::TensorProto ws;  // typed float_data, per channel
  ws.set_name("w_scale");
  ws.set_data_type(1);
  ws.add_dims(3);
  for (float s : {0.01f, 0.02f, 0.03f}) ws.add_float_data(s);
  *g->add_initializer() = ws;
  onnx::TensorProto wz;  // int8 zero points in int32_data
  wz.set_name("w_zp");
  wz.set_data_type(3);
  wz.add_dims(3);
  for (int z = 0; z < 3; ++z) wz.add_int32_data(0);
  *g->add_initializer() = wz;
  onnx::TensorProto b;  // int32 bias in int32_data
  b.set_name("bias");
  b.set_data_type(6);
  b.add_dims(3);
  for (int v : {-100, 0, 250}) b.add_int32_data(v);
  *g->add_initializer() = b;
  onnx::TensorProto ys;
  ys.set_name("y_scale");
  ys.set_data_type(1);
  ys.add_float_data(0.1f);
  *g->add_initializer() = ys;
  *g->add_initializer() = RawTensor("y_zp", 2, {}, std::string("\x80", 1));
  // Out of order: the DequantizeLinear first, the Constants last.
  AddNode(g, "DequantizeLinear", "", {"act", "y_scale", "y_zp"}, {"y"});
  auto* lr = AddNode(g, "QLinearLeakyRelu", "lrelu", {"conv_out", "y_scale", "y_zp", "y_scale", "y_zp"}, {"act"},
                     "com.microsoft");
  AddAttr(lr, "alpha", onnx::AttributeProto::FLOAT)->set_f(0.125f);
  auto* conv = AddNode(g, "QLinearConv", "conv",
                       {"xq", "x_scale", "x_zp", "w", "w_scale", "w_zp", "y_scale", "y_zp", "bias"}, {"conv_out"});
  AddInts(conv, "pads", {1, 1, 1, 1});
  AddInts(conv, "strides", {1, 1});
  AddInts(conv, "kernel_shape", {3, 3});
  AddAttr(conv, "group", onnx::AttributeProto::INT)->set_i(1);
  AddAttr(conv, "auto_pad", onnx::AttributeProto::STRING)->set_s("NOTSET");
  AddNode(g, "QuantizeLinear", "", {"x", "x_scale", "x_zp"}, {"xq"});
  auto* c1 = AddNode(g, "Constant", "", {}, {"x_scale"});
  AddAttr(c1, "value_float", onnx::AttributeProto::FLOAT)->set_f(0.05f);
  auto* c2 = AddNode(g, "Constant", "zp_const", {}, {"x_zp"});
  auto* t = AddAttr(c2, "value", onnx::AttributeProto::TENSOR)->mutable_t();
  t->set_data_type(2);
  t->add_int32_data(128);
  return m;
}

std::string Save(const TempDir& dir, const std::string& file, const onnx::ModelProto& m) {
  const std::string path = dir.File(file);
  std::ofstream(path, std::ios::binary) << m.SerializeAsString();
  return path;
}

// The error of loading `path`, which must fail and name the file and every string in `must`.
void ExpectLoadError(const std::string& path, const std::vector<std::string>& must,
                     const ModelLimits& limits = {}) {
  auto g = LoadOnnxModel(path, limits);
  ASSERT_FALSE(g.ok()) << path << " was accepted";
  const std::string msg = g.status().message();
  EXPECT_EQ(msg.rfind(path + ": ", 0), 0u) << msg;
  for (const std::string& s : must) EXPECT_NE(msg.find(s), std::string::npos) << "missing '" << s << "' in: " << msg;
}

// ---- Graph equality ------------------------------------------------------------------------------

bool SameAttr(const Attribute& a, const Attribute& b) {
  return a.kind == b.kind && a.i == b.i && a.f == b.f && a.s == b.s && a.ints == b.ints &&
         a.floats == b.floats && a.t == b.t;
}

void ExpectSameGraph(const Graph& a, const Graph& b, const std::string& what) {
  EXPECT_EQ(a.name, b.name) << what;
  EXPECT_EQ(a.opset, b.opset) << what;
  ASSERT_EQ(a.inputs.size(), b.inputs.size()) << what;
  for (size_t i = 0; i < a.inputs.size(); ++i) {
    EXPECT_EQ(a.inputs[i].name, b.inputs[i].name) << what;
    EXPECT_EQ(a.inputs[i].dtype, b.inputs[i].dtype) << what;
    EXPECT_EQ(a.inputs[i].shape, b.inputs[i].shape) << what;
  }
  ASSERT_EQ(a.outputs.size(), b.outputs.size()) << what;
  for (size_t i = 0; i < a.outputs.size(); ++i) {
    EXPECT_EQ(a.outputs[i].name, b.outputs[i].name) << what;
    EXPECT_EQ(a.outputs[i].dtype, b.outputs[i].dtype) << what;
    EXPECT_EQ(a.outputs[i].shape, b.outputs[i].shape) << what;
  }
  EXPECT_EQ(a.initializers, b.initializers) << what;
  ASSERT_EQ(a.nodes.size(), b.nodes.size()) << what;
  for (size_t i = 0; i < a.nodes.size(); ++i) {
    const Node &x = a.nodes[i], &y = b.nodes[i];
    EXPECT_EQ(x.name, y.name) << what;
    EXPECT_EQ(x.op_type, y.op_type) << what << " " << x.name;
    EXPECT_EQ(x.domain, y.domain) << what << " " << x.name;
    EXPECT_EQ(x.inputs, y.inputs) << what << " " << x.name;
    EXPECT_EQ(x.outputs, y.outputs) << what << " " << x.name;
    ASSERT_EQ(x.attrs.size(), y.attrs.size()) << what << " " << x.name;
    for (const auto& [k, v] : x.attrs) {
      ASSERT_TRUE(y.attrs.count(k)) << what << " " << x.name << "." << k;
      EXPECT_TRUE(SameAttr(v, y.attrs.at(k))) << what << " " << x.name << "." << k;
    }
  }
}

// ---- Import ----------------------------------------------------------------------------------------

TEST(OnnxImport, QOperatorModelWithConstantsTypedFieldsAndUnnamedNodes) {
  TempDir dir;
  const std::string path = Save(dir, "q.onnx", QOperatorModel());
  auto g = LoadOnnxModel(path);
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_EQ(g->opset, 13);
  // Sorted: Q (file index 3), conv (2), lrelu (1), DQ (0); Constants folded away.
  ASSERT_EQ(g->nodes.size(), 4u);
  EXPECT_EQ(g->nodes[0].name, "QuantizeLinear_3");
  EXPECT_EQ(g->nodes[1].name, "conv");
  EXPECT_EQ(g->nodes[2].name, "lrelu");
  EXPECT_EQ(g->nodes[3].name, "DequantizeLinear_0");
  EXPECT_EQ(g->nodes[2].domain, "com.microsoft");
  EXPECT_EQ(g->FindNode("zp_const"), nullptr);
  // Constants as initializers.
  ASSERT_TRUE(g->initializers.count("x_scale"));
  EXPECT_EQ(g->initializers.at("x_scale").dtype(), DType::kFloat32);
  EXPECT_EQ(g->initializers.at("x_scale").rank(), 0u);
  EXPECT_EQ(g->initializers.at("x_scale").data<float>()[0], 0.05f);
  EXPECT_EQ(g->initializers.at("x_zp"), Tensor::FromInts(DType::kUInt8, {}, {128}));
  // Typed fields and raw data.
  EXPECT_EQ(g->initializers.at("bias"), Tensor::FromInts(DType::kInt32, {3}, {-100, 0, 250}));
  EXPECT_EQ(g->initializers.at("w_scale").data<float>()[2], 0.03f);
  EXPECT_EQ(g->initializers.at("w").GetInt(1), 37 - 127);
  EXPECT_EQ(g->initializers.at("y_zp"), Tensor::FromInts(DType::kUInt8, {}, {128}));
  // Attributes of every kind.
  const Node& conv = g->nodes[1];
  EXPECT_EQ(conv.AttrInts("pads"), (std::vector<int64_t>{1, 1, 1, 1}));
  EXPECT_EQ(conv.AttrInt("group", 0), 1);
  EXPECT_EQ(conv.AttrString("auto_pad", ""), "NOTSET");
  EXPECT_EQ(g->nodes[2].AttrFloat("alpha", 0), 0.125f);
  // Inputs and outputs, dim_param as -1.
  ASSERT_EQ(g->inputs.size(), 1u);
  EXPECT_EQ(g->inputs[0].shape, (Shape{-1, 2, 4, 4}));
  EXPECT_EQ(g->outputs[0].shape, (Shape{-1, 3, 4, 4}));
  // And it runs.
  SplitMix64 rng(7);
  Tensor x(DType::kFloat32, {1, 2, 4, 4});
  for (int64_t i = 0; i < x.numel(); ++i) x.SetDouble(i, rng.UniformReal(-3, 3));
  auto r = RunReference(*g, *ParseProfile("onnx"), {{"x", x}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->outputs.at("y").shape(), (Shape{1, 3, 4, 4}));
}

TEST(OnnxImport, SortIsStableAndInitializerInputsAreSkipped) {
  onnx::ModelProto m = EmptyModel(14);
  auto* g = m.mutable_graph();
  AddValue(g->add_input(), "x", 1, {4});
  AddValue(g->add_input(), "c", 1, {4});  // an initializer listed as input (IR < 4 style)
  AddValue(g->add_output(), "a", 1, {4});
  AddValue(g->add_output(), "b", 1, {4});
  onnx::TensorProto c;
  c.set_name("c");
  c.set_data_type(1);
  c.add_dims(4);
  for (int i = 0; i < 4; ++i) c.add_float_data(static_cast<float>(i));
  *g->add_initializer() = c;
  AddNode(g, "Relu", "", {"x"}, {"a"});        // independent branches keep file order
  AddNode(g, "Add", "", {"x", "c"}, {"b"});
  AddNode(g, "Relu", "Add_1", {"a"}, {"unused"});  // takes the name the second node would get
  auto parsed = ParseOnnxModel(m.SerializeAsString(), "s.onnx");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  ASSERT_EQ(parsed->inputs.size(), 1u);
  EXPECT_EQ(parsed->inputs[0].name, "x");
  ASSERT_EQ(parsed->nodes.size(), 3u);
  EXPECT_EQ(parsed->nodes[0].name, "Relu_0");
  EXPECT_EQ(parsed->nodes[1].name, "Add_1_1");  // "Add_1" was taken
  EXPECT_EQ(parsed->nodes[2].name, "Add_1");
}

TEST(OnnxImport, EveryBadInputNamesFileAndField) {
  TempDir dir;
  const onnx::ModelProto good = QOperatorModel();
  const std::string bytes = good.SerializeAsString();
  const auto write = [&](const std::string& file, const std::string& data) {
    const std::string p = dir.File(file);
    std::ofstream(p, std::ios::binary) << data;
    return p;
  };
  ExpectLoadError(write("cut.onnx", bytes.substr(0, bytes.size() / 2)), {"not a valid ONNX model (protobuf parse failed)"});
  ExpectLoadError(write("empty.onnx", ""), {"empty file"});
  const char* env = std::getenv("QFARM_TEST_SEED");
  const uint64_t seed = env ? std::strtoull(env, nullptr, 10) : 99;
  std::cout << "seed (QFARM_TEST_SEED): " << seed << "\n";
  SplitMix64 rng(seed);
  for (int k = 0; k < 20; ++k) {
    std::string junk(static_cast<size_t>(rng.UniformInt(1, 400)), '\0');
    for (char& ch : junk) ch = static_cast<char>(rng.Next());
    ExpectLoadError(write("junk.onnx", junk), {});
  }
  onnx::ModelProto m = good;
  m.clear_graph();
  ExpectLoadError(Save(dir, "nograph.onnx", m), {"no graph"});
  for (int64_t opset : {9, 20}) {
    m = good;
    m.mutable_opset_import(0)->set_version(opset);
    ExpectLoadError(Save(dir, "opset.onnx", m), {"opset_import", "version " + std::to_string(opset)});
  }
  m = good;
  m.clear_opset_import();
  ExpectLoadError(Save(dir, "noopset.onnx", m), {"opset_import"});
  m = good;
  m.mutable_graph()->mutable_node(1)->set_op_type("FancyOp");
  ExpectLoadError(Save(dir, "unknown.onnx", m), {"node 'lrelu' (FancyOp)", "unknown op"});
  m = good;
  m.mutable_graph()->mutable_initializer(0)->mutable_raw_data()->pop_back();
  ExpectLoadError(Save(dir, "rawsize.onnx", m), {"tensor 'w'", "raw_data is 53 bytes", "needs 54"});
  m = good;
  {
    auto* w = m.mutable_graph()->mutable_initializer(0);
    w->clear_raw_data();
    w->set_data_location(onnx::TensorProto::EXTERNAL);
    auto* e = w->add_external_data();
    e->set_key("location");
    e->set_value("w.bin");
  }
  ExpectLoadError(Save(dir, "external.onnx", m), {"tensor 'w'", "external data"});
  m = good;
  m.mutable_graph()->mutable_initializer(0)->set_dims(0, int64_t{1} << 62);
  ExpectLoadError(Save(dir, "dims.onnx", m), {"tensor 'w'", "over the limit"});
  m = good;
  m.mutable_graph()->mutable_initializer(1)->add_float_data(1.0f);
  ExpectLoadError(Save(dir, "count.onnx", m), {"tensor 'w_scale'", "float_data holds 4"});
  m = good;  // a Constant whose tensor is malformed names the node
  m.mutable_graph()->mutable_node(5)->mutable_attribute(0)->mutable_t()->add_int32_data(1);
  ExpectLoadError(Save(dir, "const.onnx", m), {"node 'zp_const' (Constant)", "int32_data"});
  m = good;
  AddAttr(m.mutable_graph()->mutable_node(2), "body", onnx::AttributeProto::GRAPH);
  ExpectLoadError(Save(dir, "graphattr.onnx", m), {"node 'conv' (QLinearConv)", "attribute 'body'", "GRAPH"});
  m = good;
  m.mutable_graph()->mutable_node(2)->set_input(0, "nowhere");
  ExpectLoadError(Save(dir, "undefined.onnx", m), {"node 'conv' (QLinearConv)", "'nowhere'"});
  m = good;
  m.mutable_graph()->mutable_node(2)->set_name("lrelu");
  ExpectLoadError(Save(dir, "dupname.onnx", m), {"node 'lrelu'", "name"});
  m = good;  // conv reads lrelu's output: conv → lrelu → conv
  m.mutable_graph()->mutable_node(2)->set_input(0, "act");
  ExpectLoadError(Save(dir, "cycle.onnx", m), {"cycle"});
  ModelLimits few;
  few.max_nodes = 3;
  ExpectLoadError(Save(dir, "many.onnx", good), {"nodes, over the limit of 3"}, few);
  EXPECT_EQ(LoadOnnxModel(dir.File("missing.onnx")).status().code(), StatusCode::kNotFound);
  ExpectLoadError(dir.File("missing.onnx"), {"cannot open"});
}

TEST(OnnxImport, CycleErrorNamesANodeOnTheCycle) {
  onnx::ModelProto m = EmptyModel(14);
  auto* g = m.mutable_graph();
  AddValue(g->add_input(), "x", 1, {4});
  AddValue(g->add_output(), "y", 1, {4});
  AddNode(g, "Relu", "head", {"p"}, {"y"});  // downstream of the cycle, not on it
  AddNode(g, "Add", "p_node", {"x", "q"}, {"p"});
  AddNode(g, "Relu", "q_node", {"p"}, {"q"});
  auto r = ParseOnnxModel(m.SerializeAsString(), "c.onnx");
  ASSERT_FALSE(r.ok());
  const std::string msg = r.status().message();
  EXPECT_EQ(msg.rfind("c.onnx: ", 0), 0u) << msg;
  EXPECT_NE(msg.find("cycle"), std::string::npos) << msg;
  EXPECT_TRUE(msg.find("'p_node'") != std::string::npos || msg.find("'q_node'") != std::string::npos) << msg;
}

TEST(OnnxImport, FileOverTheSizeLimitIsRefusedBeforeReading) {
  TempDir dir;
  const std::string path = dir.File("huge.onnx");
  std::ofstream(path).put('x');
  std::error_code ec;
  std::filesystem::resize_file(path, uint64_t{2} << 30, ec);  // sparse: no disk used
  if (ec) GTEST_SKIP() << "cannot create a sparse file: " << ec.message();
  auto r = LoadOnnxModel(path);
  std::filesystem::remove(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(r.status().message().find(path), std::string::npos);
}

// ---- Export and round trips --------------------------------------------------------------------

// A graph with every attribute kind and int4 / float16 initializers, in topological order.
Graph MixedGraph() {
  GraphBuilder b("mixed", 19, 5);
  b.Input("x", DType::kFloat32, {-1, 7});
  b.Output("y", DType::kFloat32, {-1, 7});
  b.Output("h", DType::kFloat32, {7});
  b.Init("w4", b.RandomInts(DType::kInt4, {7}, -8, 7));  // odd count: half-filled last byte
  b.Init("w4_scale", Tensor::FromDoubles(DType::kFloat32, {}, {0.5}));
  // float16 feeds no supported op; an unused initializer still round-trips.
  b.Init("half", Tensor::FromDoubles(DType::kFloat16, {7}, {1, -2, 0.5, 65504, 0, -0.25, 3}));
  b.Op("DequantizeLinear", "dq4", {"w4", "w4_scale"}, {"w"});
  b.Op("Relu", "relu", {"w"}, {"h"});
  b.Op("Add", "add", {"x", "w"}, {"y"});
  return b.Build();
}

TEST(OnnxExport, SaveThenLoadReproducesTheGraph) {
  TempDir dir;
  std::vector<std::pair<std::string, Graph>> graphs;
  auto q = ParseOnnxModel(QOperatorModel().SerializeAsString(), "q.onnx");
  ASSERT_TRUE(q.ok()) << q.status().message();
  graphs.emplace_back("qoperator", *q);
  graphs.emplace_back("mixed", MixedGraph());
  for (const BuiltinModel& m : BuiltinSuite()) graphs.emplace_back(m.name, m.graph);
  for (const auto& [name, graph] : graphs) {
    ASSERT_TRUE(Validate(graph).ok()) << name << ": " << Validate(graph).status().message();
    const std::string path = dir.File(name + ".onnx");
    ASSERT_TRUE(SaveOnnxModel(graph, path).ok()) << name;
    auto back = LoadOnnxModel(path);
    ASSERT_TRUE(back.ok()) << name << ": " << back.status().message();
    ExpectSameGraph(graph, *back, name);
    // Export is deterministic and idempotent.
    EXPECT_EQ(*SerializeOnnxModel(graph), *SerializeOnnxModel(*back)) << name;
  }
}

TEST(OnnxExport, WritesIrVersionOpsetsAndRawData) {
  onnx::ModelProto m;
  ASSERT_TRUE(m.ParseFromString(*SerializeOnnxModel(MixedGraph())));
  EXPECT_EQ(m.ir_version(), 8);
  ASSERT_EQ(m.opset_import_size(), 1);  // no com.microsoft node
  EXPECT_EQ(m.opset_import(0).domain(), "");
  EXPECT_EQ(m.opset_import(0).version(), 19);
  for (const auto& t : m.graph().initializer()) {
    EXPECT_TRUE(t.has_raw_data()) << t.name();
    if (t.name() == "w4") { EXPECT_EQ(t.raw_data().size(), 4u); }  // 7 int4 → 4 bytes
  }
  EXPECT_FALSE(m.graph().input(0).type().tensor_type().shape().dim(0).has_dim_value());

  const auto suite = BuiltinSuite();
  ASSERT_TRUE(m.ParseFromString(*SerializeOnnxModel(suite[0].graph)));  // mlp: QLinearAdd
  ASSERT_EQ(m.opset_import_size(), 2);
  EXPECT_EQ(m.opset_import(1).domain(), "com.microsoft");
  EXPECT_EQ(m.opset_import(1).version(), 1);
}

TEST(OnnxExport, SaveToAnUnwritablePathFailsAndNamesIt) {
  TempDir dir;
  const std::string path = dir.File("missing_dir/m.onnx");
  Status s = SaveOnnxModel(MixedGraph(), path);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(path), std::string::npos) << s.message();
}

}  // namespace
}  // namespace qfarm
