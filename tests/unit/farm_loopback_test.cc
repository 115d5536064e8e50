// The farm end to end on loopback, with the real programs: farm-controller, two farm-agent
// daemons and farmctl. A matrix runs to completion and every stored result equals what
// `farmctl diff` says for the same job; tensor files travel as blobs; bad run files are refused.
// (Faults: tests/fault/.)
#include "tests/support/farm_fixture.h"

namespace qfarm {
namespace {

using nlohmann::json;
using qfarm::testing::kFarmctl;

class FarmLoopbackTest : public qfarm::testing::FarmFixture {};

TEST_F(FarmLoopbackTest, TwoAgentsRunAMatrixAndStoredResultsEqualFarmctlDiff) {
  const std::string address = StartController();
  auto a = StartAgent("agent-a", address, {"host-scalar", "host"});
  auto b = StartAgent("agent-b", address, {"host-avx2", "host"});
  const std::string yaml = WriteYaml(
      "name: matrix\nmodels: [mlp.onnx, mobilenet_block.onnx]\ndevices: [host-scalar, host-avx2, host]\n"
      "profiles: [declared, ort]\ninputs: [{seed: 3}, {seed: 4}]\ntimed_runs: 3\nwarmup_runs: 1\n"
      "warmup_s: 0\nmeasure_s: 0\n");
  auto submit = qfarm::testing::Run(kFarmctl + " submit " + yaml + " --controller " + address);
  ASSERT_EQ(submit.exit_code, 1) << "host-avx2 under ort diverges: " << submit.out << submit.err;
  const json results = Query("results --run 1 --controller " + address);
  ASSERT_EQ(results.size(), 2u * 3 * 2 * 2);
  std::set<std::string> agents;
  int divergent = 0;
  for (const json& r : results) {
    ASSERT_EQ(r["state"], "done") << r.dump();
    agents.insert(r["device_id"].get<std::string>().substr(0, 7));
    const std::string model = dir_.File("models/" + r["model"].get<std::string>() + ".onnx");
    const json in = json::parse(r["inputs"].get<std::string>());
    std::string cmd = kFarmctl + " diff --json --model " + model + " --device " + r["device"].get<std::string>() +
                      " --seed " + in["seed"].dump();
    if (r["profile"] != "declared") cmd += " --profile " + r["profile"].get<std::string>();
    auto diff = qfarm::testing::Run(cmd);
    const json d = json::parse(diff.out, nullptr, false);
    ASSERT_FALSE(d.is_discarded()) << cmd << "\n" << diff.err;
    SCOPED_TRACE(cmd);
    EXPECT_EQ(r["status"] == "ok", d["bit_exact"].get<bool>() && d["deterministic"].get<bool>());
    EXPECT_EQ(r["profile_text"], d["emulator_profile"]);
    EXPECT_EQ(r["first_diverging_node"], d["first_diverging_node"].is_null() ? json("") : d["first_diverging_node"]);
    int64_t mismatches = 0;
    const json hashes = json::parse(r["output_sha256"].get<std::string>());
    for (const json& o : d["outputs"]) {
      mismatches += o["mismatches"].get<int64_t>();
      EXPECT_EQ(hashes[o["name"].get<std::string>()], o["sha256"]);
    }
    EXPECT_EQ(r["mismatches"], mismatches);
    divergent += r["status"] == "divergent";
    EXPECT_FALSE(r["p50_ms"].is_null());
  }
  EXPECT_EQ(agents, (std::set<std::string>{"agent-a", "agent-b"}));
  EXPECT_GT(divergent, 0);
  auto junit = qfarm::testing::Run(kFarmctl + " report --run 1 --junit " + dir_.File("j.xml") + " --controller " + address);
  EXPECT_EQ(junit.exit_code, 1);
  const std::string xml = qfarm::testing::ReadAll(dir_.File("j.xml"));
  EXPECT_NE(xml.find("tests=\"24\" failures=\"" + std::to_string(divergent) + "\" errors=\"0\""), std::string::npos) << xml;
  // Health checks took each device's arithmetic fingerprint: the AVX2 path saturates int16 pairs.
  const json status = Query("status --controller " + address);
  for (const json& d : status["devices"]) {
    const std::string arith = d["arith_fingerprint"].get<std::string>();
    if (d["name"] == "host-avx2") {
      EXPECT_NE(arith.find("pair_sat16=on;"), std::string::npos) << arith;
    }
    if (d["name"] == "host-scalar") {
      EXPECT_NE(arith.find("pair_sat16=off;"), std::string::npos) << arith;
    }
    EXPECT_NE(arith.find("rounding=half_even"), std::string::npos) << arith;
  }
  // The same answers straight from the database.
  auto local = qfarm::testing::Run(kFarmctl + " results --run 1 --json --db " + dir_.File("farm.db"));
  EXPECT_EQ(json::parse(local.out), results);
}

}  // namespace
}  // namespace qfarm

