// Store: result ingest — idempotent (a job has at most one result), acknowledged after commit,
// batched under load (IngestBatch: one transaction for many reports).
#include <google/protobuf/util/json_util.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

#include "controller/store.h"
#include "controller/store_internal.h"

namespace qfarm::controller {
namespace {

std::string ToJson(const google::protobuf::Message& m) {
  std::string json;
  google::protobuf::util::JsonPrintOptions opts;
  opts.always_print_primitive_fields = true;
  (void)google::protobuf::util::MessageToJsonString(m, &json, opts);
  return json;
}

const char* StatusName(v1::Result::Status s) {
  switch (s) {
    case v1::Result::OK: return "ok";
    case v1::Result::DIVERGENT: return "divergent";
    default: return "infra";
  }
}

Status CheckResult(const v1::Result& r) {
  if (r.job_id() <= 0) return InvalidArgument("ReportResult: job_id: must be positive");
  if (!ValidName(r.agent_id())) return InvalidArgument("ReportResult: agent_id: '" + Printable(r.agent_id()) + "' " + kNameRule);
  if (!ValidDeviceName(r.device_name())) return InvalidArgument("ReportResult: device_name: not a device name");
  if (!v1::Result::Status_IsValid(r.status())) return InvalidArgument("ReportResult: status: unknown value");
  if (r.outputs_size() > 4096 || r.layers_size() > 100000) return InvalidArgument("ReportResult: too many tensors");
  if (r.latency().samples_ms_size() > 1000000) return InvalidArgument("ReportResult: too many latency samples");
  return Status::Ok();
}

void BindOptional(Stmt& s, int i, bool has, double v) {
  if (has && std::isfinite(v)) {
    s.Bind(i, v);
  } else {
    s.BindNull(i);
  }
}

void StoreTensorMetrics(Db& db, int64_t result_id, const char* kind,
                        const google::protobuf::RepeatedPtrField<v1::TensorMetrics>& list) {
  Stmt s(db,
         "INSERT INTO tensor_metrics(result_id, kind, idx, value, node, elements, mismatches, max_abs_delta_lsb, "
         "mean_abs_delta_lsb, bit_exact, ties_only, histogram, sqnr_db, cosine, max_abs_error, top1_agreement) "
         "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  for (int i = 0; i < list.size(); ++i) {
    const v1::TensorMetrics& m = list[i];
    nlohmann::json hist = nlohmann::json::object();
    for (const auto& [delta, count] : m.delta_histogram()) hist[std::to_string(delta)] = count;
    s.Reset().Bind(1, result_id).Bind(2, kind).Bind(3, i).Bind(4, m.value()).Bind(5, m.node());
    s.Bind(6, m.elements()).Bind(7, m.mismatches()).Bind(8, m.max_abs_delta_lsb()).Bind(9, m.mean_abs_delta_lsb());
    s.Bind(10, m.bit_exact() ? 1 : 0).Bind(11, m.ties_only() ? 1 : 0).Bind(12, hist.dump());
    BindOptional(s, 13, m.has_accuracy(), m.sqnr_db());
    BindOptional(s, 14, m.has_accuracy(), m.cosine());
    BindOptional(s, 15, m.has_accuracy(), m.max_abs_error());
    BindOptional(s, 16, m.has_accuracy() && m.top1_agreement() >= 0, m.top1_agreement());
    s.Run();
  }
}

void StoreLatency(Db& db, int64_t result_id, const v1::LatencySummary& l) {
  if (l.samples_ms_size() == 0) return;
  Stmt s(db,
         "INSERT INTO latency(result_id, cold_ms, min_ms, p50_ms, p90_ms, p99_ms, mean_ms, stddev_ms, cv, comparable, "
         "samples) VALUES(?,?,?,?,?,?,?,?,?,?,?)");
  s.Bind(1, result_id).Bind(2, l.cold_ms()).Bind(3, l.min_ms()).Bind(4, l.p50_ms()).Bind(5, l.p90_ms());
  s.Bind(6, l.p99_ms()).Bind(7, l.mean_ms()).Bind(8, l.stddev_ms()).Bind(9, l.cv());
  s.Bind(10, l.comparable_to_hardware() ? 1 : 0).Bind(11, l.samples_ms_size()).Run();
  Stmt x(db, "INSERT INTO latency_samples(result_id, idx, ms) VALUES(?,?,?)");
  for (int i = 0; i < l.samples_ms_size(); ++i) x.Reset().Bind(1, result_id).Bind(2, i).Bind(3, l.samples_ms(i)).Run();
}

}  // namespace

void Store::StoreResult(const v1::Result& r, const std::string& model, double now) {
  bool bit_exact = true, has_sqnr = false;
  int64_t mismatches = 0, elements = 0, max_delta = 0;
  double sqnr = INFINITY;
  for (const v1::TensorMetrics& m : r.outputs()) {
    bit_exact = bit_exact && m.bit_exact();
    mismatches += m.mismatches();
    elements += m.elements();
    max_delta = std::max(max_delta, m.max_abs_delta_lsb());
    if (m.has_accuracy() && std::isfinite(m.sqnr_db())) {
      sqnr = std::min(sqnr, m.sqnr_db());
      has_sqnr = true;
    }
  }
  nlohmann::json hashes = nlohmann::json::object();
  for (const auto& [name, sha] : r.output_sha256()) hashes[name] = sha;
  Stmt s(*db_,
         "INSERT INTO results(job_id, attempt, status, error, model, device, device_id, profile_text, model_sha256, "
         "inputs_sha256, kernels_build_id, device_fingerprint, agent_version, output_sha256, bit_exact, mismatches, "
         "elements, max_abs_delta_lsb, sqnr_db, first_diverging_node, first_isolated, attribution, deterministic, "
         "p50_ms, created_at) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  s.Bind(1, r.job_id()).Bind(2, r.attempt()).Bind(3, StatusName(r.status())).Bind(4, r.error()).Bind(5, model);
  s.Bind(6, r.device_name()).Bind(7, r.agent_id() + "/" + r.device_name()).Bind(8, r.profile_text());
  s.Bind(9, r.model_sha256()).Bind(10, r.inputs_sha256()).Bind(11, r.kernels_build_id()).Bind(12, ToJson(r.device()));
  s.Bind(13, r.agent_version()).Bind(14, hashes.dump()).Bind(15, bit_exact ? 1 : 0).Bind(16, mismatches);
  s.Bind(17, elements).Bind(18, max_delta);
  BindOptional(s, 19, has_sqnr, sqnr);
  s.Bind(20, r.first_diverging_node()).Bind(21, r.first_divergence_isolated() ? 1 : 0).Bind(22, r.attribution());
  s.Bind(23, r.deterministic() ? 1 : 0);
  BindOptional(s, 24, r.latency().samples_ms_size() > 0, r.latency().p50_ms());
  s.Bind(25, now).Run();
  const int64_t id = db_->LastInsertId();
  StoreTensorMetrics(*db_, id, "output", r.outputs());
  StoreTensorMetrics(*db_, id, "layer", r.layers());
  StoreLatency(*db_, id, r.latency());
}

// Keeps the device's arithmetic fingerprint; a change (a firmware, driver or runtime update that
// changed the arithmetic) is an event in the device's history.
void Store::RecordArithmetic(const std::string& device_id, const std::string& text, double now) {
  const std::string sha = Sha256Hex(text);
  Stmt last(*db_, "SELECT sha256, text FROM arith_fingerprints WHERE device_id=? ORDER BY last_seen DESC LIMIT 1");
  last.Bind(1, device_id);
  const bool known = last.Step();
  if (known && last.Text(0) != sha) {
    Event("arithmetic-fingerprint-changed", device_id, 0, 0, last.Text(1) + " -> " + text, now);
  } else if (!known) {
    Event("arithmetic-fingerprint", device_id, 0, 0, text, now);
  }
  Stmt up(*db_, "INSERT INTO arith_fingerprints(device_id, sha256, text, first_seen, last_seen) VALUES(?1,?2,?3,?4,?4) "
                "ON CONFLICT(device_id, sha256) DO UPDATE SET last_seen=?4");
  up.Bind(1, device_id).Bind(2, sha).Bind(3, text).Bind(4, now).Run();
}

StatusOr<IngestOutcome> Store::IngestOne(const v1::Result& r, double now) {
  QFARM_RETURN_IF_ERROR(CheckResult(r));
  const std::string job_label = "ReportResult: job " + std::to_string(r.job_id());
  Stmt q(*db_, "SELECT kind, state, COALESCE(run_id, 0), model_name, COALESCE(lease_device, '') FROM jobs WHERE id=?");
  q.Bind(1, r.job_id());
  if (!q.Step()) return NotFound(job_label + " does not exist");
  const std::string kind = q.Text(0), state = q.Text(1), model = q.Text(3), leased_to = q.Text(4);
  const int64_t run_id = q.Int(2);
  const std::string device_id = r.agent_id() + "/" + r.device_name();
  IngestOutcome out;
  Stmt dup(*db_, "SELECT 1 FROM results WHERE job_id=?");
  dup.Bind(1, r.job_id());
  if (dup.Step() || (kind == "health" && state == "done")) {
    out.duplicate = true;
    return out;
  }
  if (state != "leased" && state != "queued") return out;  // cancelled or failed: nothing to record
  if (r.status() == v1::Result::INFRA_FAILURE) {
    // Only the current lessee's failure ends an attempt; a stale one changes nothing.
    if (state == "leased" && leased_to == device_id) {
      EndAttempt(r.job_id(), AttemptEnd::kDeviceFailed,
                 "infrastructure failure on " + device_id + ": " + r.error(), now);
      out.stored = true;
    }
    return out;
  }
  if (r.status() == v1::Result::JOB_ERROR) {
    if (state == "leased" && leased_to == device_id) {
      Stmt f(*db_, "UPDATE jobs SET state='failed', error=?, finished_at=?, lease_deadline=NULL WHERE id=?");
      f.Bind(1, "job error: " + r.error()).Bind(2, now).Bind(3, r.job_id()).Run();
      Event("job-failed", device_id, run_id, r.job_id(), "job error: " + r.error(), now);
      if (run_id) FinishRunIfDone(run_id, now);
      out.stored = true;
    }
    return out;
  }
  if (kind == "health") {
    // Golden vectors: every captured tensor, not just the outputs, must be bit-exact.
    const bool pass = r.status() == v1::Result::OK && r.deterministic() && r.first_diverging_node().empty();
    Stmt h(*db_, "UPDATE devices SET health=? WHERE id=?");
    h.Bind(1, pass ? "healthy" : "quarantined").Bind(2, device_id).Run();
    if (!r.arith_fingerprint().empty()) RecordArithmetic(device_id, r.arith_fingerprint(), now);
    Event(pass ? "health-passed" : "health-failed", device_id, 0, r.job_id(),
          pass ? "golden vectors bit-exact" : "golden vectors diverge: first node '" + r.first_diverging_node() + "'",
          now);
  } else {
    StoreResult(r, model, now);
  }
  Stmt up(*db_, "UPDATE jobs SET state='done', finished_at=?, lease_deadline=NULL WHERE id=?");
  up.Bind(1, now).Bind(2, r.job_id()).Run();
  if (run_id) FinishRunIfDone(run_id, now);
  out.stored = true;
  return out;
}

StatusOr<IngestOutcome> Store::Ingest(const v1::Result& result, double now) {
  std::vector<StatusOr<IngestOutcome>> out = IngestBatch({result}, now);
  return out.front();
}

std::vector<StatusOr<IngestOutcome>> Store::IngestBatch(const std::vector<v1::Result>& results, double now) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<StatusOr<IngestOutcome>> out;
  Status failed = Guarded("ReportResult", [&]() -> Status {
    Transaction tx(*db_);
    for (const v1::Result& r : results) {
      db_->Exec("SAVEPOINT one");  // a bad report must not undo the others in the batch
      try {
        out.push_back(IngestOne(r, now));
      } catch (const DbError&) {
        // A full disk may already have rolled the whole transaction back: keep the first error.
        try {
          db_->Exec("ROLLBACK TO one");
        } catch (const DbError&) {
        }
        throw;
      }
      if (!out.back().ok()) db_->Exec("ROLLBACK TO one");
      db_->Exec("RELEASE one");
    }
    tx.Commit();
    return Status::Ok();
  });
  if (!failed.ok()) out.assign(results.size(), failed);  // nothing was committed
  return out;
}

}  // namespace qfarm::controller
