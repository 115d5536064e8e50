#include "cli/farm_commands.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/core.h>

#include "cli/commands.h"
#include "common/file.h"
#include "cli/report_html.h"

namespace qfarm::cli {
namespace {

using nlohmann::json;

std::string Str(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) return fmt::format("{:.4g}", v.get<double>());
  return v.dump();
}

// A job's verdict in one word: bit-exact, DIVERGENT, FAILED (infrastructure or job error), or its state.
std::string Verdict(const json& r) {
  const std::string state = r["state"].get<std::string>();
  if (state == "failed") return "FAILED";
  if (state != "done") return state;
  return r["status"] == "ok" ? "bit-exact" : "DIVERGENT";
}

std::string Inputs(const json& r) {
  const json in = json::parse(r["inputs"].get<std::string>(), nullptr, false);
  if (in.is_object() && in.contains("seed")) return "seed " + in["seed"].dump();
  return in.is_object() && in.contains("files") ? std::to_string(in["files"].size()) + " files" : "-";
}

std::string XmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') ? ' ' : c;
    }
  }
  return out;
}

void PrintTable(const json& rows, const std::vector<std::string>& columns, bool csv) {
  if (csv) {
    std::string line;
    for (const std::string& c : columns) line += (line.empty() ? "" : ",") + c;
    std::printf("%s\n", line.c_str());
  } else {
    for (const std::string& c : columns) fmt::print("{:<16} ", c);
    fmt::print("\n");
  }
  for (const json& r : rows) {
    std::string line;
    for (const std::string& c : columns) {
      const std::string v = r.contains(c) ? Str(r[c]) : "-";
      line += csv ? (line.empty() ? "" : ",") + v : fmt::format("{:<16} ", v);
    }
    std::printf("%s\n", line.c_str());
  }
}

int Fail(const Status& s) { return ReportError(s); }

}  // namespace

Status ResolveTarget(FarmArgs* args) {
  if (const char* t = std::getenv("QFARM_TOKEN")) args->target.token = t;
  if (!args->token_file.empty()) {
    QFARM_ASSIGN_OR_RETURN(args->target.token, ReadTextFile(args->token_file));
  }
  if (!args->tls_ca_file.empty()) {
    QFARM_ASSIGN_OR_RETURN(args->target.tls_ca, ReadTextFile(args->tls_ca_file));
  }
  return Status::Ok();
}

int RunExitStatus(const json& results) {
  bool divergent = false, failed = false;
  for (const json& r : results) {
    divergent = divergent || (r["state"] == "done" && r["status"] != "ok");
    failed = failed || r["state"] == "failed";
  }
  return divergent ? 1 : (failed ? 3 : 0);
}

void PrintResultsTable(const json& results) {
  fmt::print("{:>5} {:<22} {:<16} {:<14} {:<10} {:>11} {:>6} {:>9}  {}\n", "job", "model", "device", "profile",
             "result", "mismatches", "max|Δ|", "p50 ms", "first diverging node / error");
  for (const json& r : results) {
    const std::string verdict = Verdict(r);
    std::string detail = "-";
    if (verdict == "FAILED") detail = Str(r["error"]);
    else if (verdict == "DIVERGENT" && !r["first_diverging_node"].is_null() && r["first_diverging_node"] != "")
      detail = Str(r["first_diverging_node"]) + (r["first_isolated"] == 1 ? " (isolated)" : " (inherited)") +
               (r["deterministic"] == 0 ? " NON-DETERMINISTIC" : "");
    else if (verdict == "DIVERGENT" && r["deterministic"] == 0) detail = "NON-DETERMINISTIC";
    fmt::print("{:>5} {:<22} {:<16} {:<14} {:<10} {:>11} {:>6} {:>9}  {}\n", Str(r["job"]), Str(r["model"]),
               Str(r["device"]), Str(r["profile"]), verdict,
               r["mismatches"].is_null() ? "-" : fmt::format("{}/{}", Str(r["mismatches"]), Str(r["elements"])),
               Str(r["max_abs_delta_lsb"]), r["p50_ms"].is_null() ? "-" : fmt::format("{:.3f}", r["p50_ms"].get<double>()),
               detail);
  }
}

