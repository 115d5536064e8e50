// The controller's state: the SQLite store (schema.h) and every operation on it — agent and
// device registry with health, the content-addressed blob store, runs expanded into jobs, the
// lease state machine, and idempotent result ingest. Each operation is one transaction; it
// returns only after the commit, so whatever it acknowledges is on disk (WAL).
//
// Time is a parameter (`now`, Unix seconds) so tests drive the state machine with their own clock.
// Thread-safe: one connection behind a mutex. Errors are Status values naming the field, job,
// run or device they are about; an SQLite failure (disk full, corruption) is kUnavailable and
// leaves the database as it was before the operation.
//
// Lease state machine of a job:   queued --Lease--> leased --Ingest(ok|divergent)--> done
//   leased --deadline passes (Sweep) or agent re-registers without it--> queued (attempt < max)
//                                                                    \-> failed (infrastructure)
//   leased --Ingest(infra)--> queued / failed as above;  queued|leased --CancelRun--> cancelled
// Heartbeats extend the deadlines of the jobs an agent says it runs. A repeated or late report
// never makes a second result: the first stored result of a job wins.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/sha256.h"
#include "common/status.h"
#include "controller/db.h"
#include "controller/run_spec.h"
#include "farm.pb.h"

namespace qfarm::controller {

struct StoreOptions {
  double lease_s = 30;              // a lease lives this long past the last heartbeat
  double heartbeat_timeout_s = 15;  // an agent unseen this long: its devices are offline
  bool health_checks = true;        // golden-vector check before a device takes jobs
  double recheck_s = 30;            // a quarantined device is re-checked this often
  int64_t max_blob_bytes = int64_t{256} << 20;
  int64_t max_page_count = 0;       // > 0: the database may not grow past this many pages (tests: a full disk)
};

// The model a health check runs: the agent builds it and diffs the device against the emulator.
inline constexpr const char* kHealthModel = "builtin:mlp";

struct SubmitOutcome {
  int64_t run_id = 0;
  int jobs = 0;
};

struct RunCounts {
  int64_t run_id = 0;
  std::string name, state;
  int total = 0, done = 0, divergent = 0, failed = 0, queued = 0, leased = 0, cancelled = 0;
};

struct LeaseOutcome {
  bool granted = false;
  v1::Job job;
  double deadline = 0;
};

struct IngestOutcome {
  bool stored = false;     // this report made the job's result
  bool duplicate = false;  // the job already had a result; nothing was written
};

class Store {
 public:
  static StatusOr<std::unique_ptr<Store>> Open(const std::string& path, StoreOptions options = {});

  // Registry. Registering again refreshes fingerprints (a changed one is an event) and requeues
  // the agent's leases except those it lists as still running.
  Status RegisterAgent(const v1::RegisterAgentRequest& request, double now);
  // Extends the leases of `running` jobs; returns those the agent must stop (cancelled, finished
  // elsewhere, or no longer leased to it).
  StatusOr<std::vector<int64_t>> Heartbeat(const std::string& agent, const std::vector<int64_t>& running,
                                           double now);

  // Blobs, addressed by SHA-256 of their bytes.
  StatusOr<std::string> PutBlob(std::string_view bytes, double now);
  // Up to max_bytes from offset; *total is the blob's size.
  StatusOr<std::string> ReadBlob(const std::string& sha256, int64_t offset, int64_t max_bytes, int64_t* total);

  // Runs. `blobs` maps each name in SpecFiles(spec) to its stored SHA-256.
  StatusOr<SubmitOutcome> Submit(const RunSpec& spec, const std::string& spec_text,
                                 const std::map<std::string, std::string>& blobs, double now);
  StatusOr<int> CancelRun(int64_t run_id, double now);
  StatusOr<RunCounts> GetRun(int64_t run_id);

  // Scheduling: the next job for one device of an agent (a health check first when due).
  StatusOr<LeaseOutcome> Lease(const std::string& agent, const std::string& device, double now);
  // Expires leases past their deadline and marks silent agents' devices offline; returns the
  // number of jobs requeued or failed.
  StatusOr<int> Sweep(double now);
  StatusOr<IngestOutcome> Ingest(const v1::Result& result, double now);
  // One transaction for many reports (group commit); per report an outcome or its error.
  std::vector<StatusOr<IngestOutcome>> IngestBatch(const std::vector<v1::Result>& results, double now);

  // Access tokens (DESIGN: agents need an agent token naming them; state-changing farm commands
  // an operator token). IssueToken returns the secret once; only its SHA-256 is stored.
  StatusOr<std::string> IssueToken(const std::string& name, const std::string& role, double now);
  Status RevokeToken(const std::string& name, double now);
  // Whether any token was ever issued: from then on every call needs one.
  StatusOr<bool> TokensEnabled();
  // The token's name when it is valid (not revoked) for `role` (an operator token also serves as
  // an agent token for nothing: roles are exact).
  StatusOr<std::string> Authorize(const std::string& token, const std::string& role);

  // Runs f(Db&) under the store's lock (read-only queries, controller/queries.h).
  template <typename F>
  auto WithDb(F f) {
    std::lock_guard<std::mutex> lock(mu_);
    return f(*db_);
  }
  const StoreOptions& options() const { return options_; }

 private:
  Store(std::unique_ptr<Db> db, StoreOptions options) : db_(std::move(db)), options_(options) {}
  void RegisterDevice(const std::string& agent, const v1::DeviceFingerprint& fp, double now);
  StatusOr<IngestOutcome> IngestOne(const v1::Result& result, double now);  // inside a transaction
  void StoreResult(const v1::Result& result, const std::string& model, double now);
  void RecordArithmetic(const std::string& device_id, const std::string& text, double now);
  // How an attempt ended without a result: the device failed it (its agent says so), or the
  // agent lost the job (lease expired, agent restarted) and nothing is known of the device.
  enum class AttemptEnd { kDeviceFailed, kContactLost };
  void EndAttempt(int64_t job_id, AttemptEnd how, const std::string& why, double now);
  void FinishRunIfDone(int64_t run_id, double now);
  void Event(const std::string& kind, const std::string& device_id, int64_t run_id, int64_t job_id,
             const std::string& message, double now);
  StatusOr<LeaseOutcome> LeaseHealthCheck(const std::string& device_id, double now);
  v1::Job LoadJob(int64_t job_id);

  std::mutex mu_;
  std::unique_ptr<Db> db_;
  StoreOptions options_;
  std::atomic<bool> tokens_seen_{false};  // tokens are never deleted: once seen, always required
};


}  // namespace qfarm::controller
