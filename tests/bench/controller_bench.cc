// Controller throughput and query latency (docs/controller_bench.md):
//   Controller/Loopback/<agents>    jobs leased + reported per second through the gRPC server on
//                                   127.0.0.1, <agents> simulated agents (own connection each)
//   Controller/Ingest/<n>/<batch>   Store::IngestBatch (batch=1) or one Store::Ingest per report
//                                   (batch=0) of n leased jobs' results: results/s and rows/s
//   Controller/History/<by>         RunQuery("history") over 1,000,000 stored results, p50/p95 ms
// Run: build/tests/bench/controller_bench --benchmark_min_time=1
// The 1M-result database is built once and cached in /tmp/qfarm_bench_1M.db (delete to rebuild).
#include <benchmark/benchmark.h>
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "controller/queries.h"
#include "controller/service.h"
#include "controller/store.h"
#include "farm.grpc.pb.h"

namespace qfarm::controller {
namespace {

namespace fs = std::filesystem;
using Clk = std::chrono::steady_clock;

double Now() { return SystemClock().Now(); }

// CPU seconds this process (server, clients and all) has used so far.
double ProcessCpuSeconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + 1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// A fresh database path under /tmp, removed (with its WAL) on destruction.
struct TempDb {
  std::string path;
  explicit TempDb(const std::string& tag)
      : path("/tmp/qfarm_bench_" + tag + "_" + std::to_string(::getpid()) + ".db") {
    Remove();
  }
  ~TempDb() { Remove(); }
  void Remove() const {
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::error_code ec;
      fs::remove(path + suffix, ec);
    }
  }
};

// A run of `jobs` jobs of model "m" on device kind "sim".
StatusOr<SubmitOutcome> SubmitSimRun(Store& store, int jobs) {
  QFARM_ASSIGN_OR_RETURN(std::string sha, store.PutBlob("controller_bench model bytes", Now()));
  RunSpec spec;
  spec.name = "bench";
  spec.models = {{"m", "m.onnx"}};
  spec.devices = {{"sim", {}}};
  spec.profiles = {"declared"};
  spec.inputs = {InputSpec{1, {}}};
  spec.repeats = jobs;
  return store.Submit(spec, "bench", {{"m.onnx", sha}}, Now());
}

v1::RegisterAgentRequest SimRegistration(const std::string& agent) {
  v1::RegisterAgentRequest r;
  r.set_agent(agent);
  r.set_version("bench");
  v1::DeviceFingerprint* fp = r.add_devices();
  fp->set_device("sim");
  fp->set_declared_profile("onnx");
  return r;
}

// The small report a simulated agent sends: one bit-exact output of 10 elements.
void FillSmallResult(const v1::Job& job, const std::string& agent, v1::Result* r) {
  r->Clear();
  r->set_job_id(job.id());
  r->set_attempt(job.attempt());
  r->set_agent_id(agent);
  r->set_device_name("sim");
  r->set_status(v1::Result::OK);
  v1::TensorMetrics* m = r->add_outputs();
  m->set_value("y");
  m->set_elements(10);
  m->set_bit_exact(true);
}

// ---- 1. Jobs scheduled per second through the gRPC server, simulated agents on loopback ----------

// Each agent is a chain of client callbacks (LeaseJob -> ReportResult -> LeaseJob ...) on gRPC's
// own threads, so 200 agents need no 200 threads; each has its own channel (TCP connection). An
// agent stops at its first refused lease: nothing is ever requeued here, so the queue is empty.
struct SimAgent {
  std::string id;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::Controller::Stub> stub;
  std::unique_ptr<grpc::ClientContext> ctx, prev;  // prev: the finished call's, freed one call later
  v1::LeaseJobRequest lease_req;
  v1::LeaseJobResponse lease_resp;
  v1::Result result;
  v1::ReportResultResponse report_resp;
};

class Fleet {
 public:
  explicit Fleet(std::vector<std::unique_ptr<SimAgent>>& agents) : agents_(agents) {}

