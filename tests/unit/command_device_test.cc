// command:<path> devices: the job-directory protocol with small shell runners (good, failing,
// malformed, hostile), and ONNX Runtime (examples/ort-runner) as a real third-party device.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "agent/diff.h"
#include "model/builtin.h"
#include "tests/support/models.h"
#include "model/qdq_fusion.h"
#include "tests/support/test_util.h"

namespace qfarm {
namespace {

const BuiltinModel& Model(const std::string& name) { return qfarm::testing::Builtin(name); }

std::string Script(const qfarm::testing::TempDir& dir, const std::string& name, const std::string& body) {
  const std::string path = dir.File(name);
  std::ofstream(path) << "#!/usr/bin/env bash\n" << body;
  std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  return path;
}

TEST(CommandDevice, FailingMalformedAndHostileRunnersAreDeviceErrors) {
  qfarm::testing::TempDir dir;
  const BuiltinModel& m = Model("mlp");
  struct Case { std::string body, fragment; };
  const Case cases[] = {
      {"[ \"$1\" = --describe ] && exit 1\necho 'the NPU is not attached' >&2; exit 3\n", "exited with status 3: the NPU is not attached"},
      {"[ \"$1\" = --describe ] && exit 1\necho '{\"outputs\": 5}' > \"$1/result.json\"\n", "result.json is not valid"},
      {"[ \"$1\" = --describe ] && exit 1\necho '{\"outputs\": [{\"name\": \"y\", \"file\": \"../../etc/passwd\"}]}' > \"$1/result.json\"\n",
       "outside the job directory"},
      {"[ \"$1\" = --describe ] && exit 1\necho '{\"outputs\": []}' > \"$1/result.json\"\n", "no output 'y'"},
  };
  int i = 0;
  for (const Case& c : cases) {
    auto dev = OpenDevice("command:" + Script(dir, "runner" + std::to_string(i++), c.body));
    ASSERT_TRUE(dev.ok()) << dev.status().message();
    auto r = (*dev)->Run(m.graph, *ParseProfile("onnx"), m.sample_inputs, {});
    ASSERT_FALSE(r.ok()) << c.body;
    EXPECT_NE(r.status().message().find(c.fragment), std::string::npos) << r.status().message();
  }
  EXPECT_FALSE(OpenDevice("command:" + dir.File("missing")).ok());
}

TEST(CommandDevice, EchoRunnerReturningTheInputsOutputsThroughTheProtocol) {
  // A runner that answers with a file it was given: checks job.json, inputs and result parsing.
  qfarm::testing::TempDir dir;
  const std::string runner = Script(dir, "echo", R"(
if [ "$1" = --describe ]; then echo '{"declared_profile": "tflite", "description": "echo"}'; exit 0; fi
cp "$1/inputs/0.npy" "$1/outputs/0.npy"
echo '{"outputs": [{"name": "y", "file": "outputs/0.npy"}], "timings_ms": [0.1]}' > "$1/result.json"
)");
  auto dev = OpenDevice("command:" + runner);
  ASSERT_TRUE(dev.ok());
  EXPECT_EQ((*dev)->info().declared_profile, "tflite");
  EXPECT_FALSE((*dev)->Computes(*ParseProfile("onnx"), nullptr));
  Graph g = Model("mlp").graph;  // y is [1,10] float; give x as [1,10] float to echo back
  const Tensor x = Tensor::FromDoubles(DType::kFloat32, {1, 10}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  auto r = (*dev)->Run(g, *ParseProfile("tflite"), {{"x", x}}, {});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->outputs.at("y"), x);
}

std::string OrtRunner() {
  const std::string dir = std::string(QFARM_SOURCE_DIR) + "/examples/ort-runner";
  if (!std::filesystem::exists(dir + "/node_modules/onnxruntime-node")) return "";
  if (qfarm::testing::Run("node --version").exit_code != 0) return "";
  return dir + "/qfarm-ort-runner";
}

TEST(CommandDevice, OnnxRuntimeRunsTheSuite) {
  const std::string runner = OrtRunner();
  if (runner.empty()) GTEST_SKIP() << "onnxruntime-node not installed (scripts/setup.sh installs it)";
  auto dev = OpenDevice("command:" + runner);
  ASSERT_TRUE(dev.ok()) << dev.status().message();
  EXPECT_EQ((*dev)->info().declared_profile, "ort");
  const Profile ort = *ParseProfile("ort");
  for (const std::string name : {"mlp", "mlp_qdq", "mobilenet_block", "transformer_mlp"}) {
    const BuiltinModel& m = Model(name);
    auto r = Diff(**dev, FuseQdq(m.graph, nullptr), ort, ort, m.sample_inputs);
    ASSERT_TRUE(r.ok()) << name << ": " << r.status().message();
    EXPECT_TRUE(r->deterministic) << name;
    // Measured with onnxruntime-node 1.30.0 on x86-64: every node of these models, QLinearAdd
    // included (MLAS's FMA chain, emulated by the `ort` profile), is bit-exact.
    EXPECT_TRUE(r->bit_exact) << name << " first diverging node " << r->first_node;
    EXPECT_EQ(r->first_node, "") << name << ": " << r->attribution;
  }
}

}  // namespace
}  // namespace qfarm
