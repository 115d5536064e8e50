// farmctl: the command line of qfarm (DESIGN.md "Command line contract").
#include <CLI/CLI.hpp>
#include <grpc/support/log.h>
#include <cstdio>
#include <exception>

#include "cli/commands.h"
#include "cli/farm_commands.h"
#include "agent/job_process.h"

namespace {

bool IsCommand(const CLI::App& app, const std::string& name) {
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->get_name() == name) return true;
  }
  return false;
}

void AddTarget(CLI::App* cmd, qfarm::cli::FarmArgs& farm) {
  cmd->add_option("--controller", farm.target.controller, "controller address (default 127.0.0.1:7700)");
  cmd->add_option("--db", farm.target.db, "read this database instead of asking a controller");
  cmd->add_option("--token-file", farm.token_file, "operator token for submit/cancel (or env QFARM_TOKEN)");
  cmd->add_option("--tls-ca", farm.tls_ca_file, "CA certificate (PEM) to verify the controller's TLS certificate");
}

void AddFarmCommands(CLI::App& app, qfarm::cli::FarmArgs& farm) {
  CLI::App* submit = app.add_subcommand("submit", "Submit a run (YAML) and wait for it, with a progress bar");
  submit->add_option("file", farm.file, "run description (YAML)")->required();
  submit->add_flag("--detach", farm.detach, "print the run id and return at once");
  submit->add_option("--wait-timeout-s", farm.wait_timeout_s, "stop waiting after this long (exit 2)");
  AddTarget(submit, farm);
  CLI::App* status = app.add_subcommand("status", "Devices and recent runs");
  status->add_flag("--json", farm.json, "print JSON");
  AddTarget(status, farm);
  CLI::App* runs = app.add_subcommand("runs", "List runs");
  runs->add_option("--limit", farm.limit, "at most this many (newest first)");
  runs->add_flag("--json", farm.json, "print JSON");
  runs->add_flag("--csv", farm.csv, "print CSV");
  AddTarget(runs, farm);
  CLI::App* results = app.add_subcommand("results", "A run's jobs and results");
  results->add_option("--run", farm.run, "run id")->required();
  results->add_flag("--json", farm.json, "print JSON");
  AddTarget(results, farm);
  CLI::App* history = app.add_subcommand("history", "One metric of a (model, device) over time");
  history->add_option("--model", farm.model, "model name")->required();
  history->add_option("--device", farm.device, "device name or id (agent/device)")->required();
  history->add_option("--metric", farm.metric, "p50_ms, p90_ms, cv, mismatches, mismatch_rate, max_abs_delta_lsb, sqnr_db, bit_exact")
      ->required();
  history->add_option("--limit", farm.limit, "the newest N results")->default_val(1000);
  history->add_flag("--json", farm.json, "print JSON");
  history->add_flag("--csv", farm.csv, "print CSV");
  AddTarget(history, farm);
  CLI::App* compare = app.add_subcommand("compare", "Compare two runs job by job");
  compare->add_option("run_a", farm.run, "run id")->required();
  compare->add_option("run_b", farm.run_b, "run id")->required();
  compare->add_flag("--json", farm.json, "print JSON");
  AddTarget(compare, farm);
  CLI::App* report = app.add_subcommand("report", "Write a run's report (JUnit XML for CI)");
  report->add_option("--run", farm.run, "run id")->required();
  report->add_option("--junit", farm.junit, "JUnit XML file: one testcase per job");
  report->add_option("--html", farm.html, "self-contained HTML report");
  AddTarget(report, farm);
  CLI::App* regressions = app.add_subcommand("regressions", "Regressions of a run against earlier runs (exit 1: some)");
  regressions->add_option("--run", farm.run, "run id")->required();
  regressions->add_flag("--json", farm.json, "print JSON");
  regressions->add_option("--alpha", farm.alpha, "Mann-Whitney significance level (default 1e-4)");
  regressions->add_option("--min-effect", farm.min_effect, "minimum relative latency shift (default 0.03)");
  regressions->add_option("--baseline-runs", farm.baseline_runs, "earlier runs pooled as the baseline (default 5)");
  regressions->add_option("--min-baseline-runs", farm.min_baseline_runs, "earlier runs needed to judge latency (default 3)");
  AddTarget(regressions, farm);
  CLI::App* cancel = app.add_subcommand("cancel", "Cancel a run's pending jobs");
  cancel->add_option("run", farm.run, "run id")->required();
  AddTarget(cancel, farm);
}

// -1 when no farm command was given.
int RunFarmCommand(const CLI::App& app, const qfarm::cli::FarmArgs& farm) {
  using namespace qfarm::cli;
  static const std::vector<std::pair<std::string, int (*)(const FarmArgs&)>> commands = {
      {"submit", SubmitCommand},   {"status", StatusCommand},   {"runs", RunsCommand},
      {"results", ResultsCommand}, {"history", HistoryCommand}, {"compare", CompareCommand},
      {"report", ReportCommand},   {"cancel", CancelCommand},   {"regressions", RegressionsCommand}};
  for (const auto& [name, fn] : commands) {
    if (!app.got_subcommand(name)) continue;
    FarmArgs resolved = farm;
    if (qfarm::Status s = ResolveTarget(&resolved); !s.ok()) return ReportError(s);
    return fn(resolved);
  }
  return -1;
}