  // Drives every agent until all have stopped; returns the number of results stored.
  int64_t Drain() {
    stored_ = 0;
    running_ = static_cast<int>(agents_.size());
    for (auto& a : agents_) Lease(*a);
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return running_ == 0; });
    return stored_;
  }
  std::string error() {
    std::lock_guard<std::mutex> lock(mu_);
    return error_;
  }

 private:
  void NewContext(SimAgent& a) {
    a.prev = std::move(a.ctx);
    a.ctx = std::make_unique<grpc::ClientContext>();
  }
  void Lease(SimAgent& a) {
    NewContext(a);
    a.lease_resp.Clear();
    a.stub->async()->LeaseJob(a.ctx.get(), &a.lease_req, &a.lease_resp, [this, &a](grpc::Status s) {
      if (!s.ok()) return Stop("LeaseJob: " + s.error_message());
      if (!a.lease_resp.granted()) return Stop("");
      FillSmallResult(a.lease_resp.job(), a.id, &a.result);
      NewContext(a);
      a.report_resp.Clear();
      a.stub->async()->ReportResult(a.ctx.get(), &a.result, &a.report_resp, [this, &a](grpc::Status s) {
        if (!s.ok()) return Stop("ReportResult: " + s.error_message());
        if (a.report_resp.stored()) stored_.fetch_add(1, std::memory_order_relaxed);
        Lease(a);
      });
    });
  }
  void Stop(const std::string& error) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!error.empty() && error_.empty()) error_ = error;
    if (--running_ == 0) cv_.notify_all();
  }

  std::vector<std::unique_ptr<SimAgent>>& agents_;
  std::mutex mu_;
  std::condition_variable cv_;
  int running_ = 0;
  std::string error_;
  std::atomic<int64_t> stored_{0};
};

void BM_Loopback(benchmark::State& state) {
  const int n_agents = static_cast<int>(state.range(0));
  const int jobs = static_cast<int>(state.range(1));
  TempDb tmp("loopback");
  auto store = Store::Open(tmp.path, StoreOptions{.health_checks = false});
  if (!store.ok()) return state.SkipWithError(store.status().message().c_str());
  auto server = ControllerServer::Start(**store, ServerOptions{});
  if (!server.ok()) return state.SkipWithError(server.status().message().c_str());
  const std::string addr = (*server)->address();

  std::vector<std::unique_ptr<SimAgent>> agents;
  for (int i = 0; i < n_agents; ++i) {
    auto a = std::make_unique<SimAgent>();
    a->id = "sim-" + std::to_string(i);
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // one connection per agent, as real agents have
    a->channel = grpc::CreateCustomChannel(addr, grpc::InsecureChannelCredentials(), args);
    a->stub = v1::Controller::NewStub(a->channel);
    grpc::ClientContext ctx;
    v1::RegisterAgentResponse resp;
    grpc::Status s = a->stub->RegisterAgent(&ctx, SimRegistration(a->id), &resp);
    if (!s.ok()) return state.SkipWithError(("RegisterAgent: " + s.error_message()).c_str());
    a->lease_req.set_agent_id(a->id);
    a->lease_req.set_device("sim");
    agents.push_back(std::move(a));
  }
  Fleet fleet(agents);
  int64_t total = 0;
  double wall = 0, cpu = 0;
  for (auto _ : state) {
    auto run = SubmitSimRun(**store, jobs);
    if (!run.ok()) return state.SkipWithError(run.status().message().c_str());
    const auto t0 = Clk::now();
    const double c0 = ProcessCpuSeconds();
    const int64_t stored = fleet.Drain();
    const double dt = std::chrono::duration<double>(Clk::now() - t0).count();
    cpu += ProcessCpuSeconds() - c0;
    wall += dt;
    state.SetIterationTime(dt);
    if (!fleet.error().empty()) return state.SkipWithError(fleet.error().c_str());
    if (stored != run->jobs) {
      return state.SkipWithError(("stored " + std::to_string(stored) + " of " + std::to_string(run->jobs)).c_str());
    }
    total += stored;
  }
  state.counters["agents"] = n_agents;
  // Process CPU (server + simulated agents) per wall second: near the core count = CPU-bound.
  state.counters["cpu_cores_busy"] = wall > 0 ? cpu / wall : 0;
  state.counters["jobs_per_s"] = benchmark::Counter(static_cast<double>(total), benchmark::Counter::kIsRate);
  (*server)->Shutdown();
}

