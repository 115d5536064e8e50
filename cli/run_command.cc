// farmctl run and farmctl profiles.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "agent/device.h"
#include "agent/hash.h"
#include "agent/inputs.h"
#include "agent/latency.h"
#include "cli/commands.h"
#include "cli/model_input.h"
#include "model/onnx/onnx_io.h"
#include "model/builtin.h"
#include "model/qdq_fusion.h"
#include "model/validate.h"

namespace qfarm::cli {

int ReportError(const Status& status) {
  std::fprintf(stderr, "farmctl: error: %s\n", status.message().c_str());
  return 2;
}

std::string SafeFileName(const std::string& name) {
  std::string out;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    out += ok ? c : '_';
  }
  if (out.empty() || out == "." || out == "..") out = "_" + out;
  return out;
}

namespace {

StatusOr<TensorMap> LoadInputs(const Graph& graph, const RunArgs& args) {
  return LoadInputFiles(graph, args.inputs, args.seed);
}

Status WriteOutputs(const std::string& dir, const TensorMap& outputs) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return InvalidArgument(dir + ": cannot create output directory: " + ec.message());
  for (const auto& [name, t] : outputs) {
    const std::string base = (std::filesystem::path(dir) / SafeFileName(name)).string();
    QFARM_RETURN_IF_ERROR(WriteTensorProtoFile(base + ".pb", name, t));
    QFARM_RETURN_IF_ERROR(WriteNpy(base + ".npy", t));
  }
  return Status::Ok();
}

}  // namespace

StatusOr<PreparedJob> PrepareJob(const RunArgs& args) {
  PreparedJob job;
  QFARM_ASSIGN_OR_RETURN(Graph g, LoadOnnxModel(args.model));
  job.graph = FuseQdq(g, &job.fused);
  QFARM_ASSIGN_OR_RETURN(job.device, OpenDevice(args.device));
  QFARM_ASSIGN_OR_RETURN(job.inputs, LoadInputs(job.graph, args));
  return job;
}

int RunCommand(const RunArgs& args) {
  auto job = PrepareJob(args);
  if (!job.ok()) return ReportError(job.status());
  auto profile = ProfileForDevice(*job->device, args.profile);
  if (!profile.ok()) return ReportError(profile.status());
  const auto start = std::chrono::steady_clock::now();
  auto result = job->device->Run(job->graph, *profile, job->inputs, ExecOptions{});
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (!result.ok()) return ReportError(result.status().WithContext(args.model));
  if (!args.output_dir.empty()) {
    Status s = WriteOutputs(args.output_dir, result->outputs);
    if (!s.ok()) return ReportError(s);
  }
  std::optional<LatencySummary> latency;
  if (args.latency) {
    auto l = MeasureLatency(*job->device, job->graph, *profile, job->inputs, LatencyOptions{});
    if (!l.ok()) return ReportError(l.status().WithContext(args.model));
    latency = *l;
  }
  const std::string profile_text = ProfileToText(*profile, true);
  if (args.json) {
    nlohmann::json j;
    j["model"] = args.model;
    j["device"] = args.device;
    j["profile"] = profile_text;
    j["seed"] = args.seed;
    j["macs"] = result->macs;
    j["device_fingerprint"] = job->device->info().fingerprint;
    if (latency) {
      j["latency"] = {{"cold_ms", latency->cold_ms}, {"runs", latency->samples_ms.size()},
                      {"min_ms", latency->min_ms}, {"p50_ms", latency->p50_ms}, {"p90_ms", latency->p90_ms},
                      {"p99_ms", latency->p99_ms}, {"mean_ms", latency->mean_ms}, {"stddev_ms", latency->stddev_ms},
                      {"cv", latency->cv}, {"comparable_to_hardware", latency->comparable_to_hardware},
                      {"samples_ms", latency->samples_ms}};
    }
    j["time_ms"] = ms;
    for (const FusionRecord& f : job->fused) {
      j["fused"].push_back({{"node", f.fused_node}, {"op", f.op_type}, {"replaced", f.source_nodes}});
    }
    for (const auto& [name, t] : result->outputs) {
      j["outputs"].push_back({{"name", name}, {"dtype", DTypeName(t.dtype())},
                              {"shape", t.shape()}, {"sha256", TensorSha256(t)}});
    }
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  fmt::print("model:   {}\ndevice:  {}\nprofile: {}\nseed:    {}\n", args.model, args.device,
             profile_text, args.seed);
  for (const FusionRecord& f : job->fused) {
    std::string src;
    for (const std::string& s : f.source_nodes) src += (src.empty() ? "" : ", ") + s;
    fmt::print("fused:   {} ({}) from {}\n", f.fused_node, f.op_type, src);
  }
  for (const auto& [name, t] : result->outputs) {
    fmt::print("output:  {} {} {} sha256={}\n", name, DTypeName(t.dtype()), ShapeToString(t.shape()),
               TensorSha256(t));
  }
  fmt::print("macs:    {}\ntime:    {:.3f} ms\n", result->macs, ms);
  if (latency) {
    fmt::print("latency: cold {:.3f} ms; {} runs: min {:.3f}, p50 {:.3f}, p90 {:.3f}, p99 {:.3f}, mean {:.3f} ms, CV {:.3f}{}\n",
               latency->cold_ms, latency->samples_ms.size(), latency->min_ms, latency->p50_ms, latency->p90_ms,
               latency->p99_ms, latency->mean_ms, latency->cv,
               latency->comparable_to_hardware ? "" : " (emulated: not comparable to hardware)");
  }
  return 0;
}

int ProfilesCommand(bool json) {
  nlohmann::json j = nlohmann::json::array();
  for (const NamedProfile& p : NamedProfiles()) {
    if (json) {
      j.push_back({{"name", p.name}, {"text", p.text}, {"who", p.who}});
    } else {
      fmt::print("{:<14} {:<80} {}\n", p.name, p.text, p.who);
    }
  }
  if (json) std::printf("%s\n", j.dump(2).c_str());
  return 0;
}

}  // namespace qfarm::cli

