#include "controller/service.h"

#include <grpcpp/grpcpp.h>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <algorithm>
#include <chrono>
#include <deque>
#include <set>

#include "controller/queries.h"
#include "controller/run_spec.h"
#include "farm.grpc.pb.h"

namespace qfarm::controller {
namespace {

class WallClock : public Clock {
 public:
  double Now() override {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  }
};

grpc::Status ToGrpc(const Status& s) {
  switch (s.code()) {
    case StatusCode::kOk: return grpc::Status::OK;
    case StatusCode::kInvalidArgument: return {grpc::StatusCode::INVALID_ARGUMENT, s.message()};
    case StatusCode::kNotFound: return {grpc::StatusCode::NOT_FOUND, s.message()};
    case StatusCode::kUnimplemented: return {grpc::StatusCode::UNIMPLEMENTED, s.message()};
    case StatusCode::kResourceExhausted: return {grpc::StatusCode::RESOURCE_EXHAUSTED, s.message()};
    case StatusCode::kUnavailable: return {grpc::StatusCode::UNAVAILABLE, s.message()};
    case StatusCode::kPermissionDenied: return {grpc::StatusCode::PERMISSION_DENIED, s.message()};
    default: return {grpc::StatusCode::INTERNAL, s.message()};
  }
}

// The caller's token: the request's own field, else "authorization: Bearer <token>" metadata.
std::string TokenOf(const grpc::CallbackServerContext* ctx, const std::string& field) {
  if (!field.empty()) return field;
  const auto& md = ctx->client_metadata();
  auto it = md.find("authorization");
  if (it == md.end()) return "";
  const std::string value(it->second.data(), it->second.size());
  return value.rfind("Bearer ", 0) == 0 ? value.substr(7) : value;
}

// Once any token exists, agents need their agent token and state changes an operator token.
Status Authorize(Store& store, const grpc::CallbackServerContext* ctx, const std::string& role,
                 const std::string& agent = "", const std::string& field = "") {
  QFARM_ASSIGN_OR_RETURN(bool enabled, store.TokensEnabled());
  if (!enabled) return Status::Ok();
  QFARM_ASSIGN_OR_RETURN(std::string name, store.Authorize(TokenOf(ctx, field), role));
  if (!agent.empty() && name != agent) {
    return PermissionDenied("the token of '" + name + "' cannot act as agent '" + agent.substr(0, 64) + "'");
  }
  return Status::Ok();
}

// Result reports wait here for the writer thread, which commits them in batches (group commit)
// and finishes each call after its batch is on disk.
class ReportBatcher {
 public:
  struct Item {
    const v1::Result* result;
    v1::ReportResultResponse* response;
    grpc::ServerUnaryReactor* reactor;
  };
  ReportBatcher(Store& store, Clock& clock) : store_(store), clock_(clock), thread_([this] { Loop(); }) {}
  ~ReportBatcher() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void Add(Item item) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(item);
    }
    cv_.notify_one();
  }

 private:
  void Loop() {
    for (;;) {
      std::vector<Item> batch;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;
        while (!queue_.empty() && batch.size() < 512) {
          batch.push_back(queue_.front());
          queue_.pop_front();
        }
      }
      Commit(batch);
    }
  }
  void Commit(const std::vector<Item>& batch) {
    std::vector<v1::Result> results;
    results.reserve(batch.size());
    for (const Item& i : batch) results.push_back(*i.result);
    const auto outcomes = store_.IngestBatch(results, clock_.Now());
    for (size_t i = 0; i < batch.size(); ++i) {
      if (outcomes[i].ok()) {
        batch[i].response->set_stored(outcomes[i]->stored);
        batch[i].response->set_duplicate(outcomes[i]->duplicate);
      }
      batch[i].reactor->Finish(ToGrpc(outcomes[i].status()));
    }
  }

  Store& store_;
  Clock& clock_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  bool stop_ = false;
  std::thread thread_;
};