// ---- 2. Result rows ingested per second (Store directly) --------------------------------------

constexpr int kLayers = 20, kSamples = 30;
constexpr int kRowsPerResult = 1 /*results*/ + 1 + kLayers /*tensor_metrics*/ + 1 + kSamples /*latency*/;

v1::Result RichTemplate() {
  v1::Result r;
  r.set_status(v1::Result::OK);
  r.set_model_sha256(std::string(64, 'a'));
  r.set_inputs_sha256(std::string(64, 'b'));
  r.set_profile_text("acc_bits=32,acc_overflow=wrap,rounding=half_even");
  r.set_kernels_build_id("bench-build gcc-12 -O2");
  r.set_agent_version("bench");
  r.set_deterministic(true);
  r.mutable_device()->set_device("sim");
  r.mutable_device()->set_cpu_model("Bench CPU");
  r.mutable_device()->add_isa_flags("avx2");
  r.mutable_device()->set_declared_profile("onnx");
  (*r.mutable_output_sha256())["y"] = std::string(64, 'c');
  auto metrics = [](v1::TensorMetrics* m, const std::string& name, int i) {
    m->set_value(name);
    m->set_node("node_" + std::to_string(i));
    m->set_elements(1024);
    m->set_mismatches(i % 3);
    m->set_max_abs_delta_lsb(i % 3 ? 1 : 0);
    m->set_mean_abs_delta_lsb(i % 3 ? 0.002 : 0);
    m->set_bit_exact(i % 3 == 0);
    if (i % 3) (*m->mutable_delta_histogram())[1] = i % 3;
    m->set_has_accuracy(true);
    m->set_sqnr_db(38.5);
    m->set_cosine(0.9999);
    m->set_max_abs_error(0.01);
    m->set_top1_agreement(1);
  };
  metrics(r.add_outputs(), "y", 0);
  for (int i = 0; i < kLayers; ++i) metrics(r.add_layers(), "t" + std::to_string(i), i);
  v1::LatencySummary* l = r.mutable_latency();
  for (int i = 0; i < kSamples; ++i) l->add_samples_ms(1.0 + 0.01 * i);
  l->set_cold_ms(3);
  l->set_min_ms(1);
  l->set_p50_ms(1.15);
  l->set_p90_ms(1.27);
  l->set_p99_ms(1.29);
  l->set_mean_ms(1.15);
  l->set_stddev_ms(0.09);
  l->set_cv(0.08);
  return r;
}

