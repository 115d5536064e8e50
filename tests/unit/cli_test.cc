// farmctl end to end: good runs, tensor files in and out, and every class of bad input giving
// one stderr line that names the file and the node or field, with exit status 2.
#include <gtest/gtest.h>

#include <onnx/onnx_pb.h>

#include <cmath>
#include <functional>
#include <set>

#include <nlohmann/json.hpp>

#include "agent/inputs.h"
#include "model/graph_builder.h"
#include "model/onnx/onnx_io.h"
#include "reference/executor.h"
#include "tests/support/test_util.h"

namespace qfarm {
namespace {

using qfarm::testing::CountLines;

using qfarm::testing::TempDir;

const std::string kFarmctl = QFARM_FARMCTL;

// One QLinearConv: x uint8 [1,3,8,8] → y uint8 [1,4,8,8]; everything else is an initializer.
Graph ConvModel() {
  GraphBuilder b("conv", 13, 7);
  b.Input("x", DType::kUInt8, {1, 3, 8, 8});
  b.Output("y", DType::kUInt8, {1, 4, 8, 8});
  b.Scalar("x_scale", DType::kFloat32, 0.02);
  b.Scalar("x_zp", DType::kUInt8, 128);
  b.Init("w", b.RandomInts(DType::kInt8, {4, 3, 3, 3}, -128, 127));
  b.Vector("w_scale", DType::kFloat32, {0.01, 0.02, 0.015, 0.005});
  b.Init("w_zp", Tensor(DType::kInt8, {4}));
  b.Scalar("y_scale", DType::kFloat32, 0.1);
  b.Scalar("y_zp", DType::kUInt8, 128);
  b.Init("bias", b.RandomInts(DType::kInt32, {4}, -500, 500));
  b.Op("QLinearConv", "conv1", {"x", "x_scale", "x_zp", "w", "w_scale", "w_zp", "y_scale", "y_zp", "bias"},
       {"y"}, {{"pads", Attribute::Ints({1, 1, 1, 1})}, {"kernel_shape", Attribute::Ints({3, 3})}});
  return b.Build();
}

class CliTest : public ::testing::Test {
 protected:
  std::string Save(const Graph& g, const std::string& name = "model.onnx") {
    const std::string path = dir_.File(name);
    EXPECT_TRUE(SaveOnnxModel(g, path).ok());
    return path;
  }
  // Asserts the one-line error contract and that every fragment is in the message.
  void ExpectError(const qfarm::testing::CommandResult& r, const std::vector<std::string>& fragments) {
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(CountLines(r.err), 1) << r.err;
    EXPECT_EQ(r.err.rfind("farmctl: error: ", 0), 0u) << r.err;
    for (const std::string& f : fragments) EXPECT_NE(r.err.find(f), std::string::npos) << "missing '" << f << "' in: " << r.err;
    EXPECT_EQ(r.out, "");
  }
  qfarm::testing::CommandResult RunModel(const std::string& path, const std::string& extra = "") {
    return qfarm::testing::Run(kFarmctl + " run --model " + path + " --device reference " + extra);
  }
  TempDir dir_;
};

TEST_F(CliTest, RunWritesOutputsEqualToTheEmulator) {
  const Graph g = ConvModel();
  const std::string path = Save(g);
  const std::string out_dir = dir_.File("out");
  auto r = RunModel(path, "--seed 7 --output-dir " + out_dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("seed:    7"), std::string::npos) << r.out;
  const TensorMap inputs = GenerateMissingInputs(g, {}, 7);
  auto want = RunReference(g, *ParseProfile("onnx"), inputs);
  ASSERT_TRUE(want.ok());
  auto pb = ReadTensorFile(out_dir + "/y.pb");
  auto npy = ReadTensorFile(out_dir + "/y.npy");
  ASSERT_TRUE(pb.ok() && npy.ok());
  EXPECT_EQ(pb->name, "y");
  EXPECT_EQ(pb->tensor, want->outputs.at("y"));
  EXPECT_EQ(npy->tensor, want->outputs.at("y"));
}

TEST_F(CliTest, InputsAndQuantizationParametersFromFiles) {
  const Graph g = ConvModel();
  const std::string path = Save(g);
  GraphBuilder gen("inputs", 13, 99);
  const Tensor x = gen.RandomInts(DType::kUInt8, {1, 3, 8, 8}, 0, 255);
  ASSERT_TRUE(WriteNpy(dir_.File("x.npy"), x).ok());
  ASSERT_TRUE(WriteTensorProtoFile(dir_.File("x.pb"), "x", x).ok());
  const Tensor y_scale = Tensor::Scalar(DType::kFloat32, 0.05);
  ASSERT_TRUE(WriteTensorProtoFile(dir_.File("y_scale.pb"), "y_scale", y_scale).ok());
  auto a = RunModel(path, "--json --input " + dir_.File("x.npy"));
  auto b = RunModel(path, "--json --input " + dir_.File("x.pb"));
  auto c = RunModel(path, "--json --input " + dir_.File("x.pb") + " --input " + dir_.File("y_scale.pb") +
                              " --output-dir " + dir_.File("c"));
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  ASSERT_EQ(c.exit_code, 0) << c.err;
  auto sha = [](const std::string& json) {
    return nlohmann::json::parse(json)["outputs"][0]["sha256"].get<std::string>();
  };
  EXPECT_EQ(sha(a.out), sha(b.out));  // the same tensor by position (.npy) and by name (.pb)
  EXPECT_NE(sha(a.out), sha(c.out));  // the overridden output scale changes the result
  auto want = RunReference(g, *ParseProfile("onnx"), {{"x", x}, {"y_scale", y_scale}});
  ASSERT_TRUE(want.ok());
  EXPECT_EQ(ReadTensorFile(dir_.File("c/y.pb"))->tensor, want->outputs.at("y"));
}

TEST_F(CliTest, ProfilesListsAllNamedProfiles) {
  auto r = qfarm::testing::Run(kFarmctl + " profiles");
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_EQ(CountLines(r.out), 9);
  for (const char* name : {"onnx", "ort", "xnnpack-fp32", "xnnpack-rndnu", "tflite", "tflite-single",
                           "neon-naive", "avx2-u8s8", "dsp-sat32"}) {
    EXPECT_NE(r.out.find(name), std::string::npos) << name;
  }
}

// Mutates the conv model and expects a one-line error naming the file, node and field.
struct BadModel {
  std::string label;
  std::function<void(Graph&)> mutate;
  std::vector<std::string> fragments;
};

TEST_F(CliTest, EveryBadModelClassIsOneClearError) {
  const std::vector<BadModel> cases = {
      {"unknown op", [](Graph& g) { g.nodes[0].op_type = "QLinearConvX"; }, {"node 'conv1'", "unknown op 'ai.onnx::QLinearConvX'"}},
      {"unknown contrib op", [](Graph& g) { g.nodes[0].domain = "com.microsoft"; }, {"node 'conv1'", "unknown op 'com.microsoft::QLinearConv'"}},
      {"wrong arity", [](Graph& g) { g.nodes[0].inputs.resize(7); }, {"node 'conv1' (QLinearConv)", "has 7 inputs, expected 8..9"}},
      {"shape mismatch", [](Graph& g) { g.initializers["w"] = Tensor(DType::kInt8, {4, 2, 3, 3}); },
       {"node 'conv1' (QLinearConv)", "input 3 'w'", "expects 2 input channels, input has 3"}},
      {"scale <= 0", [](Graph& g) { g.initializers["x_scale"] = Tensor::Scalar(DType::kFloat32, -1); },
       {"node 'conv1' (QLinearConv)", "input 1 'x_scale'", "scale must be finite and > 0"}},
      {"scale NaN", [](Graph& g) { g.initializers["y_scale"] = Tensor::Scalar(DType::kFloat32, std::nan("")); },
       {"input 6 'y_scale'", "scale must be finite and > 0"}},
      {"scale inf", [](Graph& g) { g.initializers["w_scale"] = Tensor::FromDoubles(DType::kFloat32, {4}, {1, INFINITY, 1, 1}); },
       {"input 4 'w_scale'", "at index 1"}},
      {"zero point wrong type", [](Graph& g) { g.initializers["x_zp"] = Tensor::Scalar(DType::kInt8, 0); },
       {"input 2 'x_zp'", "zero point type int8 does not match the quantized tensor's type uint8"}},
      {"zero point wrong shape", [](Graph& g) { g.initializers["w_zp"] = Tensor(DType::kInt8, {3}); },
       {"input 5 'w_zp'", "zero point shape [3]"}},
      {"bias wrong length", [](Graph& g) { g.initializers["bias"] = Tensor(DType::kInt32, {5}); },
       {"input 8 'bias'", "bias shape [5] must be [4]"}},
      {"bias wrong type", [](Graph& g) { g.initializers["bias"] = Tensor(DType::kInt8, {4}); },
       {"input 8 'bias'", "bias must be int32, got int8"}},
      {"over the size limit", [](Graph& g) { g.inputs[0].shape = {1, 3, 65536, 65536}; },
       {"graph input 'x'", "over the limit"}},
      {"undefined value", [](Graph& g) { g.nodes[0].inputs[0] = "nowhere"; }, {"node 'conv1'", "'nowhere'"}},
      {"bad attribute", [](Graph& g) { g.nodes[0].attrs["strides"] = Attribute::Ints({0, 1}); },
       {"node 'conv1'", "attribute 'strides'"}},
  };
  for (const BadModel& c : cases) {
    SCOPED_TRACE(c.label);
    Graph g = ConvModel();
    c.mutate(g);
    const std::string path = Save(g, "bad.onnx");
    std::vector<std::string> fragments = c.fragments;
    fragments.push_back(path);
    ExpectError(RunModel(path), fragments);
  }
}

TEST_F(CliTest, ZeroPointOutOfRange) {
  // int32 DequantizeLinear: the zero point must be 0.
  GraphBuilder b("dq32", 13, 1);
  b.Input("acc", DType::kInt32, {4});
  b.Output("y", DType::kFloat32, {4});
  b.Scalar("s", DType::kFloat32, 0.5);
  b.Init("z", Tensor::FromInts(DType::kInt32, {}, {5}));
  b.Op("DequantizeLinear", "dq", {"acc", "s", "z"}, {"y"});
  const std::string path = Save(b.Build(), "dq32.onnx");
  ExpectError(RunModel(path), {path, "node 'dq' (DequantizeLinear)", "input 2 'z'", "zero point 5 is out of range [0, 0]"});
  // A uint8 zero point stored as 300 in the typed int32_data field.
  onnx::ModelProto m;
  ASSERT_TRUE(m.ParseFromString(*SerializeOnnxModel(ConvModel())));
  for (auto& t : *m.mutable_graph()->mutable_initializer()) {
    if (t.name() != "x_zp") continue;
    t.clear_raw_data();
    t.add_int32_data(300);
  }
  const std::string typed = dir_.File("typed.onnx");
  std::ofstream(typed, std::ios::binary) << m.SerializeAsString();
  ExpectError(RunModel(typed), {typed, "tensor 'x_zp'", "value 300", "out of range for uint8"});
}

TEST_F(CliTest, TruncatedAndNonOnnxFiles) {
  const std::string bytes = *SerializeOnnxModel(ConvModel());
  const std::string half = dir_.File("half.onnx");
  std::ofstream(half, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  ExpectError(RunModel(half), {half, "not a valid ONNX model"});
  const std::string text = dir_.File("notes.onnx");
  std::ofstream(text) << "this is not a model\n";
  ExpectError(RunModel(text), {text, "not a valid ONNX model"});
  const std::string empty = dir_.File("empty.onnx");
  std::ofstream(empty).flush();
  ExpectError(RunModel(empty), {empty, "empty file"});
  ExpectError(RunModel(dir_.File("missing.onnx")), {"missing.onnx", "cannot open"});
  onnx::ModelProto m;
  ASSERT_TRUE(m.ParseFromString(bytes));
  m.mutable_opset_import(0)->set_version(9);
  const std::string old = dir_.File("opset9.onnx");
  std::ofstream(old, std::ios::binary) << m.SerializeAsString();
  ExpectError(RunModel(old), {old, "opset_import", "version 9"});
}

TEST_F(CliTest, BadRunArguments) {
  const std::string path = Save(ConvModel());
  ASSERT_TRUE(WriteNpy(dir_.File("small.npy"), Tensor(DType::kUInt8, {1, 3, 4, 4})).ok());
  ExpectError(RunModel(path, "--input " + dir_.File("small.npy")),
              {"input 'x': expected uint8 [1,3,8,8], got uint8 [1,3,4,4]"});
  ASSERT_TRUE(WriteNpy(dir_.File("f.npy"), Tensor(DType::kFloat32, {1, 3, 8, 8})).ok());
  ExpectError(RunModel(path, "--input " + dir_.File("f.npy")), {"input 'x'", "got float"});
  std::ofstream(dir_.File("junk.npy")) << "\x93NUMPY junk";
  ExpectError(RunModel(path, "--input " + dir_.File("junk.npy")), {"junk.npy", "npy"});
  ExpectError(RunModel(path, "--profile rounding=half_odd"), {"unknown value 'half_odd' for key 'rounding'"});
  ExpectError(qfarm::testing::Run(kFarmctl + " run --model " + path + " --device tpu9"), {"unknown device 'tpu9'", "reference"});
  ExpectError(qfarm::testing::Run(kFarmctl + " run --device reference"), {"--model"});
  ExpectError(qfarm::testing::Run(kFarmctl + " frobnicate"), {"unknown command 'frobnicate'"});
}

// A bad value given as a file (a graph input or an overridden quantization parameter) is
// checked like the model's own, and the error names the file that brought it.
TEST_F(CliTest, BadTensorFilesNameTheFileAndTheField) {
  const std::string path = Save(ConvModel());
  struct Case {
    std::string label, name;
    Tensor tensor;
    std::vector<std::string> fragments;
  };
  const std::vector<Case> cases = {
      {"negative scale", "y_scale", Tensor::Scalar(DType::kFloat32, -1),
       {"node 'conv1' (QLinearConv)", "input 6 'y_scale'", "scale must be finite and > 0"}},
      {"NaN scale", "x_scale", Tensor::Scalar(DType::kFloat32, std::nan("")), {"input 1 'x_scale'", "scale"}},
      {"zero point type", "x_zp", Tensor::Scalar(DType::kInt8, 0), {"'x_zp'", "initializer of uint8 [] with int8 []"}},
      {"bias length", "bias", Tensor(DType::kInt32, {5}), {"'bias'", "int32 [4]", "int32 [5]"}},
      {"bias type", "bias", Tensor(DType::kInt8, {4}), {"'bias'", "int8 [4]"}},
      {"input shape", "x", Tensor(DType::kUInt8, {1, 3, 8, 9}), {"input 'x'", "expected uint8 [1,3,8,8]", "[1,3,8,9]"}},
      {"input dtype", "x", Tensor(DType::kInt8, {1, 3, 8, 8}), {"input 'x'", "got int8"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    const std::string file = dir_.File(c.name + ".pb");
    ASSERT_TRUE(WriteTensorProtoFile(file, c.name, c.tensor).ok());
    std::vector<std::string> fragments = c.fragments;
    fragments.push_back(file);
    ExpectError(RunModel(path, "--input " + file), fragments);
  }
  // A uint8 zero point of 300 in the typed int32_data field.
  onnx::TensorProto zp;
  zp.set_name("x_zp");
  zp.set_data_type(onnx::TensorProto::UINT8);
  zp.add_int32_data(300);
  std::ofstream(dir_.File("zp300.pb"), std::ios::binary) << zp.SerializeAsString();
  ExpectError(RunModel(path, "--input " + dir_.File("zp300.pb")),
              {dir_.File("zp300.pb"), "tensor 'x_zp'", "value 300", "out of range for uint8"});
  // A truncated TensorProto file.
  const Tensor x(DType::kUInt8, {1, 3, 8, 8});
  ASSERT_TRUE(WriteTensorProtoFile(dir_.File("x.pb"), "x", x).ok());
  const std::string bytes = qfarm::testing::ReadAll(dir_.File("x.pb"));
  std::ofstream(dir_.File("cut.pb"), std::ios::binary) << bytes.substr(0, bytes.size() - 10);
  ExpectError(RunModel(path, "--input " + dir_.File("cut.pb")), {dir_.File("cut.pb")});
}

}  // namespace
}  // namespace qfarm

namespace qfarm {
namespace {

// farmctl diff on the built-in models: the AVX2 path (VPMADDUBSW saturates int16 pairs) judged
// against `ort` diverges at the first QLinearMatMul on its own; against its declared avx2-u8s8
// it is bit-exact; every exact host path is bit-exact on every built-in model.
class DiffTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = qfarm::testing::Run(kFarmctl + " models --export " + dir_.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  std::string Model(const std::string& name) { return dir_.File(name + ".onnx"); }
  TempDir dir_;
};

TEST_F(DiffTest, Avx2AgainstOrtDivergesAtTheFirstMatMul) {
  if (!__builtin_cpu_supports("avx2")) GTEST_SKIP() << "no AVX2";
  auto r = qfarm::testing::Run(kFarmctl + " diff --model " + Model("mlp") + " --device host-avx2 --profile ort --layers --json");
  ASSERT_EQ(r.exit_code, 1) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["first_diverging_node"], "fc1");
  EXPECT_EQ(j["first_divergence"], "isolated");
  EXPECT_FALSE(j["bit_exact"].get<bool>());
  bool saw_inherited = false;
  for (const auto& l : j["layers"]) {
    if (l["node"] == "quant_x") {
      EXPECT_TRUE(l["bit_exact"].get<bool>());
    }
    if (l["node"] == "fc1_bias") saw_inherited = l["divergence"] == "inherited";
  }
  EXPECT_TRUE(saw_inherited);
  auto exact = qfarm::testing::Run(kFarmctl + " diff --model " + Model("mlp") + " --device host-avx2");
  EXPECT_EQ(exact.exit_code, 0) << exact.out << exact.err;
  EXPECT_NE(exact.out.find("BIT-EXACT"), std::string::npos);
}

TEST_F(DiffTest, ExactHostPathsAreBitExactOnTheSuite) {
  for (const std::string model : {"mlp", "mlp_qdq", "mobilenet_block", "mobilenet_block_qdq", "transformer_mlp"}) {
    for (const std::string device : {"host", "host-scalar"}) {
      auto r = qfarm::testing::Run(kFarmctl + " diff --model " + Model(model) + " --device " + device +
                                   " --input " + dir_.File(model + ".x.pb"));
      EXPECT_EQ(r.exit_code, 0) << model << " on " << device << ": " << r.out << r.err;
    }
  }
  auto refused = qfarm::testing::Run(kFarmctl + " run --model " + Model("mlp") + " --device host-scalar --profile avx2-u8s8");
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("cannot compute profile 'avx2-u8s8' exactly"), std::string::npos) << refused.err;
}

}  // namespace
}  // namespace qfarm

namespace qfarm {
namespace {

TEST_F(DiffTest, QemuAarch64DeviceIsBitExactOnTheSuite) {
  auto probe = qfarm::testing::Run(kFarmctl + " run --model " + Model("mlp") + " --device qemu-aarch64");
  if (probe.exit_code != 0 && probe.err.find("qemu-aarch64:") != std::string::npos) {
    GTEST_SKIP() << probe.err;
  }
  ASSERT_EQ(probe.exit_code, 0) << probe.err;
  for (const std::string model : {"mlp", "mobilenet_block", "transformer_mlp"}) {
    auto r = qfarm::testing::Run(kFarmctl + " diff --json --model " + Model(model) + " --device qemu-aarch64 --input " +
                                 dir_.File(model + ".x.pb"));
    EXPECT_EQ(r.exit_code, 0) << model << ": " << r.out << r.err;
    EXPECT_TRUE(nlohmann::json::parse(r.out)["bit_exact"].get<bool>()) << model;
  }
  // The same device judged against a profile it does not compute is refused.
  auto refused = qfarm::testing::Run(kFarmctl + " run --model " + Model("mlp") + " --device qemu-aarch64 --profile avx2-u8s8");
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("pair_sat16"), std::string::npos) << refused.err;
}

}  // namespace
}  // namespace qfarm

