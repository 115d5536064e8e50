#include "agent/job_runner.h"

#include <fstream>
#include <sstream>

#include "agent/arith_probe.h"
#include "agent/diff.h"
#include "agent/hash.h"
#include "agent/inputs.h"
#include "agent/latency.h"
#include "common/file.h"
#include "model/builtin.h"
#include "model/onnx/onnx_io.h"
#include "model/qdq_fusion.h"

namespace qfarm {
namespace {

struct Loaded {
  Graph graph;
  std::string model_sha256;
  TensorMap inputs;
  Profile device_profile, emulator_profile;
};

StatusOr<Graph> BuiltinGraph(const std::string& name) {
  const std::string want = name.substr(std::string("builtin:").size());
  for (BuiltinModel& m : BuiltinSuite()) {
    if (m.name == want) return std::move(m.graph);
  }
  return NotFound("model '" + name + "' is not a built-in model");
}


StatusOr<Loaded> Load(const v1::Job& job, const JobFiles& files, Device& device) {
  Loaded l;
  Graph g;
  if (files.model_path.empty()) {
    QFARM_ASSIGN_OR_RETURN(g, BuiltinGraph(job.model().name()));
    QFARM_ASSIGN_OR_RETURN(std::string bytes, SerializeOnnxModel(g));
    l.model_sha256 = Sha256Hex(bytes);
  } else {
    QFARM_ASSIGN_OR_RETURN(std::string bytes, ReadFileBytes(files.model_path));
    l.model_sha256 = Sha256Hex(bytes);
    QFARM_ASSIGN_OR_RETURN(g, ParseOnnxModel(bytes, job.model().name()));
  }
  l.graph = FuseQdq(g, nullptr);
  const uint64_t seed = job.inputs().has_tensors() ? 1 : job.inputs().seed();
  QFARM_ASSIGN_OR_RETURN(l.inputs, LoadInputFiles(l.graph, files.input_paths, seed));
  QFARM_ASSIGN_OR_RETURN(l.device_profile, ProfileForDevice(device, ""));
  const std::string& p = job.profile().text();
  QFARM_ASSIGN_OR_RETURN(l.emulator_profile,
                         ParseProfile(p.empty() || p == "declared" ? device.info().declared_profile : p));
  return l;
}

std::string InputsSha256(const TensorMap& inputs) {
  std::string all;
  for (const auto& [name, t] : inputs) all += name + "=" + TensorSha256(t) + ";";
  return Sha256Hex(all);
}

void FillMetrics(const DivergenceMetrics& m, v1::TensorMetrics* out) {
  out->set_elements(m.elements);
  out->set_mismatches(m.mismatches);
  out->set_max_abs_delta_lsb(m.max_abs_delta_lsb);
  out->set_mean_abs_delta_lsb(m.mean_abs_delta_lsb);
  out->set_bit_exact(m.bit_exact);
  out->set_ties_only(m.ties_only);
  for (const auto& [delta, count] : m.delta_histogram) (*out->mutable_delta_histogram())[delta] = count;
}

void FillReport(const DiffReport& d, v1::Result* r) {
  for (const auto& [name, m] : d.outputs) {
    v1::TensorMetrics* t = r->add_outputs();
    t->set_value(name);
    FillMetrics(m, t);
    if (auto a = d.accuracy.find(name); a != d.accuracy.end()) {
      t->set_has_accuracy(true);
      t->set_sqnr_db(a->second.sqnr_db);
      t->set_cosine(a->second.cosine);
      t->set_max_abs_error(a->second.max_abs_error);
      t->set_top1_agreement(a->second.top1_agreement ? *a->second.top1_agreement : -1);
    }
  }
  for (const LayerDivergence& l : d.layers) {
    v1::TensorMetrics* t = r->add_layers();
    t->set_value(l.value);
    t->set_node(l.node);
    FillMetrics(l.metrics, t);
  }
  for (const auto& [name, sha] : d.output_sha256) (*r->mutable_output_sha256())[name] = sha;
  r->set_first_diverging_node(d.first_node);
  r->set_first_divergence_isolated(d.first_isolated);
  r->set_attribution(d.attribution);
  r->set_deterministic(d.deterministic);
  r->set_status(d.bit_exact && d.deterministic ? v1::Result::OK : v1::Result::DIVERGENT);
}

void FillLatency(const LatencySummary& s, v1::LatencySummary* l) {
  l->set_cold_ms(s.cold_ms);
  for (double v : s.samples_ms) l->add_samples_ms(v);
  l->set_min_ms(s.min_ms);
  l->set_p50_ms(s.p50_ms);
  l->set_p90_ms(s.p90_ms);
  l->set_p99_ms(s.p99_ms);
  l->set_mean_ms(s.mean_ms);
  l->set_stddev_ms(s.stddev_ms);
  l->set_cv(s.cv);
  l->set_comparable_to_hardware(s.comparable_to_hardware);
}

// "key=v1|v2;..." over every profile key, or "none: <probe>".
std::string ArithText(const ArithFingerprint& f) {
  if (!f.ruled_out_by.empty()) return "none: " + f.ruled_out_by;
  std::string s;
  for (const auto& [key, values] : f.keys) {
    s += (s.empty() ? "" : ";") + key + "=";
    for (size_t i = 0; i < values.size(); ++i) s += (i ? "|" : "") + values[i];
  }
  return s;
}

}  // namespace

void FillFingerprint(const DeviceInfo& info, v1::DeviceFingerprint* fp) {
  fp->set_device(info.name);
  fp->set_declared_profile(info.declared_profile);
  auto get = [&](const char* key) {
    auto it = info.fingerprint.find(key);
    return it == info.fingerprint.end() ? std::string() : it->second;
  };
  fp->set_cpu_model(get("cpu_model"));
  fp->set_os(get("os"));
  fp->set_emulator_version(get("emulator_version"));
  fp->set_kernels_build_id(get("kernels_build_id"));
  std::istringstream flags(get("isa_flags"));
  for (std::string f; flags >> f;) fp->add_isa_flags(f);
}

v1::Result FailedResult(const v1::Job& job, const std::string& device, const AgentIdentity& who,
                        v1::Result::Status status, const std::string& why) {
  v1::Result r;
  r.set_job_id(job.id());
  r.set_attempt(job.attempt());
  r.set_agent_id(who.agent_id);
  r.set_agent_version(who.version);
  r.set_device_name(device);
  r.set_status(status);
  r.set_error(why);
  return r;
}

std::string AgentVersion() { return std::string("qfarm-agent ") + QFARM_AGENT_VERSION; }

v1::Result RunJob(const v1::Job& job, const JobFiles& files, Device& device, const AgentIdentity& who) {
  const std::string& name = device.info().name;
  auto loaded = Load(job, files, device);
  if (!loaded.ok()) return FailedResult(job, name, who, v1::Result::JOB_ERROR, loaded.status().message());
  v1::Result r = FailedResult(job, name, who, v1::Result::OK, "");
  FillFingerprint(device.info(), r.mutable_device());
  r.set_kernels_build_id(r.device().kernels_build_id());
  r.set_model_sha256(loaded->model_sha256);
  r.set_inputs_sha256(InputsSha256(loaded->inputs));
  r.set_profile_text(ProfileToText(loaded->emulator_profile, true));
  auto diff = Diff(device, loaded->graph, loaded->device_profile, loaded->emulator_profile, loaded->inputs);
  if (!diff.ok()) return FailedResult(job, name, who, v1::Result::INFRA_FAILURE, name + ": " + diff.status().message());
  FillReport(*diff, &r);
  if (job.probe_arithmetic()) {
    auto f = ProbeArithmetic(device);
    if (!f.ok()) {
      return FailedResult(job, name, who, v1::Result::INFRA_FAILURE, name + ": arithmetic probes: " + f.status().message());
    }
    r.set_arith_fingerprint(ArithText(*f));
  }
  if (job.timed_runs() > 0) {
    LatencyOptions o;
    o.min_warmup_runs = job.warmup_runs();
    o.min_warmup_s = job.warmup_s();
    o.min_runs = job.timed_runs();
    o.min_s = job.measure_s();
    auto latency = MeasureLatency(device, loaded->graph, loaded->device_profile, loaded->inputs, o);
    if (!latency.ok()) {
      return FailedResult(job, name, who, v1::Result::INFRA_FAILURE, name + ": latency: " + latency.status().message());
    }
    FillLatency(*latency, r.mutable_latency());
  }
  return r;
}

}  // namespace qfarm
