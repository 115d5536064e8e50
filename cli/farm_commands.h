// Farm commands (DESIGN.md "Command line contract"): submit, status, runs, results, history,
// compare, report, cancel. They talk to a controller or read a database (cli/farm_client.h).
// Exit statuses a CI can use: 0 every job bit-exact, 1 a divergence, 2 an error of the command,
// 3 infrastructure failures (and no divergence), 4 the run has not finished (submit --detach
// aside, only when asked for results of a run still running with --require-done).
#pragma once

#include <optional>
#include <string>

#include "cli/farm_client.h"

namespace qfarm::cli {

struct FarmArgs {
  FarmTarget target;
  bool json = false;
  bool csv = false;
  int64_t run = 0;
  int64_t run_b = 0;
  std::string file;      // submit: the YAML
  bool detach = false;
  double wait_timeout_s = 0;  // submit: give up waiting after this long (0: never)
  std::string model, device, metric;
  int64_t limit = 50;
  std::string junit, html;
  std::string token_file, tls_ca_file;  // resolved into target by ResolveTarget
  // regressions: detection settings (unset: controller/regression.h's defaults)
  std::optional<double> alpha, min_effect;
  std::optional<int> baseline_runs, min_baseline_runs;
};

// Reads --token-file (else env QFARM_TOKEN) and --tls-ca into the target; errors name the file.
Status ResolveTarget(FarmArgs* args);

int SubmitCommand(const FarmArgs& args);
int StatusCommand(const FarmArgs& args);
int RunsCommand(const FarmArgs& args);
int ResultsCommand(const FarmArgs& args);
int HistoryCommand(const FarmArgs& args);
int CompareCommand(const FarmArgs& args);
int ReportCommand(const FarmArgs& args);
int CancelCommand(const FarmArgs& args);
// Each result of a run judged against the runs before it; exit 1 when any is a regression.
int RegressionsCommand(const FarmArgs& args);

// Shared with nightly: waits for a run to end, drawing progress on stderr when it is a terminal.
StatusOr<v1::GetRunResponse> WaitForRun(FarmClient& client, int64_t run_id, double timeout_s, bool progress);
// The run's outcome as an exit status (0, 1 or 3, see above).
int RunExitStatus(const nlohmann::json& results);
// Prints the run's results as a table.
void PrintResultsTable(const nlohmann::json& results);
// Writes a JUnit XML file: one testcase per job; divergence a failure, infrastructure an error.
Status WriteJUnit(const std::string& path, const nlohmann::json& run, const nlohmann::json& results);

}  // namespace qfarm::cli
