// qfarm-golden: the emulator's output bytes for the built-in suite under every named profile, one
// line per value. Built natively and for aarch64; tests/unit/cross_arch_test.cc compares the two.
//   qfarm-golden [--model NAME]            exit 0, or 2 with one line on stderr
// QDQ forms run after FuseQdq (what a device runs). Outputs are printed in full so a comparison is
// exact; intermediates as an exact 64-bit FNV-1a of their bytes, to keep the output short.
// Depends only on qfarm_reference + qfarm_model (no protobuf, no fmt): it is cross-built.
// Line: <model> <profile> <value> <dtype> <shape> <hex bytes (outputs) | fnv1a64 (intermediates)>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <span>
#include <string>

#include "model/builtin.h"
#include "model/qdq_fusion.h"
#include "reference/executor.h"

namespace {

uint64_t Fnv1a(std::span<const std::byte> bytes) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (std::byte b : bytes) {
    h ^= static_cast<uint8_t>(b);
    h *= 0x100000001b3ULL;
  }
  return h;
}

void PrintValue(const std::string& prefix, const std::string& name, const qfarm::Tensor& t,
                bool full) {
  std::printf("%s %s %s %s ", prefix.c_str(), name.c_str(),
              std::string(qfarm::DTypeName(t.dtype())).c_str(),
              qfarm::ShapeToString(t.shape()).c_str());
  if (full) {
    for (std::byte b : t.bytes()) std::printf("%02x", static_cast<unsigned>(b));
  } else {
    std::printf("fnv1a64:%016llx", static_cast<unsigned long long>(Fnv1a(t.bytes())));
  }
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::string only;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--model") == 0 && i + 1 < argc) {
      only = argv[++i];
    } else {
      std::fprintf(stderr, "qfarm-golden: error: unknown argument '%s' (usage: qfarm-golden [--model NAME])\n", argv[i]);
      return 2;
    }
  }
  int printed = 0;
  for (const qfarm::BuiltinModel& m : qfarm::BuiltinSuite()) {
    if (!only.empty() && m.name != only) continue;
    std::vector<qfarm::FusionRecord> fused;
    const qfarm::Graph graph = qfarm::FuseQdq(m.graph, &fused);
    for (const qfarm::NamedProfile& np : qfarm::NamedProfiles()) {
      auto profile = qfarm::ParseProfile(np.name);
      if (!profile.ok()) {
        std::fprintf(stderr, "qfarm-golden: error: profile %s: %s\n",
                     std::string(np.name).c_str(), profile.status().message().c_str());
        return 2;
      }
      qfarm::ExecOptions opts;
      opts.capture_intermediates = true;
      auto r = qfarm::RunReference(graph, *profile, m.sample_inputs, opts);
      if (!r.ok()) {
        std::fprintf(stderr, "qfarm-golden: error: %s under %s: %s\n", m.name.c_str(),
                     std::string(np.name).c_str(), r.status().message().c_str());
        return 2;
      }
      const std::string prefix = m.name + " " + std::string(np.name);
      for (const auto& [name, t] : r->outputs) PrintValue(prefix, name, t, true);
      for (const auto& [name, t] : r->intermediates) {
        if (!r->outputs.count(name)) PrintValue(prefix, name, t, false);  // outputs: in full above
      }
      ++printed;
    }
  }
  if (printed == 0) {
    std::fprintf(stderr, "qfarm-golden: error: no built-in model named '%s'\n", only.c_str());
    return 2;
  }
  return 0;
}
