// farmctl nightly --local [--db farm.db]: the embedded default (DESIGN.md). An in-process
// controller (SQLite store, gRPC on a loopback port) and one in-process agent with every device
// this machine has run the built-in suite, each device diffed against the emulator with its
// declared profile after passing its golden-vector health check; the results go into the
// database, a summary table and a JUnit file come out, and the run is compared with the
// previous nightly run in the same database. Then the emulator runs under every named profile
// and says where each first departs from `onnx`.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include <fmt/core.h>
#include <fmt/format.h>

#include "agent/farm_agent.h"
#include "agent/hash.h"
#include "agent/metrics.h"
#include "cli/commands.h"
#include "cli/farm_commands.h"
#include "cli/report_html.h"
#include "controller/service.h"
#include "model/builtin.h"
#include "model/qdq_fusion.h"

namespace qfarm::cli {
namespace {

// Combined hash of all graph outputs.
std::string OutputsHash(const TensorMap& outputs) {
  std::string all;
  for (const auto& [name, t] : outputs) all += name + "=" + TensorSha256(t) + ";";
  return Sha256Hex(all);
}

// The first node (graph order) whose output differs between two captured runs, or "".
std::string FirstDivergingNode(const Graph& g, const ExecResult& a, const ExecResult& b,
                               int64_t* mismatches, int64_t* max_delta) {
  for (const Node& n : g.nodes) {
    for (const std::string& out : n.outputs) {
      auto ia = a.intermediates.find(out), ib = b.intermediates.find(out);
      if (ia == a.intermediates.end() || ib == b.intermediates.end()) continue;
      auto m = CompareQuantized(ia->second, ib->second);
      if (m.ok() && !m->bit_exact) {
        *mismatches = m->mismatches;
        *max_delta = m->max_abs_delta_lsb;
        return n.name;
      }
    }
  }
  return "";
}

// Emulator × profile matrix: where each named profile first departs from `onnx` on each model,
// i.e. where a device implementing that profile would diverge from an ONNX-reference device.
int ProfileMatrix(const std::vector<BuiltinModel>& suite) {
  fmt::print("\n{:<22} {:<14} {:<14} {:>9} {:<6} {}\n", "model", "profile", "outputs sha256", "MACs",
             "determ", "first node diverging from onnx (mismatches, max |Δ| LSB)");
  int failures = 0;
  ExecOptions opts;
  opts.capture_intermediates = true;
  for (const BuiltinModel& m : suite) {
    const Graph g = FuseQdq(m.graph, nullptr);
    auto base = RunReference(g, *ParseProfile("onnx"), m.sample_inputs, opts);
    if (!base.ok()) return ReportError(base.status().WithContext(m.name));
    for (const NamedProfile& np : NamedProfiles()) {
      const Profile p = *ParseProfile(np.name);
      auto r1 = RunReference(g, p, m.sample_inputs, opts);
      auto r2 = RunReference(g, p, m.sample_inputs, opts);
      if (!r1.ok() || !r2.ok()) {
        ++failures;
        fmt::print("{:<22} {:<14} error: {}\n", m.name, np.name, (r1.ok() ? r2 : r1).status().message());
        continue;
      }
      const std::string h1 = OutputsHash(r1->outputs), h2 = OutputsHash(r2->outputs);
      failures += h1 == h2 ? 0 : 1;
      int64_t mism = 0, delta = 0;
      const std::string first = FirstDivergingNode(g, *base, *r1, &mism, &delta);
      fmt::print("{:<22} {:<14} {:<14} {:>9} {:<6} {}\n", m.name, np.name, h1.substr(0, 12), r1->macs,
                 h1 == h2 ? "yes" : "NO", first.empty() ? "bit-exact" : fmt::format("{} ({}, {})", first, mism, delta));
    }
  }
  return failures;
}

std::string SuiteYaml(const std::vector<BuiltinModel>& suite, const std::vector<std::string>& devices,
                      const NightlyArgs& args) {
  std::string y = "name: nightly\nprofiles: [declared]\n";
  y += fmt::format("inputs: [{{seed: {}}}]\nwarmup_runs: 3\nwarmup_s: {}\ntimed_runs: {}\nmeasure_s: {}\n", args.seed,
                   args.warmup_s, args.min_runs, args.measure_s);
  y += "models:\n";
  for (const BuiltinModel& m : suite) y += "  - builtin:" + m.name + "\n";
  y += "devices:\n";
  for (const std::string& d : devices) y += "  - " + d + "\n";
  return y;
}

// The newest earlier run named "nightly", or 0.
int64_t PreviousNightly(FarmClient& client, int64_t current) {
  auto runs = client.Query("runs", {{"limit", 1000}});
  if (!runs.ok()) return 0;
  for (const auto& r : *runs) {
    if (r["name"] == "nightly" && r["run"].get<int64_t>() < current && r["state"] == "done") return r["run"].get<int64_t>();
  }
  return 0;
}

void CompareWithPrevious(FarmClient& client, int64_t previous, int64_t current) {
  if (previous == 0) {
    fmt::print("\nno earlier nightly run in this database to compare with\n");
    return;
  }
  auto rows = client.Query("compare", {{"a", previous}, {"b", current}});
  if (!rows.ok()) return;
  int changed = 0;
  for (const auto& r : *rows) {
    if (r["a"].is_null() || r["b"].is_null()) continue;
    if (r["a"]["status"] != r["b"]["status"] || r["a"]["output_sha256"] != r["b"]["output_sha256"]) {
      ++changed;
      fmt::print("  CHANGED {} on {}: {} -> {}\n", r["model"].get<std::string>(), r["device"].get<std::string>(),
                 r["a"]["status"].dump(), r["b"]["status"].dump());
    }
  }
  fmt::print("\ncompared with nightly run {}: {} of {} jobs changed verdict or output bytes\n", previous, changed,
             rows->size());
}

// Regressions of this run against the earlier runs in the database (controller/regression.h).
void PrintRegressions(FarmClient& client, int64_t run) {
  auto rows = client.Query("regressions", {{"run", run}});
  if (!rows.ok()) return;
  int flagged = 0;
  for (const auto& r : *rows) {
    if (!r["regression"].get<bool>()) continue;
    ++flagged;
    fmt::print("  REGRESSION {} on {}: {}\n", r["model"].get<std::string>(), r["device_id"].get<std::string>(),
               r["divergence"] == "regression" ? r["divergence_reason"].get<std::string>() : r["latency_reason"].get<std::string>());
  }
  fmt::print("{} regression(s) against earlier nightly runs (farmctl regressions --run {})\n", flagged, run);
}

}  // namespace

int NightlyCommand(const NightlyArgs& args) {
  if (!args.local) {
    return ReportError(InvalidArgument("nightly needs --local (with a farm, submit the suite: farmctl submit FILE.yaml)"));
  }
  const std::string db = args.db.empty() ? "farm.db" : args.db;
  auto store = controller::Store::Open(db, {.lease_s = 120, .health_checks = true});
  if (!store.ok()) return ReportError(store.status());
  controller::ServerOptions server_options;
  server_options.listen = "127.0.0.1:0";
  auto server = controller::ControllerServer::Start(**store, server_options);
  if (!server.ok()) return ReportError(server.status());
  std::vector<std::string> devices;
  for (const std::string& d : ListDevices()) {
    if (d != "reference") devices.push_back(d);
  }
  const std::vector<BuiltinModel> suite = BuiltinSuite();
  fmt::print("qfarm nightly --local: {} built-in models on {} devices ({}); database {}; controller {}\n",
             suite.size(), devices.size(), fmt::format("{}", fmt::join(devices, ", ")), db, (*server)->address());
  const std::string work = (std::filesystem::temp_directory_path() / ("qfarm-nightly-" + std::to_string(getpid()))).string();
  FarmAgentOptions agent_options;
  agent_options.controller = (*server)->address();
  agent_options.agent_id = "local";
  agent_options.devices = devices;
  agent_options.work_dir = work;
  agent_options.process = {{SelfExecutable(), "agent-job"}, work + "/jobs"};
  agent_options.verbose = false;
  agent_options.max_concurrent_jobs = 1;  // the devices share this CPU: one job at a time keeps latency clean
  FarmAgent agent(agent_options);
  Status agent_status = Status::Ok();
  std::thread agent_thread([&] { agent_status = agent.Run(); });
  auto finish = [&](int status) {
    agent.Stop();
    agent_thread.join();
    (*server)->Shutdown();
    std::error_code ec;
    std::filesystem::remove_all(work, ec);
    return status;
  };
  FarmTarget target;
  target.controller = (*server)->address();
  auto client = FarmClient::Connect(target);
  auto req = PrepareSubmissionText(SuiteYaml(suite, devices, args), "nightly", ".");
  if (!req.ok()) return finish(ReportError(req.status()));
  auto run = (*client)->Submit(*req);
  if (!run.ok()) return finish(ReportError(run.status()));
  fmt::print("run {}: {} jobs\n", run->run_id(), run->jobs());
  auto done = WaitForRun(**client, run->run_id(), 0, isatty(2));
  if (!done.ok()) return finish(ReportError(done.status()));
  auto results = (*client)->Query("results", {{"run", run->run_id()}});
  auto info = (*client)->Query("run", {{"run", run->run_id()}});
  if (!results.ok() || !info.ok()) return finish(ReportError(results.ok() ? info.status() : results.status()));
  fmt::print("\n== devices against the emulator with their declared profiles ==\n");
  PrintResultsTable(*results);
  CompareWithPrevious(**client, PreviousNightly(**client, run->run_id()), run->run_id());
  const std::string junit = args.junit.empty() ? "nightly-junit.xml" : args.junit;
  PrintRegressions(**client, run->run_id());
  if (Status s = WriteJUnit(junit, *info, *results); !s.ok()) return finish(ReportError(s));
  const std::string html = args.html.empty() ? "nightly-report.html" : args.html;
  auto page = BuildHtmlReport(**client, run->run_id());
  if (!page.ok()) return finish(ReportError(page.status()));
  std::ofstream(html) << *page;
  fmt::print("results in {} (farmctl results --run {} --db {}); JUnit: {}; HTML report: {}\n", db, run->run_id(), db,
             junit, html);
  const int status = RunExitStatus(*results);
  finish(0);
  if (!agent_status.ok()) return ReportError(agent_status);
  fmt::print("\n== the emulator under every named profile ==");
  const int profile_failures = ProfileMatrix(suite);
  fmt::print("\n{} emulator run(s) failed or non-deterministic\n", profile_failures);
  return status != 0 ? status : (profile_failures == 0 ? 0 : 1);
}

}  // namespace qfarm::cli
