// The measuring harness itself: overhead per timed run on an empty model (one Identity on one
// float), and the latency CV on the built-in models, for every device this machine has. One
// machine-readable row per (device, model).
//   build/tests/bench/harness_bench [--quick]
#include <cstdio>
#include <cstring>

#include "agent/latency.h"
#include "model/builtin.h"
#include "model/graph_builder.h"
#include "model/qdq_fusion.h"

int main(int argc, char** argv) {
  using namespace qfarm;
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  LatencyOptions opts;
  if (quick) {
    opts.min_s = 0.2;
    opts.min_warmup_s = 0.05;
  }
  GraphBuilder b("empty", 13, 1);
  b.Input("x", DType::kFloat32, {1});
  b.Output("y", DType::kFloat32, {1});
  b.Op("Identity", "identity", {"x"}, {"y"});
  BuiltinModel empty{"empty", b.Build(), {{"x", Tensor::FromDoubles(DType::kFloat32, {1}, {1.0})}}};
  std::vector<BuiltinModel> models = {empty};
  for (BuiltinModel& m : BuiltinSuite()) {
    m.graph = FuseQdq(m.graph, nullptr);
    models.push_back(std::move(m));
  }
  std::printf("%-18s %-22s %8s %10s %10s %10s %8s %s\n", "device", "model", "runs", "cold_ms", "p50_ms", "p99_ms", "cv",
              "note");
  for (const std::string& name : ListDevices()) {
    auto dev = OpenDevice(name);
    if (!dev.ok()) continue;
    const Profile p = *ParseProfile((*dev)->info().declared_profile);
    for (const BuiltinModel& m : models) {
      auto s = MeasureLatency(**dev, m.graph, p, m.sample_inputs, opts);
      if (!s.ok()) {
        std::printf("%-18s %-22s error: %s\n", name.c_str(), m.name.c_str(), s.status().message().c_str());
        continue;
      }
      std::printf("%-18s %-22s %8zu %10.4f %10.4f %10.4f %8.4f %s\n", name.c_str(), m.name.c_str(), s->samples_ms.size(),
                  s->cold_ms, s->p50_ms, s->p99_ms, s->cv,
                  m.name == "empty" ? "harness overhead per timed run" : (s->comparable_to_hardware ? "" : "emulated"));
    }
  }
  return 0;
}
