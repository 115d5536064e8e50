// farmctl diff: the device as it is against the emulator, down to the first diverging node.
#include <cmath>
#include <cstdio>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "agent/diff.h"
#include "cli/commands.h"
#include "cli/model_input.h"

namespace qfarm::cli {
namespace {

std::string Histogram(const DivergenceMetrics& m) {
  std::string s;
  for (const auto& [delta, count] : m.delta_histogram) s += fmt::format("{}{:+}:{}", s.empty() ? "" : " ", delta, count);
  return s;
}

nlohmann::json MetricsJson(const DivergenceMetrics& m) {
  nlohmann::json hist = nlohmann::json::object();
  for (const auto& [delta, count] : m.delta_histogram) hist[std::to_string(delta)] = count;
  return {{"elements", m.elements}, {"mismatches", m.mismatches}, {"max_abs_delta_lsb", m.max_abs_delta_lsb},
          {"mean_abs_delta_lsb", m.mean_abs_delta_lsb}, {"bit_exact", m.bit_exact},
          {"ties_only", m.ties_only}, {"delta_histogram", hist}};
}

void PrintJson(const DiffArgs& args, const DiffReport& r, const std::map<std::string, std::string>& fingerprint) {
  nlohmann::json j;
  j["model"] = args.run.model;
  j["device"] = r.device;
  j["emulator_profile"] = r.profile_text;
  j["seed"] = args.run.seed;
  j["bit_exact"] = r.bit_exact;
  j["device_fingerprint"] = fingerprint;
  j["deterministic"] = r.deterministic;
  j["repeats"] = r.repeats;
  j["first_diverging_node"] = r.first_node.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.first_node);
  j["first_divergence"] = r.first_node.empty() ? "none" : (r.first_isolated ? "isolated" : "inherited");
  if (!r.first_node.empty()) j["attribution"] = r.attribution;
  for (const auto& [name, m] : r.outputs) {
    nlohmann::json o = MetricsJson(m);
    o["name"] = name;
    o["sha256"] = r.output_sha256.at(name);
    if (auto a = r.accuracy.find(name); a != r.accuracy.end()) {
      o["sqnr_db"] = std::isinf(a->second.sqnr_db) ? nlohmann::json("inf") : nlohmann::json(a->second.sqnr_db);
      o["cosine"] = a->second.cosine;
      o["max_abs_error"] = a->second.max_abs_error;
      if (a->second.top1_agreement) o["top1_agreement"] = *a->second.top1_agreement;
    }
    j["outputs"].push_back(o);
  }
  if (args.layers) {
    j["layers"] = nlohmann::json::array();
    for (const LayerDivergence& l : r.layers) {
      nlohmann::json o = MetricsJson(l.metrics);
      o["node"] = l.node;
      o["op"] = l.op;
      o["value"] = l.value;
      if (!l.metrics.bit_exact) o["divergence"] = l.isolated ? "isolated" : "inherited";
      j["layers"].push_back(o);
    }
  }
  std::printf("%s\n", j.dump(2).c_str());
}

void PrintText(const DiffArgs& args, const DiffReport& r) {
  fmt::print("model:    {}\ndevice:   {}\nemulator: {}\nseed:     {}\n", args.run.model, r.device,
             r.profile_text, args.run.seed);
  if (!r.deterministic) {
    fmt::print("result:   NON-DETERMINISTIC: {} repeated runs on the same inputs gave different outputs\n", r.repeats);
  }
  if (r.bit_exact && !r.first_node.empty()) {
    fmt::print("result:   BIT-EXACT outputs, but intermediate values diverge from node '{}' (masked downstream)\n",
               r.first_node);
    fmt::print("cause:    {}\n", r.attribution);
  } else if (r.bit_exact) {
    fmt::print("result:   BIT-EXACT\n");
  } else {
    fmt::print("result:   DIVERGENT, first diverging node '{}' ({})\n", r.first_node,
               r.first_isolated ? "diverges on its own" : "inherits upstream error");
    fmt::print("cause:    {}\n", r.attribution);
  }
  for (const auto& [name, m] : r.outputs) {
    fmt::print("output {}: {} of {} elements differ, max |Δ| {} LSB, mean |Δ| {:.4f}, ties only: {}{}\n",
               name, m.mismatches, m.elements, m.max_abs_delta_lsb, m.mean_abs_delta_lsb,
               m.ties_only ? "yes" : "no", m.mismatches ? ", Δ histogram " + Histogram(m) : "");
    if (auto a = r.accuracy.find(name); a != r.accuracy.end()) {
      fmt::print("  vs real-valued reference: SQNR {:.2f} dB, cosine {:.6f}, max abs error {:.6g}{}\n",
                 a->second.sqnr_db, a->second.cosine, a->second.max_abs_error,
                 a->second.top1_agreement ? fmt::format(", top-1 agreement {:.3f}", *a->second.top1_agreement) : "");
    }
  }
  if (!args.layers) return;
  fmt::print("\n{:<24} {:<26} {:>12} {:>8} {:<5} {}\n", "node", "op", "mismatches", "max|Δ|", "ties", "divergence");
  for (const LayerDivergence& l : r.layers) {
    fmt::print("{:<24} {:<26} {:>12} {:>8} {:<5} {}\n", l.node, l.op,
               fmt::format("{}/{}", l.metrics.mismatches, l.metrics.elements), l.metrics.max_abs_delta_lsb,
               l.metrics.bit_exact ? "-" : (l.metrics.ties_only ? "yes" : "no"),
               l.metrics.bit_exact ? "bit-exact" : (l.isolated ? "isolated" : "inherited"));
  }
}

}  // namespace

int DiffCommand(const DiffArgs& args) {
  auto job = PrepareJob(args.run);
  if (!job.ok()) return ReportError(job.status());
  // The emulator runs the profile asked for, else the one the device declares; the device runs
  // as it is (its declared profile).
  auto device_profile = ProfileForDevice(*job->device, "");
  if (!device_profile.ok()) return ReportError(device_profile.status());
  auto emulator_profile = ParseProfile(args.run.profile.empty() ? job->device->info().declared_profile
                                                                 : args.run.profile);
  if (!emulator_profile.ok()) return ReportError(emulator_profile.status());
  auto report = Diff(*job->device, job->graph, *device_profile, *emulator_profile, job->inputs);
  if (!report.ok()) return ReportError(report.status().WithContext(args.run.model));
  if (args.json) {
    PrintJson(args, *report, job->device->info().fingerprint);
  } else {
    PrintText(args, *report);
  }
  return report->bit_exact && report->deterministic ? 0 : 1;
}

}  // namespace qfarm::cli
