#include "controller/queries.h"

#include <algorithm>
#include <map>

#include "controller/store_internal.h"

namespace qfarm::controller {
namespace {

using nlohmann::json;

json Value(const Stmt& s, int col) {
  switch (sqlite3_column_type(const_cast<sqlite3_stmt*>(s.raw()), col)) {
    case SQLITE_NULL: return nullptr;
    case SQLITE_INTEGER: return s.Int(col);
    case SQLITE_FLOAT: return s.Double(col);
    default: return s.Text(col);
  }
}

// Every row of a statement as an object keyed by column name.
json Rows(Stmt& s) {
  json rows = json::array();
  while (s.Step()) {
    json row = json::object();
    for (int c = 0; c < s.Columns(); ++c) row[s.ColumnName(c)] = Value(s, c);
    rows.push_back(std::move(row));
  }
  return rows;
}

StatusOr<int64_t> IntArg(const json& args, const char* key, std::optional<int64_t> fallback = std::nullopt) {
  if (!args.contains(key)) {
    if (fallback) return *fallback;
    return InvalidArgument(std::string("query: ") + key + ": required");
  }
  if (!args[key].is_number_integer()) return InvalidArgument(std::string("query: ") + key + ": not an integer");
  return args[key].get<int64_t>();
}

StatusOr<std::string> TextArg(const json& args, const char* key) {
  if (!args.contains(key) || !args[key].is_string()) return InvalidArgument(std::string("query: ") + key + ": required");
  return args[key].get<std::string>();
}

constexpr const char* kRunColumns =
    "SELECT r.id AS run, r.name, r.state, r.priority, r.created_at, r.finished_at, count(j.id) AS jobs, "
    "sum(j.state='done') AS done, sum(res.status='divergent') AS divergent, sum(j.state='failed') AS failed, "
    "sum(j.state IN ('queued','leased')) AS pending, sum(j.state='cancelled') AS cancelled "
    "FROM runs r LEFT JOIN jobs j ON j.run_id=r.id LEFT JOIN results res ON res.job_id=j.id ";

StatusOr<json> Runs(Db& db, const json& args) {
  QFARM_ASSIGN_OR_RETURN(int64_t limit, IntArg(args, "limit", 50));
  Stmt s(db, std::string(kRunColumns) + "GROUP BY r.id ORDER BY r.id DESC LIMIT ?");
  s.Bind(1, limit);
  return Rows(s);
}

StatusOr<json> Run(Db& db, const json& args) {
  QFARM_ASSIGN_OR_RETURN(int64_t run, IntArg(args, "run"));
  Stmt s(db, std::string(kRunColumns) + "WHERE r.id=? GROUP BY r.id");
  s.Bind(1, run);
  json rows = Rows(s);
  if (rows.empty()) return NotFound("run " + std::to_string(run) + " does not exist");
  return rows[0];
}

constexpr const char* kJobColumns =
    "SELECT j.id AS job, j.run_id AS run, j.model_name AS model, j.device, j.profile, j.inputs, j.repeat, j.state, "
    "j.attempt, j.max_attempts, j.error, res.id AS result, res.status, res.device_id, res.profile_text, "
    "res.bit_exact, res.deterministic, res.mismatches, res.elements, res.max_abs_delta_lsb, res.sqnr_db, "
    "res.first_diverging_node, res.first_isolated, res.attribution, res.p50_ms, l.p90_ms, l.cv, l.comparable, "
    "res.model_sha256, res.inputs_sha256, res.kernels_build_id, res.agent_version, res.output_sha256 "
    "FROM jobs j LEFT JOIN results res ON res.job_id=j.id LEFT JOIN latency l ON l.result_id=res.id ";

StatusOr<json> Results(Db& db, const json& args) {
  QFARM_ASSIGN_OR_RETURN(int64_t run, IntArg(args, "run"));
  QFARM_RETURN_IF_ERROR(Run(db, args).status());
  Stmt s(db, std::string(kJobColumns) + "WHERE j.run_id=? ORDER BY j.id");
  s.Bind(1, run);
  return Rows(s);
}

StatusOr<json> Job(Db& db, const json& args) {
  QFARM_ASSIGN_OR_RETURN(int64_t job, IntArg(args, "job"));
  Stmt s(db, std::string(kJobColumns) + "WHERE j.id=?");
  s.Bind(1, job);
  json rows = Rows(s);
  if (rows.empty()) return NotFound("job " + std::to_string(job) + " does not exist");
  json out = rows[0];
  if (out["result"].is_null()) return out;
  const int64_t result = out["result"].get<int64_t>();
  for (const char* kind : {"output", "layer"}) {
    Stmt m(db, "SELECT value, node, elements, mismatches, max_abs_delta_lsb, mean_abs_delta_lsb, bit_exact, ties_only, "
               "histogram, sqnr_db, cosine, max_abs_error, top1_agreement FROM tensor_metrics "
               "WHERE result_id=? AND kind=? ORDER BY idx");
    m.Bind(1, result).Bind(2, kind);
    out[std::string(kind) + "s"] = Rows(m);
  }
  Stmt l(db, "SELECT cold_ms, min_ms, p50_ms, p90_ms, p99_ms, mean_ms, stddev_ms, cv, comparable, samples FROM latency WHERE result_id=?");
  l.Bind(1, result);
  json lat = Rows(l);
  out["latency"] = lat.empty() ? json(nullptr) : lat[0];
  Stmt x(db, "SELECT ms FROM latency_samples WHERE result_id=? ORDER BY idx");
  x.Bind(1, result);
  json samples = json::array();
  while (x.Step()) samples.push_back(x.Double(0));
  out["latency_samples_ms"] = samples;
  Stmt f(db, "SELECT device_fingerprint FROM results WHERE id=?");
  f.Bind(1, result);
  if (f.Step()) out["device_fingerprint"] = json::parse(f.Text(0), nullptr, false);
  return out;
}

}  // namespace

const std::vector<std::string>& HistoryMetrics() {
  static const std::vector<std::string> m = {"p50_ms", "p90_ms", "cv", "mismatches", "max_abs_delta_lsb",
                                             "sqnr_db", "bit_exact", "mismatch_rate"};
  return m;
}

namespace {

std::string MetricExpr(const std::string& metric) {
  if (metric == "p90_ms" || metric == "cv") return "l." + metric;
  if (metric == "mismatch_rate") return "CAST(r.mismatches AS REAL) / max(r.elements, 1)";
  return "r." + metric;  // checked against HistoryMetrics() first: never message text in SQL
}

StatusOr<json> History(Db& db, const json& args) {
  QFARM_ASSIGN_OR_RETURN(std::string model, TextArg(args, "model"));
  QFARM_ASSIGN_OR_RETURN(std::string device, TextArg(args, "device"));
  QFARM_ASSIGN_OR_RETURN(std::string metric, TextArg(args, "metric"));
  QFARM_ASSIGN_OR_RETURN(int64_t limit, IntArg(args, "limit", 1000));
  const auto& known = HistoryMetrics();
  if (std::find(known.begin(), known.end(), metric) == known.end()) {
    std::string list;
    for (const std::string& m : known) list += (list.empty() ? "" : ", ") + m;
    return InvalidArgument("history: metric '" + Printable(metric) + "' is not one of: " + list);
  }
  // A device is named by kind ("host-avx2") or by id ("agent/host-avx2"); each has its index.
  const char* device_column = device.find('/') == std::string::npos ? "r.device" : "r.device_id";
  Stmt s(db, "SELECT * FROM (SELECT j.run_id AS run, r.job_id AS job, r.id AS result, r.created_at, r.device_id, "
             "r.profile_text, r.status, " + MetricExpr(metric) + " AS value FROM results r JOIN jobs j ON j.id=r.job_id "
             "LEFT JOIN latency l ON l.result_id=r.id WHERE r.model=?1 AND " + device_column + "=?2 "
             "ORDER BY r.id DESC LIMIT ?3) ORDER BY result");
  s.Bind(1, model).Bind(2, device).Bind(3, limit);
  return Rows(s);
}

// Jobs of two runs matched by (model, device, profile, inputs, repeat).
StatusOr<json> Compare(Db& db, const json& args) {
  QFARM_ASSIGN_OR_RETURN(int64_t a, IntArg(args, "a"));
  QFARM_ASSIGN_OR_RETURN(int64_t b, IntArg(args, "b"));
  json rows_a, rows_b;
  QFARM_ASSIGN_OR_RETURN(rows_a, Results(db, {{"run", a}}));
  QFARM_ASSIGN_OR_RETURN(rows_b, Results(db, {{"run", b}}));
  auto key = [](const json& r) {
    return r["model"].get<std::string>() + "|" + r["device"].get<std::string>() + "|" +
           r["profile"].get<std::string>() + "|" + r["inputs"].get<std::string>() + "|" + r["repeat"].dump();
  };
  std::map<std::string, std::pair<json, json>> matched;
  for (const json& r : rows_a) matched[key(r)].first = r;
  for (const json& r : rows_b) matched[key(r)].second = r;
  json out = json::array();
  for (const auto& [k, pair] : matched) {
    const json& ra = pair.first;
    const json& rb = pair.second;
    const json& any = ra.is_null() ? rb : ra;
    json row = {{"model", any["model"]}, {"device", any["device"]}, {"profile", any["profile"]},
                {"inputs", any["inputs"]}, {"repeat", any["repeat"]}};
    for (const auto& [side, r] : {std::pair<const char*, const json*>{"a", &ra}, {"b", &rb}}) {
      if (r->is_null()) {
        row[side] = nullptr;
        continue;
      }
      row[side] = {{"job", (*r)["job"]}, {"state", (*r)["state"]}, {"status", (*r)["status"]},
                   {"mismatches", (*r)["mismatches"]}, {"p50_ms", (*r)["p50_ms"]},
                   {"output_sha256", (*r)["output_sha256"]}};
    }
    out.push_back(row);
  }
  return out;
}

StatusOr<json> Devices(Db& db, const json&) {
  Stmt s(db, "SELECT id, agent_id AS agent, name, declared_profile, health, online, last_seen, health_checked_at, "
             "fingerprint_sha256, trim(tags) AS tags, (SELECT text FROM arith_fingerprints a WHERE a.device_id=d.id "
             "ORDER BY last_seen DESC LIMIT 1) AS arith_fingerprint FROM devices d ORDER BY id");
  return Rows(s);
}

StatusOr<json> Events(Db& db, const json& args) {
  QFARM_ASSIGN_OR_RETURN(int64_t limit, IntArg(args, "limit", 200));
  const std::string device = args.contains("device") && args["device"].is_string() ? args["device"].get<std::string>() : "";
  Stmt s(db, "SELECT id, at, kind, device_id, run_id, job_id, message FROM events "
             "WHERE (?1='' OR device_id=?1) ORDER BY id DESC LIMIT ?2");
  s.Bind(1, device).Bind(2, limit);
  return Rows(s);
}

}  // namespace

StatusOr<json> SeriesQuery(Db& db, const json& args);       // regression_queries.cc
StatusOr<json> RegressionsQuery(Db& db, const json& args);  // regression_queries.cc

StatusOr<json> RunQuery(Store& store, const std::string& kind, const json& args) {
  using Fn = StatusOr<json> (*)(Db&, const json&);
  static const std::map<std::string, Fn> kinds = {{"runs", Runs},       {"run", Run},         {"results", Results},
                                                  {"job", Job},         {"history", History}, {"compare", Compare},
                                                  {"devices", Devices}, {"events", Events},
                                                  {"series", SeriesQuery}, {"regressions", RegressionsQuery}};
  auto it = kinds.find(kind);
  if (it == kinds.end()) return InvalidArgument("query: unknown kind '" + Printable(kind) + "'");
  if (!args.is_object()) return InvalidArgument("query: arguments must be a JSON object");
  return store.WithDb([&](Db& db) { return Guarded("query", [&] { return it->second(db, args); }); });
}

}  // namespace qfarm::controller
