// Authentication and transport security against the real daemons: per-agent tokens (an agent
// only as itself; revocation stops it), operator tokens for state changes (reads stay open),
// TLS with a local CA (scripts/make_test_ca.sh): plaintext and a wrong CA are refused, and
// without TLS the controller will not listen beyond loopback unless told to.
#include "tests/support/farm_fixture.h"

namespace qfarm {
namespace {

using nlohmann::json;
using qfarm::testing::kBin;
using qfarm::testing::kFarmctl;
using Cmd = qfarm::testing::CommandResult;
Cmd Sh(const std::string& command) { return qfarm::testing::Run(command); }

class SecurityTest : public qfarm::testing::FarmFixture {
 protected:
  std::string Issue(const std::string& name, const std::string& role) {
    auto r = Sh(kBin + "/controller/farm-controller --db " + dir_.File("farm.db") + " --issue-token " + name +
                 " --role " + role);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const std::string path = dir_.File(name + ".token");
    std::ofstream(path) << r.out;
    return path;
  }
};

TEST_F(SecurityTest, TokensGateAgentsAndStateChangesAndRevocationStopsAnAgent) {
  const std::string agent_token = Issue("agent-a", "agent"), other_token = Issue("agent-b", "agent");
  const std::string operator_token = Issue("ops", "operator");
  const std::string address = StartController();
  EXPECT_NE(controller_->Log().find("tokens required"), std::string::npos);
  const std::string yaml = WriteYaml("models: [mlp.onnx]\ndevices: [host-scalar]\ntimed_runs: 0\n");
  auto anonymous = Sh(kFarmctl + " submit " + yaml + " --controller " + address);
  EXPECT_EQ(anonymous.exit_code, 2);
  EXPECT_NE(anonymous.err.find("an operator token is required"), std::string::npos) << "[" << anonymous.err << "]";
  auto wrong_role = Sh(kFarmctl + " submit " + yaml + " --controller " + address + " --token-file " + agent_token);
  EXPECT_EQ(wrong_role.exit_code, 2);
  EXPECT_NE(wrong_role.err.find("is an agent token, not operator"), std::string::npos) << wrong_role.err;
  // An agent with another agent's token is refused and exits with one error line.
  auto impostor = StartAgent("agent-a", address, {"host-scalar"});
  (void)impostor;
  auto r = Sh(kBin + "/agent/farm-agent --controller " + address + " --name agent-a --device host-scalar --work-dir " +
               dir_.File("x") + " --token-file " + other_token);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("cannot act as agent 'agent-a'"), std::string::npos) << r.err;
  impostor.reset();
  auto agent = std::make_unique<qfarm::testing::Process>(
      std::vector<std::string>{kBin + "/agent/farm-agent", "--controller", address, "--name", "agent-a", "--device",
                               "host-scalar", "--work-dir", dir_.File("a"), "--token-file", agent_token, "--poll-s", "0.05"},
      dir_.File("agent-a.log"));
  auto ok = Sh(kFarmctl + " submit " + yaml + " --controller " + address + " --token-file " + operator_token);
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(Query("runs --controller " + address).size(), 1u) << "reads need no token";
  ASSERT_EQ(Sh(kBin + "/controller/farm-controller --db " + dir_.File("farm.db") + " --revoke-token agent-a").exit_code, 0);
  EXPECT_TRUE(agent->WaitForLog("was revoked", 15)) << agent->Log();
  auto after = Sh(kFarmctl + " cancel 1 --controller " + address + " --token-file " + operator_token);
  EXPECT_EQ(after.exit_code, 2) << "run 1 is done: cancel says so";
  EXPECT_NE(after.err.find("already done"), std::string::npos) << after.err;
}

TEST_F(SecurityTest, TlsWithALocalCaAndRefusalsOfPlaintextAndOtherCas) {
  ASSERT_EQ(Sh(std::string(QFARM_SOURCE_DIR) + "/scripts/make_test_ca.sh " + dir_.File("ca")).exit_code, 0);
  const std::string address = StartController({"--tls-cert", dir_.File("ca/server.pem"), "--tls-key",
                                               dir_.File("ca/server.key"), "--http", "127.0.0.1:0"});
  EXPECT_NE(controller_->Log().find(", TLS,"), std::string::npos) << controller_->Log();
  // The dashboard is HTTPS with the same certificate: verified against the CA it answers, plain HTTP gets nothing.
  ASSERT_TRUE(controller_->WaitForLog("dashboard on https://", 5)) << controller_->Log();
  std::smatch m;
  const std::string log = controller_->Log();
  ASSERT_TRUE(std::regex_search(log, m, std::regex("dashboard on https://([0-9.]+:[0-9]+)/")));
  const std::string https = m[1];
  auto get = Sh("printf 'GET /api/runs HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n' | openssl s_client -quiet "
                "-verify_return_error -CAfile " + dir_.File("ca/ca.pem") + " -connect " + https + " 2>/dev/null");
  EXPECT_NE(get.out.find("200 OK"), std::string::npos) << get.out << get.err;
  auto wrong_ca = Sh("printf 'GET /api/runs HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n' | openssl s_client -quiet "
                     "-verify_return_error -CAfile " + dir_.File("ca/other-ca.pem") + " -connect " + https + " 2>/dev/null");
  EXPECT_EQ(wrong_ca.out.find("200 OK"), std::string::npos) << wrong_ca.out;
  auto agent = std::make_unique<qfarm::testing::Process>(
      std::vector<std::string>{kBin + "/agent/farm-agent", "--controller", address, "--name", "agent-a", "--device",
                               "host-scalar", "--work-dir", dir_.File("a"), "--tls-ca", dir_.File("ca/ca.pem"), "--poll-s", "0.05"},
      dir_.File("agent-a.log"));
  const std::string yaml = WriteYaml("models: [mlp.onnx]\ndevices: [host-scalar]\ntimed_runs: 0\n");
  auto ok = Sh(kFarmctl + " submit " + yaml + " --wait-timeout-s 60 --controller " + address + " --tls-ca " + dir_.File("ca/ca.pem"));
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err << controller_->Log() << address;
  for (const std::string& extra : {std::string(""), " --tls-ca " + dir_.File("ca/other-ca.pem")}) {
    auto refused = Sh(kFarmctl + " runs --controller " + address + extra);
    EXPECT_EQ(refused.exit_code, 2) << extra;
    EXPECT_EQ(qfarm::testing::CountLines(refused.err), 1) << refused.err;
  }
}

TEST_F(SecurityTest, WithoutTlsTheControllerListensOnlyOnLoopbackUnlessTold) {
  auto r = Sh(kBin + "/controller/farm-controller --db " + dir_.File("farm.db") + " --listen 0.0.0.0:0");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("listens only on loopback"), std::string::npos) << r.err;
  auto http = Sh(kBin + "/controller/farm-controller --db " + dir_.File("farm.db") + " --http 0.0.0.0:0");
  EXPECT_EQ(http.exit_code, 2);
  qfarm::testing::Process insecure({kBin + "/controller/farm-controller", "--db", dir_.File("farm.db"), "--listen",
                                    "0.0.0.0:0", "--insecure"}, dir_.File("insecure.log"));
  EXPECT_TRUE(insecure.WaitForLog("WARNING: no TLS on a non-loopback address", 10)) << insecure.Log();
}

}  // namespace
}  // namespace qfarm