namespace qfarm {
namespace {

TEST(Devices, EveryDeviceReportsItsDeclaredProfileAndFingerprint) {
  auto r = qfarm::testing::Run(kFarmctl + " devices --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_GE(j.size(), 3u);  // reference, host, host-scalar at least
  std::set<std::string> names;
  for (const auto& d : j) {
    names.insert(d["name"].get<std::string>());
    EXPECT_TRUE(ParseProfile(d["declared_profile"].get<std::string>()).ok()) << d.dump();
    for (const char* key : {"cpu_model", "isa_flags", "os", "kernels_build_id"}) {
      EXPECT_FALSE(d["fingerprint"][key].get<std::string>().empty()) << d["name"] << " " << key;
    }
    if (d["name"] == "qemu-aarch64") {
      EXPECT_TRUE(d["emulated"].get<bool>());
      EXPECT_NE(d["fingerprint"]["emulator_version"].get<std::string>().find("qemu"), std::string::npos);
    }
  }
  EXPECT_TRUE(names.count("reference") && names.count("host") && names.count("host-scalar"));
}

}  // namespace
}  // namespace qfarm

namespace qfarm {
namespace {

TEST(Nightly, LocalRunStoresBitExactResultsForEveryDeviceAndTheSecondRunComparesWithTheFirst) {
  TempDir dir;
  const std::string db = dir.File("farm.db"), junit = dir.File("junit.xml");
  const std::string cmd = kFarmctl + " nightly --local --db " + db + " --junit " + junit +
                          " --warmup-s 0 --measure-s 0 --min-runs 3";
  auto r = qfarm::testing::Run(cmd);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out.find("DIVERGENT"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("FAILED"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("NON-DETERMINISTIC"), std::string::npos) << r.out;
  for (const char* d : {"host ", "host-scalar", "host-avx2"}) EXPECT_NE(r.out.find(d), std::string::npos) << d;
  EXPECT_NE(r.out.find("no earlier nightly run"), std::string::npos) << r.out;
  const std::string xml = qfarm::testing::ReadAll(junit);
  EXPECT_NE(xml.find("failures=\"0\" errors=\"0\" skipped=\"0\""), std::string::npos) << xml;
  auto stored = qfarm::testing::Run(kFarmctl + " results --run 1 --json --db " + db);
  ASSERT_EQ(stored.exit_code, 0) << stored.err;
  const auto rows = nlohmann::json::parse(stored.out);
  EXPECT_GE(rows.size(), 6u * 3);
  for (const auto& row : rows) EXPECT_EQ(row["status"], "ok") << row.dump();
  auto again = qfarm::testing::Run(cmd);
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_NE(again.out.find("compared with nightly run 1: 0 of " + std::to_string(rows.size()) + " jobs changed"),
            std::string::npos) << again.out;
}

}  // namespace
}  // namespace qfarm
