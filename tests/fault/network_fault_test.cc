// Traffic between agents and the controller dropped and delayed through a loopback proxy
// (tests/support/tcp_proxy.h): the run still completes with exactly one result per job.
#include "tests/support/farm_fixture.h"
#include "tests/support/tcp_proxy.h"

namespace qfarm {
namespace {

using nlohmann::json;
using qfarm::testing::kFarmctl;

class NetworkFaultTest : public qfarm::testing::FarmFixture {};

TEST_F(NetworkFaultTest, DroppedAndDelayedTrafficLosesNothingAndDuplicatesNothing) {
  const std::string address = StartController({"--lease-s", "3"});
  const int port = std::stoi(address.substr(address.rfind(':') + 1));
  const uint64_t seed = ::testing::UnitTest::GetInstance()->random_seed();
  std::printf("network fault test: proxy seed %llu\n", static_cast<unsigned long long>(seed));
  qfarm::testing::TcpProxy proxy(port, /*drop=*/0.03, /*delay_ms=*/20, seed);
  const std::string via = "127.0.0.1:" + std::to_string(proxy.port());
  auto a = StartAgent("agent-a", via, {"host-scalar"});
  auto b = StartAgent("agent-b", via, {"host-scalar", "host"});
  const std::string yaml = WriteYaml("models: [mlp.onnx, mobilenet_block.onnx]\ndevices: [host-scalar, host]\n"
                                     "repeats: 6\ntimed_runs: 0\n");
  ASSERT_EQ(qfarm::testing::Run(kFarmctl + " submit --detach " + yaml + " --controller " + address).exit_code, 0);
  const json run = WaitForRun(address, 120);
  ASSERT_TRUE(run.is_object()) << "no run to check";
  EXPECT_EQ(run["done"], 24) << run.dump();
  EXPECT_EQ(CountRows("SELECT count(*) FROM results"), 24);
  EXPECT_EQ(CountRows("SELECT count(DISTINCT job_id) FROM results"), 24);
  std::printf("network fault test: %lld of %lld chunks killed their connection\n",
              static_cast<long long>(proxy.dropped()), static_cast<long long>(proxy.chunks()));
  EXPECT_GT(proxy.dropped(), 0) << "the proxy injected no fault";
}

}  // namespace
}  // namespace qfarm