int Main(int argc, char** argv) {
  using namespace qfarm::cli;
  CLI::App app{"farmctl: run, diff and track quantized models on devices against a bit-exact emulator"};
  app.require_subcommand(1);

  RunArgs run;
  CLI::App* run_cmd = app.add_subcommand("run", "Run one model once on a device, locally");
  run_cmd->add_option("--model", run.model, "ONNX model file")->required();
  run_cmd->add_option("--device", run.device, "device (reference, host, host-<isa>, ...)");
  run_cmd->add_option("--profile", run.profile, "arithmetic profile: a name or key=value,...");
  run_cmd->add_option("--input", run.inputs, "input tensor files (.pb TensorProto or .npy)");
  run_cmd->add_option("--seed", run.seed, "seed for generated inputs");
  run_cmd->add_option("--output-dir", run.output_dir, "write outputs here as <name>.pb and .npy");
  run_cmd->add_flag("--json", run.json, "print a JSON report");
  run_cmd->add_flag("--latency", run.latency, "also measure latency (cold run, warm-up, >= 30 runs and 1 s)");

  DiffArgs diff;
  CLI::App* diff_cmd = app.add_subcommand("diff", "Diff a device against the emulator, layer by layer");
  diff_cmd->add_option("--model", diff.run.model, "ONNX model file")->required();
  diff_cmd->add_option("--device", diff.run.device, "device")->required();
  diff_cmd->add_option("--profile", diff.run.profile, "emulator profile (default: the device's declared one)");
  diff_cmd->add_option("--input", diff.run.inputs, "input tensor files (.pb TensorProto or .npy)");
  diff_cmd->add_option("--seed", diff.run.seed, "seed for generated inputs");
  diff_cmd->add_flag("--layers", diff.layers, "print every layer");
  diff_cmd->add_flag("--json", diff.json, "print a JSON report");

  std::string export_dir;
  CLI::App* models_cmd = app.add_subcommand("models", "List the built-in models, or export them as ONNX");
  models_cmd->add_option("--export", export_dir, "write <model>.onnx and sample inputs here");

  std::string fp_device;
  bool fp_json = false;
  CLI::App* fp_cmd = app.add_subcommand("fingerprint", "Find the arithmetic profiles a device is consistent with");
  fp_cmd->add_option("--device", fp_device, "device")->required();
  fp_cmd->add_flag("--json", fp_json, "print JSON");

  bool devices_json = false;
  CLI::App* devices_cmd = app.add_subcommand("devices", "List the devices this machine has");
  devices_cmd->add_flag("--json", devices_json, "print JSON");

  bool profiles_json = false;
  CLI::App* profiles_cmd = app.add_subcommand("profiles", "List the named arithmetic profiles");
  profiles_cmd->add_flag("--json", profiles_json, "print JSON");

  NightlyArgs nightly;
  CLI::App* nightly_cmd = app.add_subcommand("nightly", "The nightly job on the built-in suite");
  nightly_cmd->add_flag("--local", nightly.local, "an in-process controller and agent with every device here");
  nightly_cmd->add_option("--db", nightly.db, "SQLite database file (default farm.db)");
  nightly_cmd->add_option("--junit", nightly.junit, "JUnit XML file (default nightly-junit.xml)");
  nightly_cmd->add_option("--html", nightly.html, "self-contained HTML report (default nightly-report.html)");
  nightly_cmd->add_option("--seed", nightly.seed, "seed for generated inputs");
  nightly_cmd->add_option("--warmup-s", nightly.warmup_s, "latency warm-up: at least this many seconds (and 3 runs)");
  nightly_cmd->add_option("--measure-s", nightly.measure_s, "latency: timed runs for at least this many seconds");
  nightly_cmd->add_option("--min-runs", nightly.min_runs, "latency: at least this many timed runs");

  FarmArgs farm;
  AddFarmCommands(app, farm);
  // The child process of one farm job (agent/job_process.h), used by nightly's in-process agent.
  if (argc == 3 && std::string(argv[1]) == "agent-job") return qfarm::RunJobDir(argv[2]);

  if (argc > 1 && argv[1][0] != '-' && !IsCommand(app, argv[1])) {
    std::fprintf(stderr, "farmctl: error: unknown command '%s' (commands: run, diff, fingerprint, devices, profiles, models, "
                 "nightly, submit, status, runs, results, history, compare, report, regressions, cancel)\n",
                 argv[1]);
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "farmctl: error: %s (see farmctl --help)\n", e.what());
    return 2;
  }
  if (*run_cmd) return RunCommand(run);
  if (*profiles_cmd) return ProfilesCommand(profiles_json);
  if (*diff_cmd) return DiffCommand(diff);
  if (*models_cmd) return ModelsCommand(export_dir);
  if (*devices_cmd) return DevicesCommand(devices_json);
  if (*fp_cmd) return FingerprintCommand(fp_device, fp_json);
  if (*nightly_cmd) return NightlyCommand(nightly);
  if (int status = RunFarmCommand(app, farm); status >= 0) return status;
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  gpr_set_log_function([](gpr_log_func_args*) {});  // errors reach the user as one farmctl line
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "farmctl: error: internal: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "farmctl: error: internal: unknown exception\n");
  }
  return 2;
}
