// Store: opening, the agent/device registry and the blob store (store_runs.cc: runs;
// store_lease.cc: the lease state machine; store_ingest.cc: results).
#include "controller/store.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <set>

#include "controller/schema.h"
#include "controller/store_internal.h"

namespace qfarm::controller {

StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& path, StoreOptions options) {
  QFARM_ASSIGN_OR_RETURN(std::unique_ptr<Db> db, Db::Open(path));
  QFARM_RETURN_IF_ERROR(Migrate(*db));
  if (options.max_page_count > 0) {
    try {
      db->Exec("PRAGMA max_page_count=" + std::to_string(options.max_page_count));
    } catch (const DbError& e) {
      return Unavailable(path + ": " + e.what());
    }
  }
  return std::unique_ptr<Store>(new Store(std::move(db), options));
}

void Store::Event(const std::string& kind, const std::string& device_id, int64_t run_id, int64_t job_id,
                  const std::string& message, double now) {
  Stmt s(*db_, "INSERT INTO events(at, kind, device_id, run_id, job_id, message) VALUES(?,?,?,?,?,?)");
  s.Bind(1, now).Bind(2, kind);
  device_id.empty() ? s.BindNull(3) : s.Bind(3, device_id);
  run_id ? s.Bind(4, run_id) : s.BindNull(4);
  job_id ? s.Bind(5, job_id) : s.BindNull(5);
  s.Bind(6, message).Run();
}

namespace {

std::string FingerprintJson(const v1::DeviceFingerprint& fp) {
  std::string json;
  google::protobuf::util::JsonPrintOptions opts;
  opts.always_print_primitive_fields = true;
  (void)google::protobuf::util::MessageToJsonString(fp, &json, opts);
  return json;
}

// Tags a run may select devices by: the device's name, its ISA flags, "emulated".
std::string Tags(const v1::DeviceFingerprint& fp) {
  std::string tags = " " + fp.device() + " ";
  for (const std::string& f : fp.isa_flags()) tags += f + " ";
  if (!fp.emulator_version().empty()) tags += "emulated ";
  return tags;
}

Status CheckRegistration(const v1::RegisterAgentRequest& r) {
  if (!ValidName(r.agent())) return InvalidArgument("RegisterAgent: agent: '" + Printable(r.agent()) + "' " + kNameRule);
  if (r.devices_size() == 0) return InvalidArgument("RegisterAgent: agent '" + r.agent() + "' has no devices");
  if (r.devices_size() > 256) return InvalidArgument("RegisterAgent: devices: more than 256");
  std::set<std::string> seen;
  for (const v1::DeviceFingerprint& d : r.devices()) {
    if (!ValidDeviceName(d.device())) {
      return InvalidArgument("RegisterAgent: device: '" + Printable(d.device()) + "' is not a device name");
    }
    if (!seen.insert(d.device()).second) return InvalidArgument("RegisterAgent: device '" + d.device() + "' twice");
  }
  return Status::Ok();
}

}  // namespace

void Store::RegisterDevice(const std::string& agent, const v1::DeviceFingerprint& fp, double now) {
  const std::string id = agent + "/" + fp.device();
  const std::string json = FingerprintJson(fp);
  const std::string sha = Sha256Hex(json);
  Stmt old(*db_, "SELECT fingerprint_sha256 FROM devices WHERE id=?");
  old.Bind(1, id);
  const bool known = old.Step();
  const std::string old_sha = known ? old.Text(0) : "";
  Stmt up(*db_,
          "INSERT INTO devices(id, agent_id, name, declared_profile, fingerprint_json, fingerprint_sha256, tags, "
          "health, online, last_seen) VALUES(?1,?2,?3,?4,?5,?6,?7,'unchecked',1,?8) "
          "ON CONFLICT(id) DO UPDATE SET declared_profile=?4, fingerprint_json=?5, fingerprint_sha256=?6, tags=?7, "
          "online=1, last_seen=?8, health=CASE WHEN fingerprint_sha256=?6 THEN health ELSE 'unchecked' END");
  up.Bind(1, id).Bind(2, agent).Bind(3, fp.device()).Bind(4, fp.declared_profile()).Bind(5, json).Bind(6, sha);
  up.Bind(7, Tags(fp)).Bind(8, now).Run();
  Stmt hist(*db_, "INSERT OR IGNORE INTO fingerprints(device_id, sha256, fingerprint_json, first_seen) VALUES(?,?,?,?)");
  hist.Bind(1, id).Bind(2, sha).Bind(3, json).Bind(4, now).Run();
  if (!known) {
    Event("device-registered", id, 0, 0, "fingerprint " + sha.substr(0, 12), now);
  } else if (old_sha != sha) {
    Event("fingerprint-changed", id, 0, 0, old_sha.substr(0, 12) + " -> " + sha.substr(0, 12) + ": " + json, now);
  }
}