Status WriteJUnit(const std::string& path, const json& run, const json& results) {
  int failures = 0, errors = 0, skipped = 0;
  std::string cases;
  for (const json& r : results) {
    const std::string verdict = Verdict(r);
    const std::string name = Str(r["model"]) + " on " + Str(r["device"]) + " [" + Str(r["profile"]) + ", " +
                             Inputs(r) + ", repeat " + Str(r["repeat"]) + "]";
    cases += "    <testcase classname=\"qfarm." + XmlEscape(Str(r["device"])) + "\" name=\"" + XmlEscape(name) +
             "\" time=\"" + (r["p50_ms"].is_null() ? "0" : fmt::format("{:.6f}", r["p50_ms"].get<double>() / 1000)) + "\">";
    if (verdict == "DIVERGENT") {
      ++failures;
      const std::string msg = fmt::format("{} of {} elements differ, max |Δ| {} LSB; first diverging node {}; {}",
                                          Str(r["mismatches"]), Str(r["elements"]), Str(r["max_abs_delta_lsb"]),
                                          Str(r["first_diverging_node"]), Str(r["attribution"]));
      cases += "<failure message=\"" + XmlEscape(msg) + "\" type=\"divergence\"/>";
    } else if (verdict == "FAILED") {
      ++errors;
      cases += "<error message=\"" + XmlEscape(Str(r["error"])) + "\" type=\"infrastructure\"/>";
    } else if (verdict != "bit-exact") {
      ++skipped;
      cases += "<skipped message=\"" + XmlEscape(verdict) + "\"/>";
    }
    cases += "</testcase>\n";
  }
  std::ofstream out(path);
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n  <testsuite name=\"qfarm run "
      << Str(run["run"]) << " " << XmlEscape(Str(run["name"])) << "\" tests=\"" << results.size() << "\" failures=\""
      << failures << "\" errors=\"" << errors << "\" skipped=\"" << skipped << "\">\n"
      << cases << "  </testsuite>\n</testsuites>\n";
  out.close();
  if (!out) return InvalidArgument(path + ": cannot write the JUnit file");
  return Status::Ok();
}

