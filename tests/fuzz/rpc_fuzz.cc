// libFuzzer target: the controller's RPC handlers at the store level (docs/fuzzing.md).
//
// Input: one handler byte, then that handler's request message (proto/farm.proto, protobuf wire
// format). Each handler does what controller/service.cc does with the request on one Store,
// opened once per process on ":memory:" and seeded with an agent, a device, a stored blob and a
// small run, so Lease/Ingest/Heartbeat reach real jobs. The clock is fixed and advances 7 s per
// input (leases expire, agents go silent). Errors are fine; crashes and sanitizer reports are not.
//
// Handler byte % 11: 0 RegisterAgent, 1 Heartbeat, 2 LeaseJob, 3 ReportResult (Ingest),
// 4 IngestBatch (the rest is a sequence of varint-length-prefixed Result messages),
// 5 SubmitRun (ParseRunSpec + PutBlob of the uploads the spec names + Submit), 6 GetRun,
// 7 CancelRun, 8 Query (kind + args JSON), 9 FetchBlob (ReadBlob), 10 Sweep.
//
// Because the store is shared, a crash may depend on earlier inputs of the same process; the
// reproducer is replayed after the seed state, which is usually enough. If not, replay the
// corpus directory together with it.
#include <google/protobuf/io/coded_stream.h>
#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "controller/queries.h"
#include "controller/run_spec.h"
#include "controller/store.h"
#include "farm.pb.h"

namespace {

using namespace qfarm::controller;
namespace v1 = qfarm::v1;

double g_now = 1.7e9;

// The seed state: agent "fa" with devices "cpu" and "npu", one model blob, one run.
std::unique_ptr<Store> OpenSeeded() {
  auto store = Store::Open(":memory:");
  if (!store.ok()) __builtin_trap();
  Store& s = **store;
  v1::RegisterAgentRequest reg;
  reg.set_agent("fa");
  reg.set_version("fuzz");
  for (const char* dev : {"cpu", "npu"}) {
    v1::DeviceFingerprint* fp = reg.add_devices();
    fp->set_device(dev);
    fp->set_cpu_model("fuzz");
    fp->add_isa_flags("avx2");
    fp->set_declared_profile("tflite");
  }
  (void)s.RegisterAgent(reg, g_now);
  auto sha = s.PutBlob("model bytes", g_now);
  const std::string yaml =
      "name: seed\nrepeats: 2\nmodels: [m.onnx]\ndevices: [fa/cpu, fa/npu]\n"
      "profiles: [declared, tflite]\ninputs: [{seed: 1}, {seed: 2}]\n";
  auto spec = ParseRunSpec(yaml, "seed.yaml");
  if (spec.ok() && sha.ok()) (void)s.Submit(*spec, yaml, {{"m.onnx", *sha}}, g_now);
  return std::move(*store);
}

void SubmitRun(Store& store, const v1::SubmitRunRequest& req, double now) {
  auto spec = ParseRunSpec(req.yaml(), "run");
  if (!spec.ok()) return;
  const std::vector<std::string> files = SpecFiles(*spec);
  const std::set<std::string> named(files.begin(), files.end());
  std::map<std::string, std::string> shas;
  if (req.blobs_size() > 64) return;
  for (const v1::BlobUpload& b : req.blobs()) {
    if (!named.count(b.name())) return;
    auto sha = store.PutBlob(b.data(), now);
    if (!sha.ok()) return;
    shas[b.name()] = *sha;
  }
  (void)store.Submit(*spec, req.yaml(), shas, now);
}

template <typename M>
bool Parse(M* m, const uint8_t* data, size_t size) {
  return m->ParseFromArray(data, static_cast<int>(size));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::unique_ptr<Store> store = OpenSeeded();
  if (size == 0) return 0;
  g_now += 7;
  const double now = g_now;
  Store& s = *store;
  const uint8_t handler = data[0] % 11;
  ++data, --size;
  switch (handler) {
    case 0: {
      v1::RegisterAgentRequest req;
      if (Parse(&req, data, size)) (void)s.RegisterAgent(req, now);
      break;
    }
    case 1: {
      v1::HeartbeatRequest req;
      if (!Parse(&req, data, size)) break;
      const std::vector<int64_t> running(req.running_job_ids().begin(), req.running_job_ids().end());
      (void)s.Heartbeat(req.agent_id(), running, now);
      break;
    }
    case 2: {
      v1::LeaseJobRequest req;
      if (Parse(&req, data, size)) (void)s.Lease(req.agent_id(), req.device(), now);
      break;
    }
    case 3: {
      v1::Result req;
      if (Parse(&req, data, size)) (void)s.Ingest(req, now);
      break;
    }
    case 4: {
      google::protobuf::io::CodedInputStream in(data, static_cast<int>(size));
      std::vector<v1::Result> results;
      uint32_t len = 0;
      while (results.size() < 64 && in.ReadVarint32(&len)) {
        std::string bytes;
        if (!in.ReadString(&bytes, static_cast<int>(len))) break;
        if (!results.emplace_back().ParseFromString(bytes)) results.pop_back();
      }
      (void)s.IngestBatch(results, now);
      break;
    }
    case 5: {
      v1::SubmitRunRequest req;
      if (Parse(&req, data, size)) SubmitRun(s, req, now);
      break;
    }
    case 6: {
      v1::GetRunRequest req;
      if (Parse(&req, data, size)) (void)s.GetRun(req.run_id());
      break;
    }
    case 7: {
      v1::CancelRunRequest req;
      if (Parse(&req, data, size)) (void)s.CancelRun(req.run_id(), now);
      break;
    }
    case 8: {
      v1::QueryRequest req;
      if (!Parse(&req, data, size)) break;
      const nlohmann::json args = req.args_json().empty() ? nlohmann::json::object()
                                                          : nlohmann::json::parse(req.args_json(), nullptr, false);
      if (args.is_discarded()) break;
      auto answer = RunQuery(s, req.kind(), args);
      if (answer.ok()) (void)answer->dump();
      break;
    }
    case 9: {
      v1::FetchBlobRequest req;
      if (!Parse(&req, data, size)) break;
      int64_t total = 0;
      (void)s.ReadBlob(req.sha256(), req.offset(), int64_t{1} << 20, &total);
      break;
    }
    case 10:
      (void)s.Sweep(now);
      break;
  }
  return 0;
}
