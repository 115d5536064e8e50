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

}  // namespace qfarm::testing