namespace qfarm::cli {

int ModelsCommand(const std::string& export_dir) {
  for (const BuiltinModel& m : BuiltinSuite()) {
    if (export_dir.empty()) {
      fmt::print("{:<22} {} nodes, inputs:", m.name, m.graph.nodes.size());
      for (const ValueInfo& v : m.graph.inputs) fmt::print(" {} {} {}", v.name, DTypeName(v.dtype), ShapeToString(v.shape));
      fmt::print("\n");
      continue;
    }
    std::error_code ec;
    std::filesystem::create_directories(export_dir, ec);
    const std::string path = (std::filesystem::path(export_dir) / (m.name + ".onnx")).string();
    Status s = SaveOnnxModel(m.graph, path);
    if (!s.ok()) return ReportError(s);
    for (const auto& [name, t] : m.sample_inputs) {
      s = WriteTensorProtoFile((std::filesystem::path(export_dir) / (m.name + "." + SafeFileName(name) + ".pb")).string(), name, t);
      if (!s.ok()) return ReportError(s);
    }
    fmt::print("{}\n", path);
  }
  return 0;
}

}  // namespace qfarm::cli

namespace qfarm::cli {

int DevicesCommand(bool json) {
  nlohmann::json j = nlohmann::json::array();
  for (const std::string& name : ListDevices()) {
    auto dev = OpenDevice(name);
    if (!dev.ok()) return ReportError(dev.status());
    const DeviceInfo& info = (*dev)->info();
    if (json) {
      j.push_back({{"name", info.name}, {"declared_profile", info.declared_profile}, {"computes", info.computes},
                   {"emulated", info.emulated}, {"description", info.description}, {"fingerprint", info.fingerprint}});
      continue;
    }
    fmt::print("{:<17} declares {:<10} {}{}\n", info.name, info.declared_profile, info.description,
               info.emulated ? " (emulated)" : "");
    for (const auto& [k, v] : info.fingerprint) fmt::print("    {:<17} {}\n", k, v);
  }
  if (json) std::printf("%s\n", j.dump(2).c_str());
  return 0;
}

}  // namespace qfarm::cli