// range(0): reports per round (that many agents each lease one job); range(1): 1 = one IngestBatch
// per round, 0 = one Ingest per report; range(2): jobs per submitted run (a run is resubmitted when
// its queue is empty). Every ingest counts the run's unfinished jobs (FinishRunIfDone), so the
// run's size matters.
void BM_Ingest(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const bool batched = state.range(1) != 0;
  const int run_jobs = static_cast<int>(state.range(2));
  TempDb tmp("ingest");
  auto store = Store::Open(tmp.path, StoreOptions{.health_checks = false});
  if (!store.ok()) return state.SkipWithError(store.status().message().c_str());
  std::vector<std::string> agents;
  for (int i = 0; i < n; ++i) {
    agents.push_back("ing-" + std::to_string(i));
    Status s = (*store)->RegisterAgent(SimRegistration(agents.back()), Now());
    if (!s.ok()) return state.SkipWithError(s.message().c_str());
  }
  const v1::Result rich = RichTemplate();
  std::vector<v1::Result> reports(static_cast<size_t>(n), rich);
  int64_t results = 0;
  for (auto _ : state) {
    state.PauseTiming();
    for (int i = 0; i < n; ++i) {
      auto lease = (*store)->Lease(agents[static_cast<size_t>(i)], "sim", Now());
      if (lease.ok() && !lease->granted) {
        if (auto run = SubmitSimRun(**store, run_jobs); !run.ok()) return state.SkipWithError(run.status().message().c_str());
        lease = (*store)->Lease(agents[static_cast<size_t>(i)], "sim", Now());
      }
      if (!lease.ok() || !lease->granted) return state.SkipWithError("Lease: no job granted");
      v1::Result& r = reports[static_cast<size_t>(i)];
      r.set_job_id(lease->job.id());
      r.set_attempt(lease->job.attempt());
      r.set_agent_id(agents[static_cast<size_t>(i)]);
      r.set_device_name("sim");
    }
    const double now = Now();
    state.ResumeTiming();
    if (batched) {
      for (const auto& out : (*store)->IngestBatch(reports, now)) {
        if (!out.ok() || !out->stored) return state.SkipWithError("IngestBatch: a report was not stored");
      }
    } else {
      for (const v1::Result& r : reports) {
        auto out = (*store)->Ingest(r, now);
        if (!out.ok() || !out->stored) return state.SkipWithError("Ingest: a report was not stored");
      }
    }
    results += n;
  }
  state.counters["rows_per_result"] = kRowsPerResult;
  state.counters["results_per_s"] = benchmark::Counter(static_cast<double>(results), benchmark::Counter::kIsRate);
  state.counters["rows_per_s"] =
      benchmark::Counter(static_cast<double>(results) * kRowsPerResult, benchmark::Counter::kIsRate);
}

// ---- 3. History query latency over 1,000,000 results --------------------------------------------

constexpr const char* kBigDb = "/tmp/qfarm_bench_1M.db";
constexpr int kModels = 50, kDevices = 20, kRuns = 1000;  // 50 x 20 x 1000 = 1,000,000 results

