// farmctl nightly --local: the built-in suite through every device this build has, under every
// named profile, with a determinism probe and, per profile, where it first departs from `onnx`.
// The controller, SQLite store and HTML report are not built yet; this says so rather than
// pretending to store anything.
#include <chrono>
#include <cstdio>

#include <fmt/core.h>

#include "agent/device.h"
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

}  // namespace

int NightlyCommand(const NightlyArgs& args) {
  if (!args.local) {
    return ReportError(Unimplemented("nightly needs --local: the controller is not built yet"));
  }
  fmt::print("qfarm nightly --local: built-in suite on devices [");
  for (const std::string& d : ListDevices()) fmt::print(" {}", d);
  fmt::print(" ], every named profile, seed {}\n", args.seed);
  if (!args.db.empty()) {
    fmt::print("note: {} was not written: the SQLite store (controller/) is not built yet\n", args.db);
  }
  fmt::print("\n{:<22} {:<14} {:<14} {:>9} {:>8} {:<6} {}\n", "model", "profile", "outputs sha256",
             "MACs", "ms", "determ", "first node diverging from onnx (mismatches, max |Δ| LSB)");
  int failures = 0;
  for (const BuiltinModel& m : BuiltinSuite()) {
    std::vector<FusionRecord> fused;
    const Graph g = FuseQdq(m.graph, &fused);
    ExecOptions opts;
    opts.capture_intermediates = true;
    auto dev = OpenDevice("reference");
    auto base = (*dev)->Run(g, *ParseProfile("onnx"), m.sample_inputs, opts);
    if (!base.ok()) return ReportError(base.status().WithContext(m.name));
    for (const NamedProfile& np : NamedProfiles()) {
      const Profile p = *ParseProfile(np.name);
      const auto t0 = std::chrono::steady_clock::now();
      auto r1 = (*dev)->Run(g, p, m.sample_inputs, opts);
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      auto r2 = (*dev)->Run(g, p, m.sample_inputs, opts);
      if (!r1.ok() || !r2.ok()) {
        ++failures;
        fmt::print("{:<22} {:<14} error: {}\n", m.name, np.name, (r1.ok() ? r2 : r1).status().message());
        continue;
      }
      const std::string h1 = OutputsHash(r1->outputs), h2 = OutputsHash(r2->outputs);
      if (h1 != h2) ++failures;
      int64_t mism = 0, delta = 0;
      const std::string first = FirstDivergingNode(g, *base, *r1, &mism, &delta);
      fmt::print("{:<22} {:<14} {:<14} {:>9} {:>8.2f} {:<6} {}\n", m.name, np.name, h1.substr(0, 12),
                 r1->macs, ms, h1 == h2 ? "yes" : "NO",
                 first.empty() ? "bit-exact" : fmt::format("{} ({}, {})", first, mism, delta));
    }
  }
  fmt::print("\n{} run(s) failed or were non-deterministic\n", failures);
  return failures == 0 ? 0 : 1;
}

}  // namespace qfarm::cli