namespace qfarm {
namespace {

TEST_F(FarmLoopbackTest, TensorFileInputsTravelAsBlobsAndGiveWhatFarmctlDiffGives) {
  const std::string address = StartController();
  auto a = StartAgent("agent-a", address, {"host-avx2"});
  const std::string yaml = WriteYaml("models: [mlp.onnx]\ndevices: [host-avx2]\nprofiles: [ort]\n"
                                     "inputs: [{files: [mlp.x.pb]}]\ntimed_runs: 0\n");
  auto submit = qfarm::testing::Run(kFarmctl + " submit " + yaml + " --controller " + address);
  ASSERT_LE(submit.exit_code, 1) << submit.err;
  const json results = Query("results --run 1 --controller " + address);
  ASSERT_EQ(results.size(), 1u);
  auto diff = qfarm::testing::Run(kFarmctl + " diff --json --model " + dir_.File("models/mlp.onnx") +
                                  " --device host-avx2 --profile ort --input " + dir_.File("models/mlp.x.pb"));
  const json d = json::parse(diff.out);
  const json hashes = json::parse(results[0]["output_sha256"].get<std::string>());
  for (const json& o : d["outputs"]) EXPECT_EQ(hashes[o["name"].get<std::string>()], o["sha256"]);
  EXPECT_EQ(results[0]["status"] == "ok", d["bit_exact"].get<bool>());
  // A seed gives other inputs, hence other output bytes: the files really were used.
  auto seeded = qfarm::testing::Run(kFarmctl + " diff --json --model " + dir_.File("models/mlp.onnx") +
                                    " --device host-avx2 --profile ort --seed 1");
  EXPECT_NE(json::parse(seeded.out)["outputs"][0]["sha256"], d["outputs"][0]["sha256"]);
}

TEST_F(FarmLoopbackTest, BadRunFilesAreRefusedWithOneLineNamingTheFileAndNothingIsSubmitted) {
  const std::string address = StartController();
  struct Case {
    std::string yaml, expect;
  };
  const std::vector<Case> cases = {
      {"models: [mlp.onnx\n", "run.yaml:"},
      {"models: [mlp.onnx]\ndevices: [host]\nbogus: 1\n", "run.yaml:3: bogus: unknown field"},
      {"models: [missing.onnx]\ndevices: [host]\n", "missing.onnx"},
      {"models: [mlp.x.pb]\ndevices: [host]\n", "mlp.x.pb"},
      {"models: [mlp.onnx]\ndevices: [host]\nprofiles: [rounding=sideways]\n", "rounding"},
      {"models: [mlp.onnx]\ndevices: [host]\nrepeats: -2\n", "run.yaml:3: repeats: must be in"},
      {"models: [mlp.onnx]\ndevices: [host]\ninputs: [{files: [nope.pb]}]\n", "nope.pb"},
      {"models: [builtin:resnet900]\ndevices: [host]\n", "not a built-in model"},
      {"devices: [host]\n", "models: a non-empty list"},
  };
  for (const Case& c : cases) {
    auto r = qfarm::testing::Run(kFarmctl + " submit " + WriteYaml(c.yaml) + " --controller " + address);
    EXPECT_EQ(r.exit_code, 2) << c.yaml;
    EXPECT_EQ(qfarm::testing::CountLines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << c.yaml << " -> " << r.err;
  }
  EXPECT_EQ(Query("runs --controller " + address).size(), 0u);
  auto down = qfarm::testing::Run(kFarmctl + " runs --controller 127.0.0.1:1");
  EXPECT_EQ(down.exit_code, 2);
  EXPECT_NE(down.err.find("127.0.0.1:1"), std::string::npos) << down.err;
}

}  // namespace
}  // namespace qfarm