// Bulk SQL into the schema's tables (one transaction): per run, every model on every device, each
// job done with a result and a latency summary (no per-tensor rows or samples: history reads
// neither). Built under a temporary name and renamed, so an interrupted build is never cached.
Status BuildBigDb() {
  const std::string tmp = std::string(kBigDb) + ".building";
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(tmp + suffix);
  const auto t0 = Clk::now();
  {
    QFARM_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, Store::Open(tmp, StoreOptions{.health_checks = false}));
    Status built = store->WithDb([](Db& db) -> Status {
      try {
        db.Exec("PRAGMA synchronous=OFF; PRAGMA cache_size=-262144;");
        Transaction tx(db);
        const double t_base = 1.7e9;
        std::vector<std::string> model_sha;
        Stmt blob(db, "INSERT INTO blobs(sha256, size, data, created_at) VALUES(?,?,?,?)");
        Stmt model(db, "INSERT INTO models(id, name, sha256) VALUES(?,?,?)");
        for (int m = 0; m < kModels; ++m) {
          const std::string bytes = "model-" + std::to_string(m) + " bytes";
          model_sha.push_back(Sha256Hex(bytes));
          blob.Reset().Bind(1, model_sha.back()).Bind(2, static_cast<int64_t>(bytes.size())).BindBlob(3, bytes);
          blob.Bind(4, t_base).Run();
          model.Reset().Bind(1, m + 1).Bind(2, "model-" + std::to_string(m)).Bind(3, model_sha.back()).Run();
        }
        Stmt agent(db, "INSERT INTO agents(id, version, registered_at, last_seen) VALUES(?,'bench',?,?)");
        Stmt device(db,
                    "INSERT INTO devices(id, agent_id, name, declared_profile, fingerprint_json, fingerprint_sha256, "
                    "tags, health, online, last_seen) VALUES(?,?,?,'onnx',?,?,?,'healthy',1,?)");
        std::vector<std::string> fingerprint;
        for (int d = 0; d < kDevices; ++d) {
          const std::string a = "agent-" + std::to_string(d), name = "dev-" + std::to_string(d);
          fingerprint.push_back("{\"device\":\"" + name +
                                "\",\"cpuModel\":\"Bench CPU\",\"isaFlags\":[\"avx2\"],\"os\":\"Linux 6.1\","
                                "\"emulatorVersion\":\"\",\"kernelsBuildId\":\"bench\",\"declaredProfile\":\"onnx\"}");
          agent.Reset().Bind(1, a).Bind(2, t_base).Bind(3, t_base).Run();
          device.Reset().Bind(1, a + "/" + name).Bind(2, a).Bind(3, name).Bind(4, fingerprint.back());
          device.Bind(5, Sha256Hex(fingerprint.back())).Bind(6, " " + name + " avx2 ").Bind(7, t_base).Run();
        }
        Stmt run(db, "INSERT INTO runs(id, name, spec, priority, state, created_at, finished_at) "
                     "VALUES(?,?,'bench',0,'done',?,?)");
        Stmt job(db,
                 "INSERT INTO jobs(id, run_id, kind, model_id, model_name, device, profile, inputs, repeat, priority, "
                 "warmup_runs, timed_runs, warmup_s, measure_s, timeout_s, state, attempt, max_attempts, "
                 "lease_device, created_at, finished_at) "
                 "VALUES(?,?,'run',?,?,?,'declared','{\"seed\":1}',0,0,3,30,0.2,1.0,600,'done',1,3,?,?,?)");
        Stmt result(db,
                    "INSERT INTO results(id, job_id, attempt, status, error, model, device, device_id, profile_text, "
                    "model_sha256, inputs_sha256, kernels_build_id, device_fingerprint, agent_version, output_sha256, "
                    "bit_exact, mismatches, elements, max_abs_delta_lsb, sqnr_db, first_diverging_node, "
                    "first_isolated, attribution, deterministic, p50_ms, created_at) "
                    "VALUES(?1,?1,1,?2,'',?3,?4,?5,'acc_bits=32,rounding=half_even',?6,?7,'bench',?8,'bench',?9,"
                    "?10,?11,1000,?12,?13,?14,?15,'',1,?16,?17)");
        Stmt latency(db,
                     "INSERT INTO latency(result_id, cold_ms, min_ms, p50_ms, p90_ms, p99_ms, mean_ms, stddev_ms, cv, "
                     "comparable, samples) VALUES(?,?,?,?,?,?,?,?,?,1,30)");
        const std::string inputs_sha = Sha256Hex("seed 1");
        int64_t id = 0;
        for (int r = 0; r < kRuns; ++r) {
          const double t = t_base + r * 3600.0;
          run.Reset().Bind(1, r + 1).Bind(2, "nightly-" + std::to_string(r)).Bind(3, t).Bind(4, t + 1800).Run();
          for (int m = 0; m < kModels; ++m) {
            const std::string model_name = "model-" + std::to_string(m);
            for (int d = 0; d < kDevices; ++d) {
              ++id;
              const std::string name = "dev-" + std::to_string(d), dev_id = "agent-" + std::to_string(d) + "/" + name;
              const double done = t + 1 + static_cast<double>(id % 1000);
              job.Reset().Bind(1, id).Bind(2, r + 1).Bind(3, m + 1).Bind(4, model_name).Bind(5, name);
              job.Bind(6, dev_id).Bind(7, t).Bind(8, done).Run();
              const bool divergent = (id % 20) == 0;  // 5% divergent
              const int64_t mismatches = divergent ? 1 + id % 7 : 0;
              const double p50 = 0.5 + 0.1 * m + 0.05 * d + 0.02 * std::sin(static_cast<double>(id));
              result.Reset().Bind(1, id).Bind(2, divergent ? "divergent" : "ok").Bind(3, model_name).Bind(4, name);
              result.Bind(5, dev_id).Bind(6, model_sha[static_cast<size_t>(m)]).Bind(7, inputs_sha);
              result.Bind(8, fingerprint[static_cast<size_t>(d)]);
              result.Bind(9, "{\"y\":\"" + Sha256Hex(std::to_string(id % 97)) + "\"}");
              result.Bind(10, divergent ? 0 : 1).Bind(11, mismatches).Bind(12, divergent ? int64_t{1} : int64_t{0});
              result.Bind(13, divergent ? 31.5 : 45.0).Bind(14, divergent ? "conv_" + std::to_string(id % 5) : "");
              result.Bind(15, divergent ? "rounding tie" : "").Bind(16, p50).Bind(17, done).Run();
              latency.Reset().Bind(1, id).Bind(2, p50 * 3).Bind(3, p50 * 0.9).Bind(4, p50).Bind(5, p50 * 1.1);
              latency.Bind(6, p50 * 1.3).Bind(7, p50 * 1.02).Bind(8, p50 * 0.05).Bind(9, 0.05).Run();
            }
          }
        }
        tx.Commit();
        db.Exec("PRAGMA wal_checkpoint(TRUNCATE)");
      } catch (const DbError& e) {
        return Internal(std::string("building ") + kBigDb + ": " + e.what());
      }
      return Status::Ok();
    });
    QFARM_RETURN_IF_ERROR(built);
  }
  for (const char* suffix : {"-wal", "-shm"}) fs::remove(tmp + suffix);
  fs::rename(tmp, kBigDb);
  std::fprintf(stderr, "built %s (%d results) in %.1f s\n", kBigDb, kModels * kDevices * kRuns,
               std::chrono::duration<double>(Clk::now() - t0).count());
  return Status::Ok();
}

