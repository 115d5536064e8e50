// Faults against the real daemons (issue: reliability): an agent killed with SIGKILL mid-job,
// a hung device, a device failing its health check, the controller killed with SIGKILL mid-run
// and restarted. Each must end with nothing lost and nothing duplicated.
#include "tests/support/farm_fixture.h"

namespace qfarm {
namespace {

using nlohmann::json;
using qfarm::testing::kFarmctl;

class DaemonFaultTest : public qfarm::testing::FarmFixture {};

TEST_F(DaemonFaultTest, AnAgentKilledMidJobLosesNothingTheJobCompletesElsewhereOnce) {
  const std::string address = StartController({"--lease-s", "1.5", "--no-health-checks"});
  auto a = StartAgent("agent-a", address, {"faulty:slow:800"});
  const std::string yaml = WriteYaml("models: [mlp.onnx]\ndevices: ['faulty:slow:800']\nrepeats: 3\ntimed_runs: 0\n");
  ASSERT_EQ(qfarm::testing::Run(kFarmctl + " submit --detach " + yaml + " --controller " + address).exit_code, 0);
  ASSERT_TRUE(a->WaitForLog("job 1:", 10)) << a->Log();
  a->Kill(SIGKILL);
  auto b = StartAgent("agent-b", address, {"faulty:slow:800"});
  const json run = WaitForRun(address, 60);
  ASSERT_TRUE(run.is_object()) << "no run to check";
  EXPECT_EQ(run["done"], 3);
  EXPECT_EQ(CountRows("SELECT count(*) FROM results"), 3);
  EXPECT_EQ(CountRows("SELECT count(DISTINCT job_id) FROM results"), 3);
  EXPECT_EQ(CountRows("SELECT count(*) FROM results WHERE device_id='agent-b/faulty:slow:800'"), 3);
  EXPECT_EQ(CountRows("SELECT attempt FROM jobs WHERE id=1"), 2) << "the killed agent's lease expired and requeued";
}

TEST_F(DaemonFaultTest, AHungDeviceIsKilledAtTheJobTimeoutAndEndsAsAnInfrastructureFailure) {
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

TEST_F(DaemonFaultTest, ADeviceFailingItsHealthCheckIsQuarantinedAndTakesNoJobs) {
  const std::string address = StartController();
  auto a = StartAgent("agent-a", address, {"host-scalar", "faulty:bitflip:fc1:0:1"});
  const std::string yaml =
      WriteYaml("models: [mlp.onnx]\ndevices: [host-scalar, 'faulty:bitflip:fc1:0:1']\ntimed_runs: 0\n");
  ASSERT_EQ(qfarm::testing::Run(kFarmctl + " submit --detach " + yaml + " --controller " + address).exit_code, 0);
  // Both health checks end (each also probes the device's arithmetic), then the healthy device's job.
  auto checked = [&](const json& status) {
    int ended = 0;
    for (const json& d : status["devices"]) ended += d["health"] != "unchecked";
    return ended == 2;
  };
  json jobs, status;
  for (int i = 0; i < 300; ++i) {
    jobs = Query("results --run 1 --controller " + address);
    status = Query("status --controller " + address);
    if (jobs.is_array() && jobs.size() == 2 && jobs[0]["state"] == "done" && checked(status)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(jobs[0]["state"], "done");
  EXPECT_EQ(jobs[1]["state"], "queued") << "a quarantined device takes no job";
  for (const json& d : status["devices"]) {
    EXPECT_EQ(d["health"], d["name"] == "host-scalar" ? "healthy" : "quarantined") << d;
  }
  EXPECT_EQ(qfarm::testing::Run(kFarmctl + " cancel 1 --controller " + address).exit_code, 0);
}

TEST_F(DaemonFaultTest, AControllerKilledMidRunRestartsAndTheRunCompletesWithNothingLostOrDuplicated) {
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
  ASSERT_TRUE(run.is_object()) << "no run to check";
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
