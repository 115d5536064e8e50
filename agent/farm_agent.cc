#include "agent/farm_agent.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <thread>

#include "agent/device.h"
#include "farm.grpc.pb.h"

namespace qfarm {
namespace {

grpc::SslCredentialsOptions RootCerts(const std::string& pem) {
  grpc::SslCredentialsOptions o;
  o.pem_root_certs = pem;
  return o;
}

}  // namespace
struct FarmAgent::Impl {
  Impl(FarmAgentOptions options, FarmAgentStats& stats)
      : o(std::move(options)), stats(stats), cache(o.work_dir + "/blobs", o.cache_max_bytes) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 << 20);
    args.SetMaxSendMessageSize(300 << 20);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, static_cast<int>(o.max_backoff_s * 1000));
    channel = grpc::CreateCustomChannel(
        o.controller, o.tls_ca_pem.empty() ? grpc::InsecureChannelCredentials()
                                           : grpc::SslCredentials(RootCerts(o.tls_ca_pem)), args);
    stub = v1::Controller::NewStub(channel);
  }

  // Every call carries a deadline and, when there is one, the agent's token.
  void SetDeadline(grpc::ClientContext* ctx) const {
    if (!o.token.empty()) ctx->AddMetadata("authorization", "Bearer " + o.token);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::duration_cast<std::chrono::milliseconds>(
                                                              std::chrono::duration<double>(o.rpc_timeout_s)));
  }

  // Waits up to s seconds; false once stopping.
  bool Sleep(double s) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, std::chrono::duration<double>(s), [&] { return stop; });
    return !stop;
  }
  bool Stopping() {
    std::lock_guard<std::mutex> lock(mu);
    return stop;
  }

  std::vector<int64_t> RunningIds() {
    std::lock_guard<std::mutex> lock(mu);
    std::vector<int64_t> ids;
    for (const auto& [id, flag] : running) ids.push_back(id);
    return ids;
  }

  // Registers (again) when needed; retries with backoff until it works or the agent stops.
  void EnsureRegistered() {
    std::lock_guard<std::mutex> lock(register_mu);
    double backoff = 0.1;
    while (need_register.load() && !Stopping()) {
      v1::RegisterAgentRequest req;
      req.set_agent(o.agent_id);
      req.set_version(AgentVersion());
      for (const auto& fp : fingerprints) *req.add_devices() = fp;
      for (int64_t id : RunningIds()) req.add_running_job_ids(id);
      v1::RegisterAgentResponse resp;
      grpc::ClientContext ctx;
      SetDeadline(&ctx);
      grpc::Status s = stub->RegisterAgent(&ctx, req, &resp);
      if (s.ok()) {
        heartbeat_s = resp.heartbeat_interval_s() > 0 ? resp.heartbeat_interval_s() : 2;
        need_register = false;
        if (o.verbose) std::fprintf(stderr, "farm-agent: %s registered with %s\n", o.agent_id.c_str(), o.controller.c_str());
        return;
      }
      if (s.error_code() == grpc::StatusCode::INVALID_ARGUMENT || s.error_code() == grpc::StatusCode::PERMISSION_DENIED) {
        SetFatal("controller refused the registration: " + s.error_message());
        Stop();
        return;
      }
      ++stats.reconnects;
      Sleep(backoff);
      backoff = std::min(backoff * 2, o.max_backoff_s);
    }
  }

  void SetFatal(const std::string& why) {
    std::lock_guard<std::mutex> lock(mu);
    if (fatal.empty()) fatal = why;
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
    }
    cv.notify_all();
  }

  Status Fetch(const std::string& sha, std::string* out) {
    v1::FetchBlobRequest req;
    req.set_sha256(sha);
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    auto reader = stub->FetchBlob(&ctx, req);
    v1::FetchBlobResponse chunk;
    out->clear();
    while (reader->Read(&chunk)) out->append(chunk.chunk());
    grpc::Status s = reader->Finish();
    if (s.error_code() == grpc::StatusCode::NOT_FOUND) return NotFound(s.error_message());
    if (!s.ok()) return Unavailable("FetchBlob " + sha + ": " + s.error_message());
    return Status::Ok();
  }

  v1::Result Execute(const v1::Job& job, const std::string& device, const std::atomic<bool>& cancel) {
    const AgentIdentity who{o.agent_id, AgentVersion()};
    JobFiles files;
    auto fetch = [this](const std::string& sha, std::string* out) { return Fetch(sha, out); };
    auto get = [&](const v1::BlobRef& blob, std::string* path) -> Status {
      QFARM_ASSIGN_OR_RETURN(*path, cache.Get(blob.sha256(), fetch));
      return Status::Ok();
    };
    Status s = Status::Ok();
    if (!job.model().blob().sha256().empty()) s = get(job.model().blob(), &files.model_path);
    for (const v1::BlobRef& b : job.inputs().tensors().blobs()) {
      if (!s.ok()) break;
      files.input_paths.emplace_back();
      s = get(b, &files.input_paths.back());
    }
    if (!s.ok()) {
      return FailedResult(job, device, who,
                          s.code() == StatusCode::kUnavailable ? v1::Result::INFRA_FAILURE : v1::Result::JOB_ERROR,
                          s.message());
    }
    return RunJobInChild(o.process, job, files, device, who, cancel);
  }

  // Reports until the controller has committed it (or refuses it for good).
  void Report(const v1::Result& result) {
    double backoff = 0.1;
    while (!Stopping()) {
      v1::ReportResultResponse resp;
      grpc::ClientContext ctx;
      SetDeadline(&ctx);
      grpc::Status s = stub->ReportResult(&ctx, result, &resp);
      if (s.ok()) {
        ++stats.reports_acknowledged;
        return;
      }
      const auto code = s.error_code();
      if (code == grpc::StatusCode::INVALID_ARGUMENT || code == grpc::StatusCode::NOT_FOUND) {
        std::fprintf(stderr, "farm-agent: job %lld: report refused: %s\n", static_cast<long long>(result.job_id()),
                     s.error_message().c_str());
        return;
      }
      ++stats.reconnects;
      Sleep(backoff);
      backoff = std::min(backoff * 2, o.max_backoff_s);
    }
  }

  // A slot of max_concurrent_jobs, held from lease to report; false once stopping.
  bool AcquireSlot() {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return stop || o.max_concurrent_jobs <= 0 || busy < o.max_concurrent_jobs; });
    if (stop) return false;
    ++busy;
    return true;
  }
  void ReleaseSlot() {
    {
      std::lock_guard<std::mutex> lock(mu);
      --busy;
    }
    cv.notify_all();
  }

  enum class Attempt { kRan, kIdle, kFailed };

  void DeviceLoop(const std::string& device) {
    double backoff = 0.1;
    while (AcquireSlot()) {
      const Attempt a = LeaseAndRun(device);  // the slot is held while the job runs
      ReleaseSlot();
      if (a == Attempt::kFailed) {
        Sleep(backoff);
        backoff = std::min(backoff * 2, o.max_backoff_s);
        continue;
      }
      backoff = 0.1;
      if (a == Attempt::kIdle) Sleep(o.poll_s);
    }
  }

  Attempt LeaseAndRun(const std::string& device) {
    EnsureRegistered();
    v1::LeaseJobRequest req;
    req.set_agent_id(o.agent_id);
    req.set_device(device);
    v1::LeaseJobResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    grpc::Status s = stub->LeaseJob(&ctx, req, &resp);
    if (s.error_code() == grpc::StatusCode::PERMISSION_DENIED) {  // a revoked token: retrying cannot help
      SetFatal("controller refused the agent: " + s.error_message());
      Stop();
      return Attempt::kFailed;
    }
    if (!s.ok()) {
      if (s.error_code() == grpc::StatusCode::NOT_FOUND) need_register = true;
      ++stats.reconnects;
      return Attempt::kFailed;
    }
    if (!resp.granted()) return Attempt::kIdle;
    RunLeased(resp.job(), device);
    return Attempt::kRan;
  }

  void RunLeased(const v1::Job& job, const std::string& device) {
    std::atomic<bool> cancel{false};
    {
      std::lock_guard<std::mutex> lock(mu);
      running[job.id()] = &cancel;
    }
    if (o.verbose) {
      std::fprintf(stderr, "farm-agent: job %lld: %s on %s (attempt %d)\n", static_cast<long long>(job.id()),
                   job.model().name().c_str(), device.c_str(), job.attempt());
    }
    const v1::Result result = Execute(job, device, cancel);
    ++stats.jobs_run;
    Report(result);
    std::lock_guard<std::mutex> lock(mu);
    running.erase(job.id());
  }

  void HeartbeatLoop() {
    while (Sleep(heartbeat_s)) {
      EnsureRegistered();
      v1::HeartbeatRequest req;
      req.set_agent_id(o.agent_id);
      for (int64_t id : RunningIds()) req.add_running_job_ids(id);
      v1::HeartbeatResponse resp;
      grpc::ClientContext ctx;
      SetDeadline(&ctx);
      grpc::Status s = stub->Heartbeat(&ctx, req, &resp);
      if (s.error_code() == grpc::StatusCode::NOT_FOUND) need_register = true;
      if (!s.ok()) continue;
      std::lock_guard<std::mutex> lock(mu);
      for (int64_t id : resp.cancelled_job_ids()) {
        if (auto it = running.find(id); it != running.end()) it->second->store(true);
      }
    }
  }

  FarmAgentOptions o;
  FarmAgentStats& stats;
  BlobCache cache;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::Controller::Stub> stub;
  std::vector<v1::DeviceFingerprint> fingerprints;
  std::mutex mu, register_mu;
  std::condition_variable cv;
  bool stop = false;
  std::map<int64_t, std::atomic<bool>*> running;
  std::atomic<bool> need_register{true};
  int busy = 0;  // devices holding a slot (under mu)
  std::atomic<double> heartbeat_s{2};
  std::string fatal;
};

FarmAgent::FarmAgent(FarmAgentOptions options) : impl_(std::make_unique<Impl>(std::move(options), stats_)) {}
FarmAgent::~FarmAgent() { Stop(); }

void FarmAgent::Stop() { impl_->Stop(); }

Status FarmAgent::Run() {
  if (impl_->o.devices.empty()) return InvalidArgument("--device: the agent needs at least one device");
  for (const std::string& name : impl_->o.devices) {
    QFARM_ASSIGN_OR_RETURN(std::unique_ptr<Device> dev, OpenDevice(name));
    FillFingerprint(dev->info(), &impl_->fingerprints.emplace_back());
  }
  std::vector<std::thread> threads;
  threads.emplace_back([this] { impl_->HeartbeatLoop(); });
  for (const std::string& d : impl_->o.devices) threads.emplace_back([this, d] { impl_->DeviceLoop(d); });
  for (std::thread& t : threads) t.join();
  if (!impl_->fatal.empty()) return InvalidArgument(impl_->fatal);
  return Status::Ok();
}

}  // namespace qfarm
