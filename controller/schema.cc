#include "controller/schema.h"

#include <string>
#include <vector>

namespace qfarm::controller {
namespace {

// Times are Unix seconds (REAL). Device ids are "<agent>/<device name>"; a job names the device
// kind it needs ("host-avx2") and any device of that kind may lease it.
constexpr const char* kV1 = R"sql(
CREATE TABLE agents(
  id TEXT PRIMARY KEY, version TEXT NOT NULL, registered_at REAL NOT NULL, last_seen REAL NOT NULL);
CREATE TABLE devices(
  id TEXT PRIMARY KEY, agent_id TEXT NOT NULL REFERENCES agents(id), name TEXT NOT NULL,
  declared_profile TEXT NOT NULL, fingerprint_json TEXT NOT NULL, fingerprint_sha256 TEXT NOT NULL,
  health TEXT NOT NULL CHECK(health IN ('unchecked','healthy','quarantined')),
  tags TEXT NOT NULL, online INTEGER NOT NULL, last_seen REAL NOT NULL, health_checked_at REAL);
CREATE INDEX devices_name ON devices(name);
CREATE TABLE blobs(sha256 TEXT PRIMARY KEY, size INTEGER NOT NULL, data BLOB NOT NULL, created_at REAL NOT NULL);
CREATE TABLE models(
  id INTEGER PRIMARY KEY, name TEXT NOT NULL, sha256 TEXT NOT NULL REFERENCES blobs(sha256),
  UNIQUE(name, sha256));
CREATE TABLE runs(
  id INTEGER PRIMARY KEY, name TEXT NOT NULL, spec TEXT NOT NULL, priority INTEGER NOT NULL,
  state TEXT NOT NULL CHECK(state IN ('running','done','cancelled')),
  created_at REAL NOT NULL, finished_at REAL);
CREATE TABLE jobs(
  id INTEGER PRIMARY KEY, run_id INTEGER REFERENCES runs(id), kind TEXT NOT NULL CHECK(kind IN ('run','health')),
  model_id INTEGER REFERENCES models(id), model_name TEXT NOT NULL, device TEXT NOT NULL,
  profile TEXT NOT NULL, inputs TEXT NOT NULL, repeat INTEGER NOT NULL, priority INTEGER NOT NULL,
  warmup_runs INTEGER NOT NULL, timed_runs INTEGER NOT NULL, warmup_s REAL NOT NULL, measure_s REAL NOT NULL,
  timeout_s REAL NOT NULL,
  state TEXT NOT NULL CHECK(state IN ('queued','leased','done','failed','cancelled')),
  attempt INTEGER NOT NULL, max_attempts INTEGER NOT NULL, error TEXT,
  lease_device TEXT, lease_deadline REAL, created_at REAL NOT NULL, finished_at REAL);
CREATE INDEX jobs_queue ON jobs(state, device, priority DESC, id);
CREATE INDEX jobs_run ON jobs(run_id);
CREATE INDEX jobs_lease ON jobs(state, lease_deadline);
CREATE TABLE results(
  id INTEGER PRIMARY KEY, job_id INTEGER NOT NULL UNIQUE REFERENCES jobs(id), attempt INTEGER NOT NULL,
  status TEXT NOT NULL CHECK(status IN ('ok','divergent','infra')), error TEXT NOT NULL,
  model TEXT NOT NULL, device TEXT NOT NULL, device_id TEXT NOT NULL, profile_text TEXT NOT NULL,
  model_sha256 TEXT NOT NULL, inputs_sha256 TEXT NOT NULL, kernels_build_id TEXT NOT NULL,
  device_fingerprint TEXT NOT NULL, agent_version TEXT NOT NULL, output_sha256 TEXT NOT NULL,
  bit_exact INTEGER NOT NULL, mismatches INTEGER NOT NULL, elements INTEGER NOT NULL,
  max_abs_delta_lsb INTEGER NOT NULL, sqnr_db REAL, first_diverging_node TEXT NOT NULL,
  first_isolated INTEGER NOT NULL, attribution TEXT NOT NULL, deterministic INTEGER NOT NULL, p50_ms REAL,
  created_at REAL NOT NULL);
CREATE INDEX results_history ON results(model, device, id);
CREATE TABLE tensor_metrics(
  result_id INTEGER NOT NULL REFERENCES results(id), kind TEXT NOT NULL CHECK(kind IN ('output','layer')),
  idx INTEGER NOT NULL, value TEXT NOT NULL, node TEXT NOT NULL, elements INTEGER NOT NULL,
  mismatches INTEGER NOT NULL, max_abs_delta_lsb INTEGER NOT NULL, mean_abs_delta_lsb REAL NOT NULL,
  bit_exact INTEGER NOT NULL, ties_only INTEGER NOT NULL, histogram TEXT NOT NULL,
  sqnr_db REAL, cosine REAL, max_abs_error REAL, top1_agreement REAL,
  PRIMARY KEY(result_id, kind, idx)) WITHOUT ROWID;
CREATE TABLE latency(
  result_id INTEGER PRIMARY KEY REFERENCES results(id), cold_ms REAL NOT NULL, min_ms REAL NOT NULL,
  p50_ms REAL NOT NULL, p90_ms REAL NOT NULL, p99_ms REAL NOT NULL, mean_ms REAL NOT NULL,
  stddev_ms REAL NOT NULL, cv REAL NOT NULL, comparable INTEGER NOT NULL, samples INTEGER NOT NULL);
CREATE TABLE latency_samples(
  result_id INTEGER NOT NULL REFERENCES results(id), idx INTEGER NOT NULL, ms REAL NOT NULL,
  PRIMARY KEY(result_id, idx)) WITHOUT ROWID;
CREATE TABLE events(
  id INTEGER PRIMARY KEY, at REAL NOT NULL, kind TEXT NOT NULL, device_id TEXT, run_id INTEGER,
  job_id INTEGER, message TEXT NOT NULL);
CREATE INDEX events_device ON events(device_id, id);
CREATE TABLE fingerprints(
  device_id TEXT NOT NULL, sha256 TEXT NOT NULL, fingerprint_json TEXT NOT NULL, first_seen REAL NOT NULL,
  PRIMARY KEY(device_id, sha256));
)sql";

// v2: access tokens (only their SHA-256 is kept; a revoked token stays, marked), each device's
// arithmetic fingerprints over time, and indexes for run completion and per-device-id history.
constexpr const char* kV2 = R"sql(
CREATE TABLE tokens(
  name TEXT PRIMARY KEY, role TEXT NOT NULL CHECK(role IN ('agent','operator')), sha256 TEXT NOT NULL UNIQUE,
  created_at REAL NOT NULL, revoked_at REAL);
CREATE TABLE arith_fingerprints(
  device_id TEXT NOT NULL, sha256 TEXT NOT NULL, text TEXT NOT NULL, first_seen REAL NOT NULL,
  last_seen REAL NOT NULL, PRIMARY KEY(device_id, sha256));
-- Finishing a run counts its unfinished jobs; a history names a device by id as often as by kind.
DROP INDEX jobs_run;
CREATE INDEX jobs_run ON jobs(run_id, state);
CREATE INDEX results_history_id ON results(model, device_id, id);
)sql";

const std::vector<const char*>& Migrations() {
  static const std::vector<const char*> m = {kV1, kV2};
  return m;
}

int UserVersion(Db& db) {
  Stmt s(db, "PRAGMA user_version");
  s.Step();
  return static_cast<int>(s.Int(0));
}

}  // namespace

int SchemaVersion() { return static_cast<int>(Migrations().size()); }

Status Migrate(Db& db) {
  try {
    const int have = UserVersion(db);
    if (have > SchemaVersion()) {
      return InvalidArgument(db.path() + ": database schema version " + std::to_string(have) +
                             " is newer than this build's " + std::to_string(SchemaVersion()));
    }
    for (int v = have; v < SchemaVersion(); ++v) {
      Transaction tx(db);
      db.Exec(Migrations()[static_cast<size_t>(v)]);
      db.Exec("PRAGMA user_version=" + std::to_string(v + 1));
      tx.Commit();
    }
  } catch (const DbError& e) {
    return Internal(db.path() + ": migration failed: " + e.what());
  }
  return Status::Ok();
}

}  // namespace qfarm::controller