// range(0): 0 = device named by kind ("dev-3"), 1 = by id ("agent-3/dev-3").
void BM_History(benchmark::State& state) {
  static Status built = fs::exists(kBigDb) ? Status::Ok() : BuildBigDb();
  if (!built.ok()) return state.SkipWithError(built.message().c_str());
  auto store = Store::Open(kBigDb, StoreOptions{.health_checks = false});
  if (!store.ok()) return state.SkipWithError(store.status().message().c_str());
  const nlohmann::json args = {{"model", "model-7"},
                               {"device", state.range(0) ? "agent-3/dev-3" : "dev-3"},
                               {"metric", "p50_ms"},
                               {"limit", 1000}};
  std::vector<double> ms;
  size_t rows = 0;
  for (auto _ : state) {
    const auto t0 = Clk::now();
    auto out = RunQuery(**store, "history", args);
    ms.push_back(std::chrono::duration<double, std::milli>(Clk::now() - t0).count());
    if (!out.ok()) return state.SkipWithError(out.status().message().c_str());
    rows = out->size();
  }
  std::sort(ms.begin(), ms.end());
  auto pct = [&](double p) {
    const size_t i = static_cast<size_t>(std::ceil(p * static_cast<double>(ms.size())));
    return ms[std::min(ms.size() - 1, i == 0 ? 0 : i - 1)];
  };
  state.counters["stored_results"] = kModels * kDevices * kRuns;
  state.counters["rows"] = static_cast<double>(rows);
  state.counters["p50_ms"] = pct(0.50);
  state.counters["p95_ms"] = pct(0.95);
}

void RegisterAll() {
  benchmark::RegisterBenchmark("Controller/Loopback", BM_Loopback)
      ->ArgNames({"agents", "jobs"})
      ->Args({200, 4000})
      ->Args({200, 1000})
      ->Args({20, 4000})
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("Controller/Ingest", BM_Ingest)
      ->ArgNames({"reports", "batch", "run_jobs"})
      ->Args({64, 0, 20000})
      ->Args({64, 1, 20000})
      ->Args({64, 0, 1000})
      ->Args({64, 1, 1000})
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("Controller/History", BM_History)
      ->ArgName("by_id")
      ->Arg(0)
      ->Arg(1)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
}

}  // namespace
}  // namespace qfarm::controller

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  qfarm::controller::RegisterAll();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
