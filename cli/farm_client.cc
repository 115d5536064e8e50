#include "cli/farm_client.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/file.h"
#include "controller/queries.h"
#include "controller/run_spec.h"
#include "controller/store.h"
#include "farm.grpc.pb.h"
#include "model/builtin.h"
#include "model/onnx/onnx_io.h"
#include "reference/profile.h"

namespace qfarm::cli {
namespace {

grpc::SslCredentialsOptions RootCerts(const std::string& pem) {
  grpc::SslCredentialsOptions o;
  o.pem_root_certs = pem;
  return o;
}

Status FromGrpc(const grpc::Status& s, const std::string& where) {
  if (s.ok()) return Status::Ok();
  const std::string msg = where + ": " + s.error_message();
  switch (s.error_code()) {
    case grpc::StatusCode::INVALID_ARGUMENT: return InvalidArgument(s.error_message());
    case grpc::StatusCode::NOT_FOUND: return NotFound(s.error_message());
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return ResourceExhausted(msg);
    case grpc::StatusCode::PERMISSION_DENIED: return PermissionDenied(msg);
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED: return Unavailable(msg);
    default: return Internal(msg);
  }
}

class GrpcClient : public FarmClient {
 public:
  explicit GrpcClient(const FarmTarget& t) : address_(t.controller), token_(t.token) {
    grpc::ChannelArguments args;
    args.SetMaxSendMessageSize(300 << 20);
    args.SetMaxReceiveMessageSize(300 << 20);
    auto credentials = t.tls_ca.empty() ? grpc::InsecureChannelCredentials()
                                        : grpc::SslCredentials(RootCerts(t.tls_ca));
    stub_ = v1::Controller::NewStub(grpc::CreateCustomChannel(address_, credentials, args));
  }
  StatusOr<nlohmann::json> Query(const std::string& kind, const nlohmann::json& args) override {
    v1::QueryRequest req;
    req.set_kind(kind);
    req.set_args_json(args.dump());
    v1::QueryResponse resp;
    QFARM_RETURN_IF_ERROR(Call(&v1::Controller::Stub::Query, req, &resp, 60));
    return nlohmann::json::parse(resp.json());
  }
  StatusOr<v1::SubmitRunResponse> Submit(const v1::SubmitRunRequest& req) override {
    v1::SubmitRunResponse resp;
    QFARM_RETURN_IF_ERROR(Call(&v1::Controller::Stub::SubmitRun, req, &resp, 120));
    return resp;
  }
  StatusOr<v1::GetRunResponse> GetRun(int64_t run_id) override {
    v1::GetRunRequest req;
    req.set_run_id(run_id);
    v1::GetRunResponse resp;
    QFARM_RETURN_IF_ERROR(Call(&v1::Controller::Stub::GetRun, req, &resp, 30));
    return resp;
  }
  StatusOr<int> Cancel(int64_t run_id) override {
    v1::CancelRunRequest req;
    req.set_run_id(run_id);
    v1::CancelRunResponse resp;
    QFARM_RETURN_IF_ERROR(Call(&v1::Controller::Stub::CancelRun, req, &resp, 30));
    return resp.cancelled_jobs();
  }

 private:
  template <typename Req, typename Resp>
  Status Call(grpc::Status (v1::Controller::Stub::*method)(grpc::ClientContext*, const Req&, Resp*), const Req& req,
              Resp* resp, int timeout_s) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(timeout_s));
    if (!token_.empty()) ctx.AddMetadata("authorization", "Bearer " + token_);
    return FromGrpc((stub_.get()->*method)(&ctx, req, resp), "controller " + address_);
  }
  std::string address_, token_;
  std::unique_ptr<v1::Controller::Stub> stub_;
};

