// Store: the lease state machine (store.h) — leases, health checks, expiry.
#include <nlohmann/json.hpp>

#include "controller/store.h"
#include "controller/store_internal.h"

namespace qfarm::controller {
namespace {

void FillInputs(const std::string& json, v1::Job* job) {
  const nlohmann::json j = nlohmann::json::parse(json);
  if (j.contains("seed")) {
    job->mutable_inputs()->set_seed(j["seed"].get<uint64_t>());
    return;
  }
  v1::BlobList* list = job->mutable_inputs()->mutable_tensors();
  for (const auto& f : j["files"]) {
    v1::BlobRef* b = list->add_blobs();
    b->set_name(f["name"].get<std::string>());
    b->set_sha256(f["sha256"].get<std::string>());
  }
}

}  // namespace

v1::Job Store::LoadJob(int64_t job_id) {
  Stmt q(*db_,
         "SELECT j.run_id, j.model_name, COALESCE(m.sha256, ''), COALESCE(b.size, 0), j.device, j.profile, j.inputs, "
         "j.warmup_runs, j.timed_runs, j.timeout_s, j.attempt, j.max_attempts, j.warmup_s, j.measure_s, j.kind FROM jobs j "
         "LEFT JOIN models m ON m.id=j.model_id LEFT JOIN blobs b ON b.sha256=m.sha256 WHERE j.id=?");
  q.Bind(1, job_id);
  q.Step();
  v1::Job job;
  job.set_id(job_id);
  job.set_run_id(q.Int(0));
  job.mutable_model()->set_name(q.Text(1));
  job.mutable_model()->mutable_blob()->set_sha256(q.Text(2));
  job.mutable_model()->mutable_blob()->set_size(q.Int(3));
  job.set_device(q.Text(4));
  job.mutable_profile()->set_text(q.Text(5));
  FillInputs(q.Text(6), &job);
  job.set_warmup_runs(static_cast<int32_t>(q.Int(7)));
  job.set_timed_runs(static_cast<int32_t>(q.Int(8)));
  job.set_timeout_s(q.Double(9));
  job.set_attempt(static_cast<int32_t>(q.Int(10)));
  job.set_max_attempts(static_cast<int32_t>(q.Int(11)));
  job.set_warmup_s(q.Double(12));
  job.set_measure_s(q.Double(13));
  job.set_probe_arithmetic(q.Text(14) == "health");
  return job;
}

StatusOr<LeaseOutcome> Store::LeaseHealthCheck(const std::string& device_id, double now) {
  LeaseOutcome out;
  Stmt busy(*db_, "SELECT 1 FROM jobs WHERE kind='health' AND device=? AND state='leased'");
  busy.Bind(1, device_id);
  if (busy.Step()) return out;
  Stmt ins(*db_,
           "INSERT INTO jobs(run_id, kind, model_id, model_name, device, profile, inputs, repeat, priority, "
           "warmup_runs, timed_runs, warmup_s, measure_s, timeout_s, state, attempt, max_attempts, lease_device, "
           "lease_deadline, created_at) VALUES(NULL,'health',NULL,?,?,'declared','{\"seed\":1}',0,0,0,0,0,0,120,'leased',"
           "1,1,?,?,?)");
  ins.Bind(1, kHealthModel).Bind(2, device_id).Bind(3, device_id).Bind(4, now + options_.lease_s).Bind(5, now).Run();
  const int64_t id = db_->LastInsertId();
  Stmt d(*db_, "UPDATE devices SET health_checked_at=? WHERE id=?");
  d.Bind(1, now).Bind(2, device_id).Run();
  out.granted = true;
  out.job = LoadJob(id);
  out.deadline = now + options_.lease_s;
  return out;
}

StatusOr<LeaseOutcome> Store::Lease(const std::string& agent, const std::string& device, double now) {
  const std::string id = agent + "/" + device;
  std::lock_guard<std::mutex> lock(mu_);
  return Guarded("LeaseJob", [&]() -> StatusOr<LeaseOutcome> {
    Transaction tx(*db_);
    Stmt d(*db_, "SELECT health, COALESCE(health_checked_at, 0) FROM devices WHERE id=?");
    d.Bind(1, id);
    if (!d.Step()) return NotFound("LeaseJob: device '" + Printable(id) + "' is not registered");
    const std::string health = d.Text(0);
    const double checked_at = d.Double(1);
    Stmt seen(*db_, "UPDATE devices SET online=1, last_seen=?1 WHERE id=?2");
    seen.Bind(1, now).Bind(2, id).Run();
    Stmt a(*db_, "UPDATE agents SET last_seen=? WHERE id=?");
    a.Bind(1, now).Bind(2, agent).Run();
    LeaseOutcome out;
    Stmt held(*db_, "SELECT 1 FROM jobs WHERE state='leased' AND lease_device=?");
    held.Bind(1, id);
    if (held.Step()) {  // one job per device at a time
      tx.Commit();
      return out;
    }
    if (options_.health_checks && (health == "unchecked" ||
                                   (health == "quarantined" && now >= checked_at + options_.recheck_s))) {
      QFARM_ASSIGN_OR_RETURN(out, LeaseHealthCheck(id, now));
    } else if (!options_.health_checks || health == "healthy") {
      Stmt q(*db_,
             "SELECT j.id FROM jobs j JOIN runs r ON r.id=j.run_id WHERE j.state='queued' AND j.kind='run' "
             "AND j.device IN (?1, ?2) AND r.state='running' ORDER BY j.priority DESC, j.id LIMIT 1");
      q.Bind(1, device).Bind(2, id);
      if (q.Step()) {
        const int64_t job = q.Int(0);
        Stmt up(*db_,
                "UPDATE jobs SET state='leased', attempt=attempt+1, lease_device=?, lease_deadline=? WHERE id=?");
        up.Bind(1, id).Bind(2, now + options_.lease_s).Bind(3, job).Run();
        out.granted = true;
        out.job = LoadJob(job);
        out.deadline = now + options_.lease_s;
      }
    }
    tx.Commit();
    return out;
  });
}

void Store::EndAttempt(int64_t job_id, AttemptEnd how, const std::string& why, double now) {
  Stmt q(*db_, "SELECT attempt, max_attempts, COALESCE(run_id, 0), kind, COALESCE(lease_device, '') FROM jobs WHERE id=?");
  q.Bind(1, job_id);
  if (!q.Step()) return;
  const int64_t attempt = q.Int(0), max_attempts = q.Int(1), run_id = q.Int(2);
  const std::string kind = q.Text(3), device = q.Text(4);
  const std::string message = why + " (attempt " + std::to_string(attempt) + " of " + std::to_string(max_attempts) + ")";
  const bool final = attempt >= max_attempts;
  Stmt up(*db_, final ? "UPDATE jobs SET state='failed', error=?1, finished_at=?2, lease_deadline=NULL WHERE id=?3"
                      : "UPDATE jobs SET state='queued', error=?1, lease_device=NULL, lease_deadline=NULL WHERE id=?3");
  up.Bind(1, message).Bind(3, job_id);
  if (final) up.Bind(2, now);
  up.Run();
  Event(final ? "job-failed" : "job-requeued", device, run_id, job_id, message, now);
  // A device that failed a job is checked again before it takes another (DESIGN: health); one
  // that failed its health check is quarantined. A health check its agent lost (the lease
  // expired, the agent restarted) says nothing of the device: it is checked again at its next
  // lease, not held in quarantine for recheck_s (a flaky network kept a healthy device out
  // of a run that only it could serve).
  const bool quarantine = kind == "health" && how == AttemptEnd::kDeviceFailed;
  Stmt h(*db_, quarantine         ? "UPDATE devices SET health='quarantined' WHERE id=?"
               : kind == "health" ? "UPDATE devices SET health='unchecked' WHERE id=?"
                                  : "UPDATE devices SET health='unchecked' WHERE id=? AND health='healthy'");
  h.Bind(1, device).Run();
  if (final && run_id) FinishRunIfDone(run_id, now);
}

void Store::FinishRunIfDone(int64_t run_id, double now) {
  Stmt q(*db_, "SELECT count(*) FROM jobs WHERE run_id=? AND state IN ('queued','leased')");
  q.Bind(1, run_id);
  q.Step();
  if (q.Int(0) != 0) return;
  Stmt up(*db_, "UPDATE runs SET state='done', finished_at=? WHERE id=? AND state='running'");
  up.Bind(1, now).Bind(2, run_id).Run();
  if (db_->Changes()) Event("run-finished", "", run_id, 0, "all jobs ended", now);
}

StatusOr<int> Store::Sweep(double now) {
  std::lock_guard<std::mutex> lock(mu_);
  return Guarded("Sweep", [&]() -> StatusOr<int> {
    Transaction tx(*db_);
    std::vector<int64_t> expired;
    Stmt q(*db_, "SELECT id FROM jobs WHERE state='leased' AND lease_deadline < ?");
    q.Bind(1, now);
    while (q.Step()) expired.push_back(q.Int(0));
    for (int64_t job : expired) {
      EndAttempt(job, AttemptEnd::kContactLost, "lease expired: no heartbeat from its agent", now);
    }
    std::vector<std::string> offline;
    Stmt o(*db_,
           "SELECT d.id FROM devices d JOIN agents a ON a.id=d.agent_id WHERE d.online=1 AND a.last_seen < ?");
    o.Bind(1, now - options_.heartbeat_timeout_s);
    while (o.Step()) offline.push_back(o.Text(0));
    Stmt up(*db_, "UPDATE devices SET online=0 WHERE id=?");
    for (const std::string& d : offline) {
      up.Reset().Bind(1, d).Run();
      Event("device-offline", d, 0, 0, "no heartbeat for " + std::to_string(options_.heartbeat_timeout_s) + " s", now);
    }
    tx.Commit();
    return static_cast<int>(expired.size());
  });
}

}  // namespace qfarm::controller