// Streams a blob in 1 MiB chunks, one write in flight; reads happen on the pool.
class BlobWriter : public grpc::ServerWriteReactor<v1::FetchBlobResponse> {
 public:
  BlobWriter(Store& store, boost::asio::thread_pool& pool, const grpc::CallbackServerContext* ctx, std::string sha,
             int64_t offset)
      : store_(store), pool_(pool), sha_(std::move(sha)), offset_(offset) {
    boost::asio::post(pool_, [this, ctx] {
      Status allowed = Authorize(store_, ctx, "agent");
      if (!allowed.ok()) return Finish(ToGrpc(allowed));
      Next();
    });
  }
  void OnWriteDone(bool ok) override {
    if (!ok) return Finish(grpc::Status(grpc::StatusCode::CANCELLED, "FetchBlob: client went away"));
    if (last_) return Finish(grpc::Status::OK);
    Next();
  }
  void OnDone() override { delete this; }

 private:
  void Next() {
    boost::asio::post(pool_, [this] {
      int64_t total = 0;
      auto chunk = store_.ReadBlob(sha_, offset_, kChunk, &total);
      if (!chunk.ok()) return Finish(ToGrpc(chunk.status()));
      offset_ += static_cast<int64_t>(chunk->size());
      last_ = offset_ >= total;
      response_.set_chunk(std::move(*chunk));
      response_.set_last(last_);
      StartWrite(&response_);
    });
  }
  static constexpr int64_t kChunk = 1 << 20;
  Store& store_;
  boost::asio::thread_pool& pool_;
  std::string sha_;
  int64_t offset_;
  bool last_ = false;
  v1::FetchBlobResponse response_;
};

StatusOr<std::map<std::string, std::string>> StoreUploads(Store& store, const RunSpec& spec,
                                                          const v1::SubmitRunRequest& req, int64_t max_blobs,
                                                          double now) {
  if (req.blobs_size() > max_blobs) return ResourceExhausted("SubmitRun: blobs: more than " + std::to_string(max_blobs));
  const std::vector<std::string> files = SpecFiles(spec);
  const std::set<std::string> named(files.begin(), files.end());
  std::map<std::string, std::string> shas;
  for (const v1::BlobUpload& b : req.blobs()) {
    if (!named.count(b.name())) return InvalidArgument("SubmitRun: blob '" + b.name().substr(0, 80) + "' is not named by the run");
    QFARM_ASSIGN_OR_RETURN(std::string sha, store.PutBlob(b.data(), now));
    shas[b.name()] = sha;
  }
  return shas;
}

class Service final : public v1::Controller::CallbackService {
 public:
  Service(Store& store, const ServerOptions& options, Clock& clock, boost::asio::thread_pool& pool,
          ReportBatcher& batcher)
      : store_(store), options_(options), clock_(clock), pool_(pool), batcher_(batcher) {}

  grpc::ServerUnaryReactor* RegisterAgent(grpc::CallbackServerContext* ctx, const v1::RegisterAgentRequest* req,
                                          v1::RegisterAgentResponse* resp) override {
    return Async(ctx, [=, this]() -> Status {
      QFARM_RETURN_IF_ERROR(Authorize(store_, ctx, "agent", req->agent(), req->token()));
      Status s = store_.RegisterAgent(*req, clock_.Now());
      resp->set_agent_id(req->agent());
      // Three heartbeats per lease period, so one lost heartbeat never expires a lease.
      resp->set_heartbeat_interval_s(std::min(options_.heartbeat_interval_s, store_.options().lease_s / 3));
      return s;
    });
  }