StatusOr<v1::GetRunResponse> WaitForRun(FarmClient& client, int64_t run_id, double timeout_s, bool progress) {
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    QFARM_ASSIGN_OR_RETURN(v1::GetRunResponse r, client.GetRun(run_id));
    const int ended = r.done() + r.failed();
    if (progress) {
      const int width = 30, filled = r.total() ? width * ended / r.total() : width;
      std::fprintf(stderr, "\rrun %lld [%s%s] %d/%d done, %d divergent, %d failed, %d running   ",
                   static_cast<long long>(run_id), std::string(static_cast<size_t>(filled), '#').c_str(),
                   std::string(static_cast<size_t>(width - filled), '.').c_str(), ended, r.total(), r.divergent(),
                   r.failed(), r.leased());
    }
    if (r.state() != "running") {
      if (progress) std::fprintf(stderr, "\n");
      return r;
    }
    const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (timeout_s > 0 && waited > timeout_s) {
      return Unavailable("run " + std::to_string(run_id) + " did not finish within " + fmt::format("{}", timeout_s) + " s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

int SubmitCommand(const FarmArgs& args) {
  auto req = PrepareSubmission(args.file);
  if (!req.ok()) return Fail(req.status());
  auto client = FarmClient::Connect(args.target);
  if (!client.ok()) return Fail(client.status());
  auto resp = (*client)->Submit(*req);
  if (!resp.ok()) return Fail(resp.status().WithContext(args.file));
  fmt::print("run {}: {} jobs\n", resp->run_id(), resp->jobs());
  if (args.detach) return 0;
  auto done = WaitForRun(**client, resp->run_id(), args.wait_timeout_s, isatty(2));
  if (!done.ok()) return Fail(done.status());
  auto results = (*client)->Query("results", {{"run", resp->run_id()}});
  if (!results.ok()) return Fail(results.status());
  PrintResultsTable(*results);
  return done->state() == "cancelled" ? 3 : RunExitStatus(*results);
}

int StatusCommand(const FarmArgs& args) {
  auto client = FarmClient::Connect(args.target);
  if (!client.ok()) return Fail(client.status());
  auto devices = (*client)->Query("devices", json::object());
  auto runs = (*client)->Query("runs", {{"limit", args.limit > 0 ? args.limit : 10}});
  if (!devices.ok()) return Fail(devices.status());
  if (!runs.ok()) return Fail(runs.status());
  if (args.json) {
    std::printf("%s\n", json{{"devices", *devices}, {"runs", *runs}}.dump(2).c_str());
    return 0;
  }
  fmt::print("devices:\n");
  PrintTable(*devices, {"id", "declared_profile", "health", "online"}, false);
  fmt::print("\nruns:\n");
  PrintTable(*runs, {"run", "name", "state", "jobs", "done", "divergent", "failed", "pending"}, false);
  return 0;
}

int RunsCommand(const FarmArgs& args) {
  auto client = FarmClient::Connect(args.target);
  if (!client.ok()) return Fail(client.status());
  auto runs = (*client)->Query("runs", {{"limit", args.limit}});
  if (!runs.ok()) return Fail(runs.status());
  if (args.json) {
    std::printf("%s\n", runs->dump(2).c_str());
  } else {
    PrintTable(*runs, {"run", "name", "state", "jobs", "done", "divergent", "failed", "pending", "cancelled"}, args.csv);
  }
  return 0;
}

int ResultsCommand(const FarmArgs& args) {
  auto client = FarmClient::Connect(args.target);
  if (!client.ok()) return Fail(client.status());
  auto results = (*client)->Query("results", {{"run", args.run}});
  if (!results.ok()) return Fail(results.status());
  if (args.json) {
    std::printf("%s\n", results->dump(2).c_str());
  } else {
    PrintResultsTable(*results);
  }
  return RunExitStatus(*results);
}

int HistoryCommand(const FarmArgs& args) {
  auto client = FarmClient::Connect(args.target);
  if (!client.ok()) return Fail(client.status());
  auto rows = (*client)->Query("history", {{"model", args.model}, {"device", args.device}, {"metric", args.metric},
                                           {"limit", args.limit}});
  if (!rows.ok()) return Fail(rows.status());
  if (args.json) {
    std::printf("%s\n", rows->dump(2).c_str());
  } else {
    PrintTable(*rows, {"run", "job", "device_id", "status", "value"}, args.csv);
  }
  return 0;
}

int CompareCommand(const FarmArgs& args) {
  auto client = FarmClient::Connect(args.target);
  if (!client.ok()) return Fail(client.status());
  auto rows = (*client)->Query("compare", {{"a", args.run}, {"b", args.run_b}});
  if (!rows.ok()) return Fail(rows.status());
  if (args.json) {
    std::printf("%s\n", rows->dump(2).c_str());
    return 0;
  }
  int changed = 0;
  fmt::print("{:<22} {:<16} {:<14} {:<12} {:<12} {:>10} {:>10} {}\n", "model", "device", "profile", "run A", "run B",
             "p50 A ms", "p50 B ms", "outputs");
  for (const json& r : *rows) {
    auto side = [](const json& s) { return s.is_null() ? std::string("absent") : Str(s["status"].is_null() ? s["state"] : s["status"]); };
    auto p50 = [](const json& s) { return s.is_null() || s["p50_ms"].is_null() ? std::string("-") : fmt::format("{:.3f}", s["p50_ms"].get<double>()); };
    const bool same_out = !r["a"].is_null() && !r["b"].is_null() && r["a"]["output_sha256"] == r["b"]["output_sha256"];
    const bool differs = side(r["a"]) != side(r["b"]) || !same_out;
    changed += differs ? 1 : 0;
    fmt::print("{:<22} {:<16} {:<14} {:<12} {:<12} {:>10} {:>10} {}\n", Str(r["model"]), Str(r["device"]),
               Str(r["profile"]), side(r["a"]), side(r["b"]), p50(r["a"]), p50(r["b"]), same_out ? "same" : "CHANGED");
  }
  fmt::print("{} of {} jobs changed verdict or output bytes\n", changed, rows->size());
  return changed ? 1 : 0;
}

int ReportCommand(const FarmArgs& args) {
  if (args.junit.empty() && args.html.empty()) return Fail(InvalidArgument("report: give --junit FILE (or --html FILE)"));
  auto client = FarmClient::Connect(args.target);
  if (!client.ok()) return Fail(client.status());
  if (!args.html.empty()) {
    auto page = BuildHtmlReport(**client, args.run);
    if (!page.ok()) return Fail(page.status());
    std::ofstream out(args.html);
    out << *page;
    out.close();
    if (!out) return Fail(InvalidArgument(args.html + ": cannot write the HTML report"));
    fmt::print("wrote {}\n", args.html);
  }
  auto run = (*client)->Query("run", {{"run", args.run}});
  if (!run.ok()) return Fail(run.status());
  auto results = (*client)->Query("results", {{"run", args.run}});
  if (!results.ok()) return Fail(results.status());
  if (!args.junit.empty()) {
    Status s = WriteJUnit(args.junit, *run, *results);
    if (!s.ok()) return Fail(s);
    fmt::print("wrote {} ({} testcases)\n", args.junit, results->size());
  }
  return RunExitStatus(*results);
}

int RegressionsCommand(const FarmArgs& args) {
  auto client = FarmClient::Connect(args.target);
  if (!client.ok()) return Fail(client.status());
  json query = {{"run", args.run}};
  if (args.alpha) query["alpha"] = *args.alpha;
  if (args.min_effect) query["min_effect"] = *args.min_effect;
  if (args.baseline_runs) query["baseline_runs"] = *args.baseline_runs;
  if (args.min_baseline_runs) query["min_baseline_runs"] = *args.min_baseline_runs;
  auto rows = (*client)->Query("regressions", query);
  if (!rows.ok()) return Fail(rows.status());
  int regressions = 0;
  for (const json& r : *rows) regressions += r["regression"].get<bool>() ? 1 : 0;
  if (args.json) {
    std::printf("%s\n", rows->dump(2).c_str());
    return regressions ? 1 : 0;
  }
  fmt::print("{:>5} {:<22} {:<22} {:<18} {:<18} {}\n", "job", "model", "device", "latency", "divergence", "why");
  for (const json& r : *rows) {
    std::string why = Str(r["latency_reason"]);
    if (r["divergence"] != "none" && r["divergence"] != "insufficient-data") why = Str(r["divergence_reason"]) + "; " + why;
    fmt::print("{:>5} {:<22} {:<22} {:<18} {:<18} {}\n", Str(r["job"]), Str(r["model"]), Str(r["device_id"]),
               Str(r["latency"]), Str(r["divergence"]), why);
  }
  fmt::print("{} regression(s) in run {} (baseline: earlier runs of the same model, device, profile and inputs)\n",
             regressions, args.run);
  return regressions ? 1 : 0;
}

int CancelCommand(const FarmArgs& args) {
  auto client = FarmClient::Connect(args.target);
  if (!client.ok()) return Fail(client.status());
  auto n = (*client)->Cancel(args.run);
  if (!n.ok()) return Fail(n.status());
  fmt::print("run {} cancelled ({} jobs)\n", args.run, *n);
  return 0;
}

}  // namespace qfarm::cli
