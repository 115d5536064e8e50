// farmctl nightly --local: the built-in suite on every device this machine has, each diffed
// against the emulator with its declared profile (determinism probe, latency), then the emulator
// under every named profile with, per profile, where it first departs from `onnx`. The
// controller, SQLite store and HTML report are not built yet; this says so rather than
// pretending to store anything.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include <fmt/core.h>

#include "agent/device.h"
#include "agent/diff.h"
#include "agent/latency.h"
#include "agent/hash.h"
#include "agent/metrics.h"
#include "cli/commands.h"
#include "model/builtin.h"
#include "model/qdq_fusion.h"

namespace qfarm::cli {
namespace {

// Combined hash of all graph outputs.
std::string OutputsHash(const TensorMap& outputs) {
  std::string all;
  for (const auto& [name, t] : outputs) all += name + "=" + TensorSha256(t) + ";";
  return Sha256Hex(all);
}

// The first node (graph order) whose output differs between two captured runs, or "".
std::string FirstDivergingNode(const Graph& g, const ExecResult& a, const ExecResult& b,
                               int64_t* mismatches, int64_t* max_delta) {
  for (const Node& n : g.nodes) {
    for (const std::string& out : n.outputs) {
      auto ia = a.intermediates.find(out), ib = b.intermediates.find(out);
      if (ia == a.intermediates.end() || ib == b.intermediates.end()) continue;
      auto m = CompareQuantized(ia->second, ib->second);
      if (m.ok() && !m->bit_exact) {
        *mismatches = m->mismatches;
        *max_delta = m->max_abs_delta_lsb;
        return n.name;
      }
    }
  }
  return "";
}


// Device × model matrix: each device against the emulator with its declared profile, a
// determinism probe, and latency by DESIGN.md's rules (agent/latency.h): p50 and CV.
int DeviceMatrix(const std::vector<BuiltinModel>& suite, const LatencyOptions& latency_options) {
  fmt::print("\n{:<22} {:<17} {:<14} {:<10} {:>9} {:>7} {}\n", "model", "device", "profile", "result",
             "p50 ms", "CV", "first diverging node (mismatches, max |Δ| LSB)");
  int failures = 0;
  for (const std::string& name : ListDevices()) {
    if (name == "reference") continue;
    auto dev = OpenDevice(name);
    if (!dev.ok()) return ReportError(dev.status());
    const Profile declared = *ParseProfile((*dev)->info().declared_profile);
    for (const BuiltinModel& m : suite) {
      const Graph g = FuseQdq(m.graph, nullptr);
      auto report = Diff(**dev, g, declared, declared, m.sample_inputs);
      if (!report.ok()) {
        ++failures;
        fmt::print("{:<22} {:<17} error: {}\n", m.name, name, report.status().message());
        continue;
      }
      auto latency = MeasureLatency(**dev, g, declared, m.sample_inputs, latency_options);
      const bool deterministic = report->deterministic && latency.ok();
      const bool ok = report->bit_exact && deterministic;
      failures += ok ? 0 : 1;
      std::string first = "-";
      for (const LayerDivergence& l : report->layers) {
        if (l.node == report->first_node && !l.metrics.bit_exact) {
          first = fmt::format("{} ({}, {}) {}", l.node, l.metrics.mismatches, l.metrics.max_abs_delta_lsb,
                              l.isolated ? "isolated" : "inherited");
          break;
        }
      }
      fmt::print("{:<22} {:<17} {:<14} {:<10} {:>9.3f} {:>7.3f} {}{}\n", m.name, name,
                 (*dev)->info().declared_profile, report->bit_exact ? "bit-exact" : "DIVERGENT",
                 latency.ok() ? latency->p50_ms : 0.0, latency.ok() ? latency->cv : 0.0, first,
                 std::string(deterministic ? "" : "  NON-DETERMINISTIC") +
                     ((*dev)->info().emulated ? "  (emulated: latency not comparable to hardware)" : ""));
    }
  }
  return failures;
}

// Emulator × profile matrix: where each named profile first departs from `onnx` on each model,
// i.e. where a device implementing that profile would diverge from an ONNX-reference device.
int ProfileMatrix(const std::vector<BuiltinModel>& suite) {
  fmt::print("\n{:<22} {:<14} {:<14} {:>9} {:<6} {}\n", "model", "profile", "outputs sha256", "MACs",
             "determ", "first node diverging from onnx (mismatches, max |Δ| LSB)");
  int failures = 0;
  ExecOptions opts;
  opts.capture_intermediates = true;
  for (const BuiltinModel& m : suite) {
    const Graph g = FuseQdq(m.graph, nullptr);
    auto base = RunReference(g, *ParseProfile("onnx"), m.sample_inputs, opts);
    if (!base.ok()) return ReportError(base.status().WithContext(m.name));
    for (const NamedProfile& np : NamedProfiles()) {
      const Profile p = *ParseProfile(np.name);
      auto r1 = RunReference(g, p, m.sample_inputs, opts);
      auto r2 = RunReference(g, p, m.sample_inputs, opts);
      if (!r1.ok() || !r2.ok()) {
        ++failures;
        fmt::print("{:<22} {:<14} error: {}\n", m.name, np.name, (r1.ok() ? r2 : r1).status().message());
        continue;
      }
      const std::string h1 = OutputsHash(r1->outputs), h2 = OutputsHash(r2->outputs);
      failures += h1 == h2 ? 0 : 1;
      int64_t mism = 0, delta = 0;
      const std::string first = FirstDivergingNode(g, *base, *r1, &mism, &delta);
      fmt::print("{:<22} {:<14} {:<14} {:>9} {:<6} {}\n", m.name, np.name, h1.substr(0, 12), r1->macs,
                 h1 == h2 ? "yes" : "NO", first.empty() ? "bit-exact" : fmt::format("{} ({}, {})", first, mism, delta));
    }
  }
  return failures;
}

}  // namespace

int NightlyCommand(const NightlyArgs& args) {
  if (!args.local) {
    return ReportError(Unimplemented("nightly needs --local: the controller is not built yet"));
  }
  const std::vector<BuiltinModel> suite = BuiltinSuite();
  fmt::print("qfarm nightly --local: {} built-in models; devices:", suite.size());
  for (const std::string& d : ListDevices()) fmt::print(" {}", d);
  fmt::print("\n");
  if (!args.db.empty()) {
    fmt::print("note: {} was not written: the SQLite store (controller/) is not built yet\n", args.db);
  }
  fmt::print("\n== devices against the emulator with their declared profiles ==");
  LatencyOptions latency;
  latency.min_s = args.measure_s;
  latency.min_warmup_s = args.warmup_s;
  latency.min_runs = args.min_runs;
  const int device_failures = DeviceMatrix(suite, latency);
  if (device_failures < 0) return 2;
  fmt::print("\n== the emulator under every named profile ==");
  const int profile_failures = ProfileMatrix(suite);
  fmt::print("\n{} device job(s) divergent, failed or non-deterministic; {} emulator run(s) failed or "
             "non-deterministic\n", device_failures, profile_failures);
  return device_failures == 0 && profile_failures == 0 ? 0 : 1;
}

}  // namespace qfarm::cli
