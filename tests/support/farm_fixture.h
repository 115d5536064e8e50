// A farm on loopback for end-to-end tests: the real farm-controller and farm-agent programs in a
// temp directory with the built-in models exported, and farmctl to drive them.
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <regex>
#include <thread>

#include "controller/store.h"
#include "tests/support/process.h"
#include "tests/support/test_util.h"

namespace qfarm::testing {

using nlohmann::json;

const std::string kBin = QFARM_BINARY_DIR;
const std::string kFarmctl = kBin + "/cli/farmctl";

class FarmFixture : public ::testing::Test {
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
    logs_.push_back(dir_.File(name + ".log"));
    return std::make_unique<Process>(argv, logs_.back());
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

  // Waits until run 1 is no longer running; null (and a failure saying what was stuck) if it does
  // not within timeout_s.
  json WaitForRun(const std::string& address, double timeout_s) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    while (std::chrono::steady_clock::now() < end) {
      json runs = Query("runs --controller " + address);
      if (runs.is_array() && !runs.empty() && runs[0]["state"] != "running") return runs[0];
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "run did not finish in " << timeout_s << " s\n" << Diagnosis();
    return json();
  }

  // What a stuck run leaves to read: the jobs not done and the end of every daemon's log.
  std::string Diagnosis() {
    std::string out = "jobs not done (id device state attempt lease_device lease_deadline error):\n";
    auto store = controller::Store::Open(dir_.File("farm.db"));
    if (store.ok()) {
      (*store)->WithDb([&](controller::Db& db) {
        controller::Stmt s(db, "SELECT id, device, state, attempt, ifnull(lease_device,''), ifnull(lease_deadline,0), "
                               "ifnull(error,'') FROM jobs WHERE state != 'done'");
        while (s.Step()) {
          out += "  " + std::to_string(s.Int(0)) + " " + s.Text(1) + " " + s.Text(2) + " " + std::to_string(s.Int(3)) +
                 " " + s.Text(4) + " " + std::to_string(s.Double(5)) + " " + s.Text(6) + "\n";
        }
        return 0;
      });
    }
    std::vector<std::string> logs = logs_;
    logs.insert(logs.begin(), dir_.File("controller.log"));
    for (const std::string& path : logs) out += "--- last lines of " + path + ":\n" + Tail(ReadAll(path), 40);
    return out;
  }

  // The last `lines` lines of text (all of it when shorter).
  static std::string Tail(const std::string& text, int lines) {
    size_t at = text.size();
    for (int seen = text.empty() || text.back() == '\n' ? 0 : 1; at > 0; ++seen) {
      const size_t nl = text.rfind('\n', at - 1);
      if (nl == std::string::npos) break;
      if (seen == lines) return text.substr(nl + 1);
      at = nl;
    }
    return text;
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
  std::vector<std::string> logs_;  // the agents' logs
};

}  // namespace qfarm::testing
