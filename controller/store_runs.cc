// Store: runs — submission (the YAML matrix expanded into jobs), cancellation, progress.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>
#include <sstream>

#include "controller/store.h"
#include "controller/store_internal.h"

namespace qfarm::controller {
namespace {

bool HasAllTags(const std::string& tags, const std::vector<std::string>& wanted) {
  return std::all_of(wanted.begin(), wanted.end(),
                     [&](const std::string& t) { return tags.find(" " + t + " ") != std::string::npos; });
}

std::string JoinTags(const std::vector<std::string>& tags) {
  std::string s;
  for (const std::string& t : tags) s += (s.empty() ? "" : ", ") + t;
  return s;
}

// Device kinds (or ids) the selectors name; tags select among registered devices.
StatusOr<std::vector<std::string>> ExpandDevices(Db& db, const std::vector<DeviceSelector>& selectors) {
  std::vector<std::string> out;
  auto add = [&](const std::string& d) {
    if (std::find(out.begin(), out.end(), d) == out.end()) out.push_back(d);
  };
  for (const DeviceSelector& sel : selectors) {
    if (!sel.name.empty()) {
      add(sel.name);
      continue;
    }
    Stmt q(db, "SELECT DISTINCT name, tags FROM devices ORDER BY name");
    bool any = false;
    while (q.Step()) {
      if (HasAllTags(q.Text(1), sel.tags)) {
        add(q.Text(0));
        any = true;
      }
    }
    if (!any) return InvalidArgument("devices: no registered device has tags [" + JoinTags(sel.tags) + "]");
  }
  return out;
}

StatusOr<std::string> BlobFor(const std::map<std::string, std::string>& blobs, const std::string& name,
                              const char* what) {
  auto it = blobs.find(name);
  if (it == blobs.end()) return InvalidArgument(std::string(what) + " '" + Printable(name) + "': its bytes were not uploaded with the run");
  return it->second;
}

StatusOr<std::vector<std::string>> InputsJson(const RunSpec& spec, const std::map<std::string, std::string>& blobs) {
  std::vector<std::string> out;
  for (const InputSpec& in : spec.inputs) {
    nlohmann::json j;
    if (in.seed) {
      j["seed"] = *in.seed;
    } else {
      j["files"] = nlohmann::json::array();
      for (const std::string& f : in.files) {
        QFARM_ASSIGN_OR_RETURN(std::string sha, BlobFor(blobs, f, "inputs.files"));
        j["files"].push_back({{"name", f}, {"sha256", sha}});
      }
    }
    out.push_back(j.dump());
  }
  return out;
}

bool BlobStored(Db& db, const std::string& sha) {
  Stmt s(db, "SELECT 1 FROM blobs WHERE sha256=?");
  s.Bind(1, sha);
  return s.Step();
}

int64_t ModelId(Db& db, const std::string& name, const std::string& sha) {
  Stmt ins(db, "INSERT OR IGNORE INTO models(name, sha256) VALUES(?,?)");
  ins.Bind(1, name).Bind(2, sha).Run();
  Stmt q(db, "SELECT id FROM models WHERE name=? AND sha256=?");
  q.Bind(1, name).Bind(2, sha);
  q.Step();
  return q.Int(0);
}

}  // namespace

StatusOr<SubmitOutcome> Store::Submit(const RunSpec& spec, const std::string& spec_text,
                                      const std::map<std::string, std::string>& blobs, double now) {
  std::lock_guard<std::mutex> lock(mu_);
  return Guarded("SubmitRun", [&]() -> StatusOr<SubmitOutcome> {
    Transaction tx(*db_);
    QFARM_ASSIGN_OR_RETURN(std::vector<std::string> devices, ExpandDevices(*db_, spec.devices));
    QFARM_ASSIGN_OR_RETURN(std::vector<std::string> inputs, InputsJson(spec, blobs));
    std::vector<std::pair<int64_t, std::string>> models;
    for (const ModelSpec& m : spec.models) {
      QFARM_ASSIGN_OR_RETURN(std::string sha, BlobFor(blobs, m.path, "models"));
      if (!BlobStored(*db_, sha)) return NotFound("models '" + Printable(m.path) + "': blob " + sha + " is not stored");
      models.emplace_back(ModelId(*db_, m.name, sha), m.name);
    }
    Stmt run(*db_, "INSERT INTO runs(name, spec, priority, state, created_at) VALUES(?,?,?,'running',?)");
    run.Bind(1, spec.name).Bind(2, spec_text).Bind(3, spec.priority).Bind(4, now).Run();
    SubmitOutcome out{db_->LastInsertId(), 0};
    Stmt job(*db_,
             "INSERT INTO jobs(run_id, kind, model_id, model_name, device, profile, inputs, repeat, priority, "
             "warmup_runs, timed_runs, warmup_s, measure_s, timeout_s, state, attempt, max_attempts, created_at) "
             "VALUES(?,'run',?,?,?,?,?,?,?,?,?,?,?,?,'queued',0,?,?)");
    for (const auto& [model_id, model_name] : models) {
      for (const std::string& device : devices) {
        for (const std::string& profile : spec.profiles) {
          for (const std::string& in : inputs) {
            for (int r = 0; r < spec.repeats; ++r) {
              job.Reset().Bind(1, out.run_id).Bind(2, model_id).Bind(3, model_name).Bind(4, device);
              job.Bind(5, profile).Bind(6, in).Bind(7, r).Bind(8, spec.priority).Bind(9, spec.warmup_runs);
              job.Bind(10, spec.timed_runs).Bind(11, spec.warmup_s).Bind(12, spec.measure_s).Bind(13, spec.timeout_s);
              job.Bind(14, spec.max_attempts).Bind(15, now).Run();
              ++out.jobs;
            }
          }
        }
      }
    }
    Event("run-submitted", "", out.run_id, 0, spec.name + ": " + std::to_string(out.jobs) + " jobs", now);
    tx.Commit();
    return out;
  });
}

StatusOr<int> Store::CancelRun(int64_t run_id, double now) {
  std::lock_guard<std::mutex> lock(mu_);
  return Guarded("CancelRun", [&]() -> StatusOr<int> {
    Transaction tx(*db_);
    Stmt r(*db_, "UPDATE runs SET state='cancelled', finished_at=? WHERE id=? AND state='running'");
    r.Bind(1, now).Bind(2, run_id).Run();
    if (db_->Changes() == 0) {
      Stmt q(*db_, "SELECT state FROM runs WHERE id=?");
      q.Bind(1, run_id);
      if (!q.Step()) return NotFound("run " + std::to_string(run_id) + " does not exist");
      return InvalidArgument("run " + std::to_string(run_id) + " is already " + q.Text(0));
    }
    Stmt j(*db_, "UPDATE jobs SET state='cancelled', finished_at=? WHERE run_id=? AND state IN ('queued','leased')");
    j.Bind(1, now).Bind(2, run_id).Run();
    const int n = db_->Changes();
    Event("run-cancelled", "", run_id, 0, std::to_string(n) + " jobs cancelled", now);
    tx.Commit();
    return n;
  });
}

StatusOr<RunCounts> Store::GetRun(int64_t run_id) {
  std::lock_guard<std::mutex> lock(mu_);
  return Guarded("GetRun", [&]() -> StatusOr<RunCounts> {
    RunCounts c;
    Stmt r(*db_, "SELECT name, state FROM runs WHERE id=?");
    r.Bind(1, run_id);
    if (!r.Step()) return NotFound("run " + std::to_string(run_id) + " does not exist");
    c.run_id = run_id;
    c.name = r.Text(0);
    c.state = r.Text(1);
    Stmt q(*db_,
           "SELECT j.state, COALESCE(res.status, ''), count(*) FROM jobs j LEFT JOIN results res ON res.job_id=j.id "
           "WHERE j.run_id=? GROUP BY 1, 2");
    q.Bind(1, run_id);
    while (q.Step()) {
      const std::string state = q.Text(0);
      const int n = static_cast<int>(q.Int(2));
      c.total += n;
      if (state == "done") c.done += n;
      if (state == "done" && q.Text(1) == "divergent") c.divergent += n;
      if (state == "failed") c.failed += n;
      if (state == "queued") c.queued += n;
      if (state == "leased") c.leased += n;
      if (state == "cancelled") c.cancelled += n;
    }
    return c;
  });
}

}  // namespace qfarm::controller