// --db: the same queries, run on the file; submitting needs a controller and its agents.
class DbClient : public FarmClient {
 public:
  explicit DbClient(std::unique_ptr<controller::Store> store) : store_(std::move(store)) {}
  StatusOr<nlohmann::json> Query(const std::string& kind, const nlohmann::json& args) override {
    return controller::RunQuery(*store_, kind, args);
  }
  StatusOr<v1::SubmitRunResponse> Submit(const v1::SubmitRunRequest&) override {
    return InvalidArgument("submit needs a controller (--controller ADDR); --db only reads results");
  }
  StatusOr<v1::GetRunResponse> GetRun(int64_t run_id) override {
    QFARM_ASSIGN_OR_RETURN(controller::RunCounts c, store_->GetRun(run_id));
    v1::GetRunResponse r;
    r.set_run_id(c.run_id);
    r.set_state(c.state);
    r.set_done(c.done);
    r.set_total(c.total);
    r.set_divergent(c.divergent);
    r.set_failed(c.failed);
    r.set_queued(c.queued);
    r.set_leased(c.leased);
    return r;
  }
  StatusOr<int> Cancel(int64_t run_id) override {
    return store_->CancelRun(run_id, std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
  }

 private:
  std::unique_ptr<controller::Store> store_;
};


// The bytes of one blob the spec names, checked as what it is.
StatusOr<std::string> BlobBytes(const std::string& name, bool is_model, const std::string& base_dir) {
  if (name.rfind("builtin:", 0) == 0) {
    for (const BuiltinModel& m : BuiltinSuite()) {
      if ("builtin:" + m.name == name) return SerializeOnnxModel(m.graph);
    }
    std::string known;
    for (const BuiltinModel& m : BuiltinSuite()) known += (known.empty() ? "" : ", ") + m.name;
    return NotFound("model '" + name + "' is not a built-in model (" + known + ")");
  }
  const std::string path = std::filesystem::path(name).is_absolute() ? name : (std::filesystem::path(base_dir) / name).string();
  if (is_model) {
    QFARM_ASSIGN_OR_RETURN(Graph g, LoadOnnxModel(path));
    (void)g;
  } else {
    QFARM_RETURN_IF_ERROR(ReadTensorFile(path).status());
  }
  return ReadFileBytes(path);
}

}  // namespace

StatusOr<std::unique_ptr<FarmClient>> FarmClient::Connect(const FarmTarget& target) {
  if (target.db.empty()) return std::unique_ptr<FarmClient>(new GrpcClient(target));
  if (!std::filesystem::exists(target.db)) return NotFound(target.db + ": no such database");
  QFARM_ASSIGN_OR_RETURN(auto store, controller::Store::Open(target.db));
  return std::unique_ptr<FarmClient>(new DbClient(std::move(store)));
}

StatusOr<v1::SubmitRunRequest> PrepareSubmissionText(const std::string& yaml, const std::string& label,
                                                     const std::string& base_dir) {
  QFARM_ASSIGN_OR_RETURN(controller::RunSpec spec, controller::ParseRunSpec(yaml, label));
  for (const std::string& p : spec.profiles) {
    if (p != "declared") QFARM_RETURN_IF_ERROR(ParseProfile(p).status().WithContext(label + ": profiles"));
  }
  v1::SubmitRunRequest req;
  req.set_yaml(yaml);
  for (const std::string& name : controller::SpecFiles(spec)) {
    bool is_model = false;
    for (const auto& m : spec.models) is_model = is_model || m.path == name;
    QFARM_ASSIGN_OR_RETURN(std::string bytes, BlobBytes(name, is_model, base_dir));
    v1::BlobUpload* b = req.add_blobs();
    b->set_name(name);
    b->set_data(std::move(bytes));
  }
  return req;
}

StatusOr<v1::SubmitRunRequest> PrepareSubmission(const std::string& yaml_path) {
  QFARM_ASSIGN_OR_RETURN(std::string yaml, ReadFileBytes(yaml_path));
  const std::string dir = std::filesystem::path(yaml_path).parent_path().string();
  return PrepareSubmissionText(yaml, yaml_path, dir.empty() ? "." : dir);
}

}  // namespace qfarm::cli