Status Store::RegisterAgent(const v1::RegisterAgentRequest& request, double now) {
  QFARM_RETURN_IF_ERROR(CheckRegistration(request));
  std::lock_guard<std::mutex> lock(mu_);
  return Guarded("RegisterAgent", [&] {
    Transaction tx(*db_);
    Stmt a(*db_,
           "INSERT INTO agents(id, version, registered_at, last_seen) VALUES(?1,?2,?3,?3) "
           "ON CONFLICT(id) DO UPDATE SET version=?2, last_seen=?3");
    a.Bind(1, request.agent()).Bind(2, request.version()).Bind(3, now).Run();
    for (const v1::DeviceFingerprint& fp : request.devices()) RegisterDevice(request.agent(), fp, now);
    // Leases the agent no longer runs (it restarted) go back to the queue now, not at expiry.
    const std::set<int64_t> running(request.running_job_ids().begin(), request.running_job_ids().end());
    std::vector<int64_t> lost;
    Stmt q(*db_, "SELECT j.id FROM jobs j JOIN devices d ON d.id=j.lease_device WHERE j.state='leased' AND d.agent_id=?");
    q.Bind(1, request.agent());
    while (q.Step()) {
      if (!running.count(q.Int(0))) lost.push_back(q.Int(0));
    }
    for (int64_t job : lost) {
      EndAttempt(job, AttemptEnd::kContactLost, "agent '" + request.agent() + "' restarted during the job", now);
    }
    tx.Commit();
    return Status::Ok();
  });
}

StatusOr<std::vector<int64_t>> Store::Heartbeat(const std::string& agent, const std::vector<int64_t>& running,
                                                double now) {
  std::lock_guard<std::mutex> lock(mu_);
  return Guarded("Heartbeat", [&]() -> StatusOr<std::vector<int64_t>> {
    Transaction tx(*db_);
    Stmt a(*db_, "UPDATE agents SET last_seen=? WHERE id=?");
    a.Bind(1, now).Bind(2, agent).Run();
    if (db_->Changes() == 0) return NotFound("Heartbeat: agent '" + Printable(agent) + "' is not registered");
    Stmt d(*db_, "UPDATE devices SET online=1, last_seen=? WHERE agent_id=?");
    d.Bind(1, now).Bind(2, agent).Run();
    std::vector<int64_t> stop;
    Stmt ext(*db_,
             "UPDATE jobs SET lease_deadline=? WHERE id=? AND state='leased' AND "
             "lease_device IN (SELECT id FROM devices WHERE agent_id=?)");
    for (int64_t job : running) {
      ext.Reset().Bind(1, now + options_.lease_s).Bind(2, job).Bind(3, agent).Run();
      if (db_->Changes() == 0) stop.push_back(job);
    }
    tx.Commit();
    return stop;
  });
}

StatusOr<std::string> Store::PutBlob(std::string_view bytes, double now) {
  if (static_cast<int64_t>(bytes.size()) > options_.max_blob_bytes) {
    return ResourceExhausted("blob of " + std::to_string(bytes.size()) + " bytes is over the limit of " +
                             std::to_string(options_.max_blob_bytes));
  }
  const std::string sha = Sha256Hex(bytes);
  std::lock_guard<std::mutex> lock(mu_);
  return Guarded("PutBlob", [&]() -> StatusOr<std::string> {
    Stmt s(*db_, "INSERT OR IGNORE INTO blobs(sha256, size, data, created_at) VALUES(?,?,?,?)");
    s.Bind(1, sha).Bind(2, static_cast<int64_t>(bytes.size())).BindBlob(3, bytes).Bind(4, now).Run();
    return sha;
  });
}

StatusOr<std::string> Store::ReadBlob(const std::string& sha256, int64_t offset, int64_t max_bytes,
                                      int64_t* total) {
  std::lock_guard<std::mutex> lock(mu_);
  return Guarded("FetchBlob", [&]() -> StatusOr<std::string> {
    Stmt s(*db_, "SELECT size, substr(data, ?+1, ?) FROM blobs WHERE sha256=?");
    s.Bind(1, offset).Bind(2, max_bytes).Bind(3, sha256);
    if (!s.Step()) return NotFound("blob " + Printable(sha256) + " is not stored");
    *total = s.Int(0);
    if (offset < 0 || offset > *total) return InvalidArgument("FetchBlob: offset " + std::to_string(offset) + " out of range");
    return s.Text(1);
  });
}

}  // namespace qfarm::controller