  grpc::ServerUnaryReactor* LeaseJob(grpc::CallbackServerContext* ctx, const v1::LeaseJobRequest* req,
                                     v1::LeaseJobResponse* resp) override {
    return Async(ctx, [=, this]() -> Status {
      QFARM_RETURN_IF_ERROR(Authorize(store_, ctx, "agent", req->agent_id()));
      QFARM_ASSIGN_OR_RETURN(LeaseOutcome lease, store_.Lease(req->agent_id(), req->device(), clock_.Now()));
      resp->set_granted(lease.granted);
      if (lease.granted) *resp->mutable_job() = lease.job;
      resp->set_lease_deadline_unix_s(lease.deadline);
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* Heartbeat(grpc::CallbackServerContext* ctx, const v1::HeartbeatRequest* req,
                                      v1::HeartbeatResponse* resp) override {
    return Async(ctx, [=, this]() -> Status {
      QFARM_RETURN_IF_ERROR(Authorize(store_, ctx, "agent", req->agent_id()));
      const std::vector<int64_t> running(req->running_job_ids().begin(), req->running_job_ids().end());
      QFARM_ASSIGN_OR_RETURN(std::vector<int64_t> stop, store_.Heartbeat(req->agent_id(), running, clock_.Now()));
      for (int64_t id : stop) resp->add_cancelled_job_ids(id);
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* ReportResult(grpc::CallbackServerContext* ctx, const v1::Result* req,
                                         v1::ReportResultResponse* resp) override {
    auto* reactor = ctx->DefaultReactor();
    boost::asio::post(pool_, [=, this] {
      Status allowed = Authorize(store_, ctx, "agent", req->agent_id());
      if (!allowed.ok()) return reactor->Finish(ToGrpc(allowed));
      batcher_.Add({req, resp, reactor});
    });
    return reactor;
  }

  grpc::ServerWriteReactor<v1::FetchBlobResponse>* FetchBlob(grpc::CallbackServerContext* ctx,
                                                             const v1::FetchBlobRequest* req) override {
    return new BlobWriter(store_, pool_, ctx, req->sha256(), req->offset());
  }

  grpc::ServerUnaryReactor* SubmitRun(grpc::CallbackServerContext* ctx, const v1::SubmitRunRequest* req,
                                      v1::SubmitRunResponse* resp) override {
    return Async(ctx, [=, this]() -> Status {
      QFARM_RETURN_IF_ERROR(Authorize(store_, ctx, "operator", "", req->operator_token()));
      QFARM_ASSIGN_OR_RETURN(RunSpec spec, ParseRunSpec(req->yaml(), "run"));
      const double now = clock_.Now();
      QFARM_ASSIGN_OR_RETURN(auto shas, StoreUploads(store_, spec, *req, options_.max_submit_blobs, now));
      QFARM_ASSIGN_OR_RETURN(SubmitOutcome out, store_.Submit(spec, req->yaml(), shas, now));
      resp->set_run_id(out.run_id);
      resp->set_jobs(out.jobs);
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* GetRun(grpc::CallbackServerContext* ctx, const v1::GetRunRequest* req,
                                   v1::GetRunResponse* resp) override {
    return Async(ctx, [=, this]() -> Status {
      QFARM_ASSIGN_OR_RETURN(RunCounts c, store_.GetRun(req->run_id()));
      resp->set_run_id(c.run_id);
      resp->set_state(c.state);
      resp->set_done(c.done);
      resp->set_total(c.total);
      resp->set_divergent(c.divergent);
      resp->set_failed(c.failed);
      resp->set_queued(c.queued);
      resp->set_leased(c.leased);
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* CancelRun(grpc::CallbackServerContext* ctx, const v1::CancelRunRequest* req,
                                      v1::CancelRunResponse* resp) override {
    return Async(ctx, [=, this]() -> Status {
      QFARM_RETURN_IF_ERROR(Authorize(store_, ctx, "operator", "", req->operator_token()));
      QFARM_ASSIGN_OR_RETURN(int n, store_.CancelRun(req->run_id(), clock_.Now()));
      resp->set_cancelled_jobs(n);
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* Query(grpc::CallbackServerContext* ctx, const v1::QueryRequest* req,
                                  v1::QueryResponse* resp) override {
    return Async(ctx, [=, this]() -> Status {
      const nlohmann::json args = req->args_json().empty() ? nlohmann::json::object()
                                                            : nlohmann::json::parse(req->args_json(), nullptr, false);
      if (args.is_discarded()) return InvalidArgument("Query: args_json: not valid JSON");
      QFARM_ASSIGN_OR_RETURN(nlohmann::json answer, RunQuery(store_, req->kind(), args));
      resp->set_json(answer.dump());
      return Status::Ok();
    });
  }

 private:
  // Runs f on the pool and finishes the call with its status.
  template <typename F>
  grpc::ServerUnaryReactor* Async(grpc::CallbackServerContext* ctx, F f) {
    auto* reactor = ctx->DefaultReactor();
    boost::asio::post(pool_, [reactor, f = std::move(f)]() mutable { reactor->Finish(ToGrpc(f())); });
    return reactor;
  }

  Store& store_;
  const ServerOptions& options_;
  Clock& clock_;
  boost::asio::thread_pool& pool_;
  ReportBatcher& batcher_;
};

}  // namespace

struct ControllerServer::Impl {
  Impl(Store& store, const ServerOptions& o)
      : store(store), options(o), clock(o.clock ? *o.clock : SystemClock()), pool(static_cast<size_t>(o.workers)),
        batcher(store, clock), service(store, options, clock, pool, batcher) {}
  void Sweep() {
    std::unique_lock<std::mutex> lock(mu);
    while (!stop) {
      lock.unlock();
      (void)store.Sweep(clock.Now());  // a database error here is retried on the next sweep
      lock.lock();
      cv.wait_for(lock, std::chrono::duration<double>(options.sweep_interval_s), [&] { return stop; });
    }
  }
  Store& store;
  ServerOptions options;
  Clock& clock;
  boost::asio::thread_pool pool;
  ReportBatcher batcher;
  Service service;
  std::unique_ptr<grpc::Server> server;
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  std::thread sweeper;
};

StatusOr<std::unique_ptr<ControllerServer>> ControllerServer::Start(Store& store, ServerOptions options) {
  std::unique_ptr<ControllerServer> s(new ControllerServer());
  s->impl_ = std::make_unique<Impl>(store, options);
  grpc::ServerBuilder builder;
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (!options.tls_cert_pem.empty()) {
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({options.tls_key_pem, options.tls_cert_pem});
    credentials = grpc::SslServerCredentials(ssl);
  }
  builder.AddListeningPort(options.listen, credentials, &s->port_);
  builder.RegisterService(&s->impl_->service);
  builder.SetMaxReceiveMessageSize(static_cast<int>(options.max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(options.max_message_bytes));
  s->impl_->server = builder.BuildAndStart();
  if (!s->impl_->server || s->port_ == 0) {
    s->impl_->pool.join();
    return Unavailable("--listen " + options.listen + ": cannot listen there (address in use or invalid)");
  }
  s->host_ = options.listen.substr(0, options.listen.rfind(':'));
  if (s->host_.empty() || s->host_ == "0.0.0.0" || s->host_ == "[::]") s->host_ = "127.0.0.1";
  s->impl_->sweeper = std::thread([impl = s->impl_.get()] { impl->Sweep(); });
  return s;
}

std::string ControllerServer::address() const { return host_ + ":" + std::to_string(port_); }

void ControllerServer::Shutdown() {
  if (!impl_) return;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stop = true;
  }
  impl_->cv.notify_all();
  if (impl_->sweeper.joinable()) impl_->sweeper.join();
  impl_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  impl_->server->Wait();
  impl_->pool.join();
  impl_.reset();
}

ControllerServer::~ControllerServer() { Shutdown(); }

Clock& SystemClock() {
  static WallClock clock;
  return clock;
}

}  // namespace qfarm::controller
