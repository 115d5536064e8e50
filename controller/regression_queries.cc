// Queries that judge history (controller/regression.h): `series` — one (model, device, profile,
// inputs) history with every metric and a verdict per run — and `regressions` — each result of
// a run judged against the runs before it. The baseline is the same device id, model, profile
// text and inputs hash: only like is compared with like.
#include <cmath>
#include <cstdio>

#include "controller/queries.h"
#include "controller/regression.h"
#include "controller/store_internal.h"

namespace qfarm::controller {
namespace {

using nlohmann::json;

struct Point {
  json row;
  HistoryRun run;
};

std::vector<double> Samples(Db& db, int64_t result_id) {
  Stmt s(db, "SELECT ms FROM latency_samples WHERE result_id=? ORDER BY idx");
  s.Bind(1, result_id);
  std::vector<double> v;
  while (s.Step()) v.push_back(s.Double(0));
  return v;
}

// Results of one series up to `until_result` (inclusive), oldest first, at most `limit`.
std::vector<Point> LoadSeries(Db& db, const std::string& model, const std::string& device_id,
                              const std::string& profile, const std::string& inputs, int64_t until_result, int64_t limit) {
  Stmt s(db,
         "SELECT * FROM (SELECT r.id AS result, j.run_id AS run, r.job_id AS job, r.created_at, r.status, r.mismatches, "
         "r.elements, r.sqnr_db, l.p50_ms, l.p90_ms, l.min_ms, l.cv FROM results r JOIN jobs j ON j.id=r.job_id "
         "LEFT JOIN latency l ON l.result_id=r.id WHERE r.model=?1 AND r.device_id=?2 AND r.profile_text=?3 AND "
         "r.inputs_sha256=?4 AND r.id<=?5 ORDER BY r.id DESC LIMIT ?6) ORDER BY result");
  s.Bind(1, model).Bind(2, device_id).Bind(3, profile).Bind(4, inputs).Bind(5, until_result).Bind(6, limit);
  std::vector<Point> out;
  while (s.Step()) {
    Point p;
    for (int c = 0; c < s.Columns(); ++c) {
      p.row[s.ColumnName(c)] = s.IsNull(c) ? json(nullptr)
                               : sqlite3_column_type(s.raw(), c) == SQLITE_TEXT ? json(s.Text(c))
                               : sqlite3_column_type(s.raw(), c) == SQLITE_INTEGER ? json(s.Int(c)) : json(s.Double(c));
    }
    p.run.divergence.mismatches = s.Int(5);
    p.run.divergence.elements = s.Int(6);
    p.run.divergence.has_sqnr = !s.IsNull(7);
    p.run.divergence.sqnr_db = s.IsNull(7) ? 0 : s.Double(7);
    out.push_back(std::move(p));
  }
  for (Point& p : out) p.run.samples_ms = Samples(db, p.row["result"].get<int64_t>());
  return out;
}

json VerdictJson(const HistoryVerdict& v) {
  return {{"latency", VerdictName(v.latency.verdict)},
          {"latency_reason", v.latency.reason},
          {"latency_effect", std::isfinite(v.latency.effect) ? json(v.latency.effect) : json(nullptr)},
          {"latency_p", v.latency.p_value},
          {"divergence", VerdictName(v.divergence.verdict)},
          {"divergence_reason", v.divergence.reason}};
}

StatusOr<json> Identify(Db& db, const json& args) {
  if (!args.contains("model") || !args["model"].is_string() || !args.contains("device") || !args["device"].is_string()) {
    return InvalidArgument("series: model and device are required");
  }
  // The newest result of (model, device) fixes profile and inputs unless they are given.
  Stmt s(db, "SELECT device_id, profile_text, inputs_sha256, id FROM results WHERE model=?1 AND (device=?2 OR device_id=?2) "
             "AND (?3='' OR profile_text=?3) ORDER BY id DESC LIMIT 1");
  const std::string profile = args.contains("profile") && args["profile"].is_string() ? args["profile"].get<std::string>() : "";
  s.Bind(1, args["model"].get<std::string>()).Bind(2, args["device"].get<std::string>()).Bind(3, profile);
  if (!s.Step()) return NotFound("no results for model '" + Printable(args["model"].get<std::string>()) + "' on device '" + Printable(args["device"].get<std::string>()) + "'");
  return json{{"device_id", s.Text(0)}, {"profile", s.Text(1)}, {"inputs", s.Text(2)}, {"until", s.Int(3)}};
}

// Detection settings from the query's optional arguments (defaults: controller/regression.h).
StatusOr<RegressionOptions> OptionsFrom(const json& args) {
  RegressionOptions o;
  auto number = [&](const char* key, double lo, double hi, double* out) -> Status {
    if (!args.contains(key)) return Status::Ok();
    if (!args[key].is_number() || args[key].get<double>() < lo || args[key].get<double>() > hi) {
      char range[64];
      std::snprintf(range, sizeof range, "[%g, %g]", lo, hi);
      return InvalidArgument(std::string("regressions: ") + key + ": must be a number in " + range);
    }
    *out = args[key].get<double>();
    return Status::Ok();
  };
  double baseline = o.baseline_runs, min_baseline = o.min_baseline_runs;
  QFARM_RETURN_IF_ERROR(number("alpha", 1e-12, 0.5, &o.alpha));
  QFARM_RETURN_IF_ERROR(number("min_effect", 0, 10, &o.min_effect));
  QFARM_RETURN_IF_ERROR(number("min_sqnr_drop_db", 0, 200, &o.min_sqnr_drop_db));
  QFARM_RETURN_IF_ERROR(number("baseline_runs", 1, 1000, &baseline));
  QFARM_RETURN_IF_ERROR(number("min_baseline_runs", 0, 1000, &min_baseline));
  o.baseline_runs = static_cast<int>(baseline);
  o.min_baseline_runs = static_cast<int>(min_baseline);
  return o;
}

}  // namespace

StatusOr<json> SeriesQuery(Db& db, const json& args) {
  QFARM_ASSIGN_OR_RETURN(json key, Identify(db, args));
  const int64_t limit = args.contains("limit") && args["limit"].is_number_integer() ? args["limit"].get<int64_t>() : 200;
  std::vector<Point> points = LoadSeries(db, args["model"], key["device_id"], key["profile"], key["inputs"],
                                         key["until"], limit);
  std::vector<HistoryRun> runs;
  for (const Point& p : points) runs.push_back(p.run);
  QFARM_ASSIGN_OR_RETURN(const RegressionOptions options, OptionsFrom(args));
  const std::vector<HistoryVerdict> verdicts = JudgeHistory(runs, options);
  json out = key;
  out["model"] = args["model"];
  out["points"] = json::array();
  for (size_t i = 0; i < points.size(); ++i) {
    json row = points[i].row;
    row["verdict"] = VerdictJson(verdicts[i]);
    row["samples_ms"] = points[i].run.samples_ms;
    out["points"].push_back(row);
  }
  return out;
}

StatusOr<json> RegressionsQuery(Db& db, const json& args) {
  if (!args.contains("run") || !args["run"].is_number_integer()) return InvalidArgument("regressions: run: required");
  QFARM_ASSIGN_OR_RETURN(const RegressionOptions options, OptionsFrom(args));
  Stmt s(db, "SELECT r.id, r.model, r.device, r.device_id, r.profile_text, r.inputs_sha256, r.job_id FROM results r "
             "JOIN jobs j ON j.id=r.job_id WHERE j.run_id=? ORDER BY r.job_id");
  s.Bind(1, args["run"].get<int64_t>());
  json out = json::array();
  while (s.Step()) {
    std::vector<Point> points = LoadSeries(db, s.Text(1), s.Text(3), s.Text(4), s.Text(5), s.Int(0),
                                           options.baseline_runs + 1);
    std::vector<HistoryRun> runs;
    for (const Point& p : points) runs.push_back(p.run);
    const HistoryVerdict v = JudgeHistory(runs, options).back();
    json row = {{"job", s.Int(6)}, {"model", s.Text(1)}, {"device", s.Text(2)}, {"device_id", s.Text(3)},
                {"profile_text", s.Text(4)}, {"baseline_runs", points.size() - 1}};
    row.update(VerdictJson(v));
    row["regression"] = v.latency.verdict == Verdict::kRegression || v.divergence.verdict == Verdict::kRegression;
    out.push_back(row);
  }
  return out;
}

}  // namespace qfarm::controller
