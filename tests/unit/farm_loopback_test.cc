// The farm end to end on loopback, with the real programs: farm-controller, two farm-agent
// daemons and farmctl. A matrix runs to completion and every stored result equals what
// `farmctl diff` says for the same job; an agent killed mid-job, a hung device, a device that
// fails its health check and a controller killed mid-run each end as DESIGN.md says.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <regex>
#include <thread>

#include "controller/store.h"
#include "tests/support/process.h"
#include "tests/support/test_util.h"

namespace qfarm {
namespace {

using nlohmann::json;
using qfarm::testing::Process;
using qfarm::testing::TempDir;

const std::string kBin = QFARM_BINARY_DIR;
const std::string kFarmctl = kBin + "/cli/farmctl";

class FarmLoopbackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(qfarm::testing::Run(kFarmctl + " models --export " + dir_.File("models")).exit_code, 0);
  }

  // Starts farm-controller on a free port (or `port`) and returns its address.
  std::string StartController(const std::vector<std::string>& extra = {}, int port = 0) {
    std::vector<std::string> argv = {kBin + "/controller/farm-controller", "--db", dir_.File("farm.db"), "--listen",
                                     "127.0.0.1:" + std::to_string(port)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    controller_ = std::make_unique<Process>(argv, dir_.File("controller.log"));
    EXPECT_TRUE(controller_->WaitForLog("listening on", 10)) << controller_->Log();
    std::smatch m;
    const std::string log = controller_->Log();
    std::regex re("listening on ([0-9.]+:[0-9]+)");
    std::string last;
    for (auto it = std::sregex_iterator(log.begin(), log.end(), re); it != std::sregex_iterator(); ++it) last = (*it)[1];
    return last;
  }

  std::unique_ptr<Process> StartAgent(const std::string& name, const std::string& address,
                                      const std::vector<std::string>& devices) {
    std::vector<std::string> argv = {kBin + "/agent/farm-agent", "--controller", address, "--name", name,
                                     "--work-dir", dir_.File(name), "--poll-s", "0.05"};
    for (const std::string& d : devices) {
      argv.push_back("--device");
      argv.push_back(d);
    }
    return std::make_unique<Process>(argv, dir_.File(name + ".log"));
  }

  std::string WriteYaml(const std::string& text) {
    const std::string path = dir_.File("models/run.yaml");
    std::ofstream(path) << text;
    return path;
  }

  json Query(const std::string& args) {
    auto r = qfarm::testing::Run(kFarmctl + " " + args + " --json");
    EXPECT_LE(r.exit_code, 3) << r.err;
    return json::parse(r.out, nullptr, false);
  }

  // Waits until run 1 is no longer running.
  json WaitForRun(const std::string& address, double timeout_s) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    while (std::chrono::steady_clock::now() < end) {
      json runs = Query("runs --controller " + address);
      if (runs.is_array() && !runs.empty() && runs[0]["state"] != "running") return runs[0];
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "run did not finish in " << timeout_s << " s";
    return json();
  }

  int64_t CountRows(const std::string& sql) {
    auto store = controller::Store::Open(dir_.File("farm.db"));
    return (*store)->WithDb([&](controller::Db& db) {
      controller::Stmt s(db, sql);
      s.Step();
      return s.Int(0);
    });
  }

  TempDir dir_;
  std::unique_ptr<Process> controller_;
};

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
  // The same answers straight from the database.
  auto local = qfarm::testing::Run(kFarmctl + " results --run 1 --json --db " + dir_.File("farm.db"));
  EXPECT_EQ(json::parse(local.out), results);
}

TEST_F(FarmLoopbackTest, AnAgentKilledMidJobLosesNothingTheJobCompletesElsewhereOnce) {
  const std::string address = StartController({"--lease-s", "1.5", "--no-health-checks"});
  auto a = StartAgent("agent-a", address, {"faulty:slow:800"});
  const std::string yaml = WriteYaml("models: [mlp.onnx]\ndevices: ['faulty:slow:800']\nrepeats: 3\ntimed_runs: 0\n");
  ASSERT_EQ(qfarm::testing::Run(kFarmctl + " submit --detach " + yaml + " --controller " + address).exit_code, 0);
  ASSERT_TRUE(a->WaitForLog("job 1:", 10)) << a->Log();
  a->Kill(SIGKILL);
  auto b = StartAgent("agent-b", address, {"faulty:slow:800"});
  const json run = WaitForRun(address, 60);
  EXPECT_EQ(run["done"], 3);
  EXPECT_EQ(CountRows("SELECT count(*) FROM results"), 3);
  EXPECT_EQ(CountRows("SELECT count(DISTINCT job_id) FROM results"), 3);
  EXPECT_EQ(CountRows("SELECT count(*) FROM results WHERE device_id='agent-b/faulty:slow:800'"), 3);
  EXPECT_EQ(CountRows("SELECT attempt FROM jobs WHERE id=1"), 2) << "the killed agent's lease expired and requeued";
}

