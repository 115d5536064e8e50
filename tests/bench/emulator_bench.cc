// Emulator throughput: every built-in model (QDQ forms fused) under every named profile, one
// row each with MACs/s. Run: build/tests/bench/emulator_bench [--benchmark_format=json]
#include <benchmark/benchmark.h>

#include "model/builtin.h"
#include "model/qdq_fusion.h"
#include "reference/executor.h"

namespace qfarm {
namespace {

void RegisterAll() {
  static const std::vector<BuiltinModel> suite = BuiltinSuite();
  for (const BuiltinModel& m : suite) {
    for (const NamedProfile& np : NamedProfiles()) {
      const std::string name = "Emulator/" + m.name + "/" + std::string(np.name);
      benchmark::RegisterBenchmark(name.c_str(), [&m, np](benchmark::State& state) {
        const Graph g = FuseQdq(m.graph, nullptr);
        const Profile p = *ParseProfile(np.name);
        int64_t macs = 0;
        for (auto _ : state) {
          auto r = RunReference(g, p, m.sample_inputs);
          if (!r.ok()) {
            state.SkipWithError(r.status().message().c_str());
            return;
          }
          macs = r->macs;
          benchmark::DoNotOptimize(r->outputs);
        }
        state.counters["MACs"] = static_cast<double>(macs);
        state.counters["MACs/s"] = benchmark::Counter(static_cast<double>(macs) * state.iterations(),
                                                      benchmark::Counter::kIsRate);
      })->Unit(benchmark::kMillisecond);
    }
  }
}

}  // namespace
}  // namespace qfarm

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  qfarm::RegisterAll();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
