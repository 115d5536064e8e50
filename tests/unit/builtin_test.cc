// The built-in suite: valid, deterministic, profile-sensitive, and its QDQ forms fuse into the
// integer ops and compute what the QOperator forms compute.
#include <gtest/gtest.h>

#include <set>

#include "model/builtin.h"
#include "model/onnx/onnx_io.h"
#include "model/qdq_fusion.h"
#include "model/validate.h"
#include "reference/executor.h"

namespace qfarm {
namespace {

const BuiltinModel& Find(const std::vector<BuiltinModel>& suite, const std::string& name) {
  for (const BuiltinModel& m : suite) if (m.name == name) return m;
  throw std::runtime_error("no model " + name);
}

TEST(Builtin, SixModelsValidateAndRunDeterministicallyUnderEveryProfile) {
  const auto suite = BuiltinSuite();
  ASSERT_EQ(suite.size(), 6u);
  const auto again = BuiltinSuite();
  for (size_t i = 0; i < suite.size(); ++i) {
    const BuiltinModel& m = suite[i];
    ASSERT_TRUE(Validate(m.graph).ok()) << m.name << ": " << Validate(m.graph).status().message();
    // Built twice, byte for byte the same model (serialized) and the same inputs.
    EXPECT_EQ(*SerializeOnnxModel(m.graph), *SerializeOnnxModel(again[i].graph)) << m.name;
    EXPECT_EQ(m.sample_inputs.at("x"), again[i].sample_inputs.at("x"));
    for (const NamedProfile& np : NamedProfiles()) {
      const Graph g = FuseQdq(m.graph, nullptr);
      auto a = RunReference(g, *ParseProfile(np.name), m.sample_inputs);
      auto b = RunReference(g, *ParseProfile(np.name), m.sample_inputs);
      ASSERT_TRUE(a.ok()) << m.name << "/" << np.name << ": " << a.status().message();
      EXPECT_EQ(a->outputs.at("y"), b->outputs.at("y")) << m.name << "/" << np.name;
    }
  }
}

TEST(Builtin, ProfilesThatShouldDifferDo) {
  const auto suite = BuiltinSuite();
  auto y = [&](const std::string& model, const std::string& profile) {
    const BuiltinModel& m = Find(suite, model);
    return RunReference(m.graph, *ParseProfile(profile), m.sample_inputs)->outputs.at("y");
  };
  EXPECT_NE(y("mlp", "onnx"), y("mlp", "tflite"));
  EXPECT_NE(y("mlp", "ort"), y("mlp", "avx2-u8s8"));
  EXPECT_NE(y("mobilenet_block", "ort"), y("mobilenet_block", "avx2-u8s8"));
  EXPECT_NE(y("mobilenet_block", "tflite"), y("mobilenet_block", "tflite-single"));
  EXPECT_EQ(y("mlp", "ort"), y("mlp", "xnnpack-fp32"));  // the same text form
}

TEST(Builtin, QdqFormsFuseAndMatchTheQOperatorForms) {
  const auto suite = BuiltinSuite();
  struct Want { std::string model; std::multiset<std::string> ops; };
  const Want wants[] = {
      {"mlp_qdq", {"QLinearMatMul", "QLinearMatMul", "QLinearAdd"}},
      {"mobilenet_block_qdq", {"QLinearConv", "QLinearConv", "QLinearConv", "QLinearAdd",
                               "QLinearAveragePool", "QLinearAveragePool"}},
      {"transformer_mlp_qdq", {}},  // DynamicQuantizeLinear→DQ→MatMul has no Q after it: stays float
  };
  for (const Want& w : wants) {
    std::vector<FusionRecord> records;
    const Graph fused = FuseQdq(Find(suite, w.model).graph, &records);
    std::multiset<std::string> ops;
    for (const FusionRecord& r : records) ops.insert(r.op_type);
    EXPECT_EQ(ops, w.ops) << w.model;
    ASSERT_TRUE(Validate(fused).ok()) << w.model;
  }
  // Where the fused ops are the QOperator ops, the outputs are identical under every profile.
  for (const std::string name : {"mlp", "mobilenet_block"}) {
    const BuiltinModel& qop = Find(suite, name);
    const BuiltinModel& qdq = Find(suite, name + "_qdq");
    const Graph fused = FuseQdq(qdq.graph, nullptr);
    for (const NamedProfile& np : NamedProfiles()) {
      const Profile p = *ParseProfile(np.name);
      EXPECT_EQ(RunReference(qop.graph, p, qop.sample_inputs)->outputs.at("y"),
                RunReference(fused, p, qdq.sample_inputs)->outputs.at("y")) << name << "/" << np.name;
    }
  }
}

TEST(Builtin, RoundTripsThroughOnnxFiles) {
  for (const BuiltinModel& m : BuiltinSuite()) {
    auto bytes = SerializeOnnxModel(m.graph);
    ASSERT_TRUE(bytes.ok());
    auto back = ParseOnnxModel(*bytes, m.name + ".onnx");
    ASSERT_TRUE(back.ok()) << back.status().message();
    const Profile p = *ParseProfile("tflite");
    EXPECT_EQ(RunReference(m.graph, p, m.sample_inputs)->outputs.at("y"),
              RunReference(*back, p, m.sample_inputs)->outputs.at("y")) << m.name;
  }
}

}  // namespace
}  // namespace qfarm