TEST_F(FarmLoopbackTest, AHungDeviceIsKilledAtTheJobTimeoutAndEndsAsAnInfrastructureFailure) {
  const std::string address = StartController({"--no-health-checks"});
  auto a = StartAgent("agent-a", address, {"faulty:hang"});
  const std::string yaml =
      WriteYaml("models: [mlp.onnx]\ndevices: ['faulty:hang']\ntimeout_s: 1\nmax_attempts: 2\ntimed_runs: 0\n");
  auto submit = qfarm::testing::Run(kFarmctl + " submit " + yaml + " --controller " + address);
  EXPECT_EQ(submit.exit_code, 3) << submit.out << submit.err;
  const json results = Query("results --run 1 --controller " + address);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0]["state"], "failed");
  EXPECT_EQ(results[0]["attempt"], 2);
  EXPECT_NE(results[0]["error"].get<std::string>().find("the device hung; killed"), std::string::npos) << results[0];
  auto junit = qfarm::testing::Run(kFarmctl + " report --run 1 --junit " + dir_.File("j.xml") + " --controller " + address);
  EXPECT_EQ(junit.exit_code, 3);
  EXPECT_NE(qfarm::testing::ReadAll(dir_.File("j.xml")).find("errors=\"1\""), std::string::npos);
}

TEST_F(FarmLoopbackTest, ADeviceFailingItsHealthCheckIsQuarantinedAndTakesNoJobs) {
  const std::string address = StartController();
  auto a = StartAgent("agent-a", address, {"host-scalar", "faulty:bitflip:fc1:0:1"});
  const std::string yaml =
      WriteYaml("models: [mlp.onnx]\ndevices: [host-scalar, 'faulty:bitflip:fc1:0:1']\ntimed_runs: 0\n");
  ASSERT_EQ(qfarm::testing::Run(kFarmctl + " submit --detach " + yaml + " --controller " + address).exit_code, 0);
  json jobs;
  for (int i = 0; i < 100; ++i) {
    jobs = Query("results --run 1 --controller " + address);
    if (jobs.is_array() && jobs.size() == 2 && jobs[0]["state"] == "done") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(jobs[0]["state"], "done");
  EXPECT_EQ(jobs[1]["state"], "queued") << "a quarantined device takes no job";
  const json status = Query("status --controller " + address);
  for (const json& d : status["devices"]) {
    EXPECT_EQ(d["health"], d["name"] == "host-scalar" ? "healthy" : "quarantined") << d;
  }
  EXPECT_EQ(qfarm::testing::Run(kFarmctl + " cancel 1 --controller " + address).exit_code, 0);
}

TEST_F(FarmLoopbackTest, AControllerKilledMidRunRestartsAndTheRunCompletesWithNothingLostOrDuplicated) {
  std::string address = StartController({"--no-health-checks"});
  const int port = std::stoi(address.substr(address.rfind(':') + 1));
  auto a = StartAgent("agent-a", address, {"faulty:slow:150"});
  const std::string yaml = WriteYaml("models: [mlp.onnx]\ndevices: ['faulty:slow:150']\nrepeats: 12\ntimed_runs: 0\n");
  ASSERT_EQ(qfarm::testing::Run(kFarmctl + " submit --detach " + yaml + " --controller " + address).exit_code, 0);
  ASSERT_TRUE(a->WaitForLog("job 3:", 20)) << a->Log();
  controller_->Kill(SIGKILL);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  address = StartController({"--no-health-checks"}, port);
  const json run = WaitForRun(address, 60);
  EXPECT_EQ(run["done"], 12);
  EXPECT_EQ(CountRows("SELECT count(*) FROM results"), 12);
  EXPECT_EQ(CountRows("SELECT count(DISTINCT job_id) FROM results"), 12);
  auto store = controller::Store::Open(dir_.File("farm.db"));
  EXPECT_EQ((*store)->WithDb([](controller::Db& db) {
    controller::Stmt s(db, "PRAGMA integrity_check");
    s.Step();
    return s.Text(0);
  }), "ok");
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
