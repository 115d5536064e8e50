// Kernel throughput on real layer shapes, ours beside oneDNN and XNNPACK in the same process,
// single thread and all threads; one row per (shape, implementation, threads) with GOPS, then a
// summary of ratios to the faster peer and to the machine's int8 peak.
//   build/tests/bench/kernels_bench [--benchmark_min_time=0.2] [--benchmark_format=json]
#include <benchmark/benchmark.h>

#include <map>
#include <thread>

#include "kernels/executor.h"
#include "model/graph_builder.h"
#include "tests/bench/peers.h"

namespace qfarm::bench {
namespace {

// One of our ops on a shape: node, inputs and prepacked weights, built once.
struct OurOp {
  Node node;
  std::vector<Tensor> owned;
  std::vector<const Tensor*> in;
  kernels::PreparedWeights prepared;
};

std::unique_ptr<OurOp> MakeOurs(const LayerShape& s, const kernels::QGemmKernel& kernel) {
  auto op = std::make_unique<OurOp>();
  GraphBuilder b("bench", 13, 1);
  op->node.name = s.name;
  op->node.outputs = {"y"};
  if (s.gemm) {
    op->node.op_type = "QLinearMatMul";
    op->owned = {b.RandomInts(DType::kUInt8, {s.m, s.k}, 0, 255), Tensor::Scalar(DType::kFloat32, 0.02),
                 Tensor::Scalar(DType::kUInt8, 128), b.RandomInts(DType::kInt8, {s.k, s.n}, -128, 127),
                 Tensor::Scalar(DType::kFloat32, 0.01), Tensor::Scalar(DType::kInt8, 0),
                 Tensor::Scalar(DType::kFloat32, 0.05), Tensor::Scalar(DType::kUInt8, 128)};
  } else {
    op->node.op_type = "QLinearConv";
    op->node.attrs["group"] = Attribute::Int(s.group);
    op->node.attrs["strides"] = Attribute::Ints({s.stride, s.stride});
    op->node.attrs["pads"] = Attribute::Ints({s.pad, s.pad, s.pad, s.pad});
    op->owned = {b.RandomInts(DType::kUInt8, {1, s.cin, s.h, s.w}, 0, 255), Tensor::Scalar(DType::kFloat32, 0.02),
                 Tensor::Scalar(DType::kUInt8, 128),
                 b.RandomInts(DType::kInt8, {s.cout, s.cin / s.group, s.kernel, s.kernel}, -128, 127),
                 Tensor::Scalar(DType::kFloat32, 0.01), Tensor::Scalar(DType::kInt8, 0),
                 Tensor::Scalar(DType::kFloat32, 0.05), Tensor::Scalar(DType::kUInt8, 128),
                 b.RandomInts(DType::kInt32, {s.cout}, -1000, 1000)};
  }
  for (size_t i = 0; i < op->owned.size(); ++i) {
    op->node.inputs.push_back("in" + std::to_string(i));
    op->in.push_back(&op->owned[i]);
  }
  op->prepared = kernels::PrepareWeights(op->node, kernel, op->owned[3]);
  return op;
}

void SetCounters(benchmark::State& state, const LayerShape& s, int threads) {
  state.counters["GOPS"] = benchmark::Counter(2.0 * s.Macs() * static_cast<double>(state.iterations()) / 1e9,
                                              benchmark::Counter::kIsRate);
  state.counters["threads"] = threads;
}

void RegisterShape(const LayerShape& s, int threads) {
  const std::string suffix = "/" + s.name + "/threads:" + std::to_string(threads);
  for (const kernels::HostPath& path : kernels::AvailableHostPaths()) {
    if (path.isa == kernels::Isa::kScalar) continue;
    const kernels::QGemmKernel& k = *kernels::FindQGemmKernel(path.isa);
    // Convolutions also channels-last, the layout the peers run in (kernels/layout.h); random
    // inputs, so the same bytes serve as either order.
    const bool has_cl = !s.gemm && [&] {
      const auto op = MakeOurs(s, k);
      return kernels::HasChannelsLastForm(op->node, k, op->owned[3]);
    }();
    for (bool cl : {false, true}) {
      if (cl && !has_cl) continue;
      const std::string impl = "qfarm-" + std::string(kernels::IsaName(path.isa)) + (cl ? "-nhwc" : "");
      benchmark::RegisterBenchmark((impl + suffix).c_str(), [s, threads, path, cl](benchmark::State& state) {
        const kernels::QGemmKernel& k = *kernels::FindQGemmKernel(path.isa);
        auto op = MakeOurs(s, k);
        const Profile p = *ParseProfile(path.declared_profile);
        for (auto _ : state) {
          auto out = kernels::RunKernelNode(op->node, k, p, op->in, threads, &op->prepared, cl);
          if (!out.ok()) { state.SkipWithError(out.status().message().c_str()); return; }
          benchmark::DoNotOptimize(out);
        }
        SetCounters(state, s, threads);
      })->UseRealTime()->Unit(benchmark::kMicrosecond);
    }
  }
  if (threads == 1 && s.gemm) {
    std::string why;
    if (MakeAmxTileLoop(s, &why)) {  // the ceiling our AMX schedule sets, beside it
      benchmark::RegisterBenchmark(("amx-tile-loop" + suffix).c_str(), [s](benchmark::State& state) {
        std::string why;
        auto op = MakeAmxTileLoop(s, &why);
        for (auto _ : state) op->Run();
        SetCounters(state, s, 1);
      })->UseRealTime()->Unit(benchmark::kMicrosecond);
    }
  }
  const std::pair<std::string, std::unique_ptr<PeerOp> (*)(const LayerShape&, int, std::string*)> peers[] = {
      {"onednn", MakeOneDnn}, {"xnnpack", MakeXnnpack}};
  for (const auto& [name, make] : peers) {
    benchmark::RegisterBenchmark((name + suffix).c_str(), [s, threads, make = make](benchmark::State& state) {
      std::string why;
      auto op = make(s, threads, &why);
      if (!op) { state.SkipWithError(why.c_str()); return; }
      for (auto _ : state) op->Run();
      SetCounters(state, s, threads);
    })->UseRealTime()->Unit(benchmark::kMicrosecond);
  }
}

// Keeps every row's GOPS to print the ratio summary after the run.
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      if (r.error_occurred) continue;
      const std::string name = r.benchmark_name();
      const size_t a = name.find('/');
      const std::string impl = name.substr(0, a), rest = name.substr(a + 1);
      gops_[rest][impl] = r.counters.at("GOPS").value;
    }
    ConsoleReporter::ReportRuns(runs);
  }
  void PrintSummary(int all_threads) {
    std::string assumption1, assumption_n;
    const double peak1 = Int8PeakGops(1, &assumption1), peak_n = Int8PeakGops(all_threads, &assumption_n);
    std::printf("\nint8 peak: %s\n", assumption1.c_str());
    std::printf("%-42s %10s %16s %10s %10s %14s %8s\n", "shape/threads", "ours", "impl", "oneDNN", "XNNPACK",
                "ours/faster", "%peak");
    for (const auto& [shape, impls] : gops_) {
      double ours = 0, best_peer = 0;
      std::string ours_name = "-";
      for (const auto& [impl, g] : impls) {
        if (impl.rfind("qfarm-", 0) == 0 && impl.rfind("qfarm-avx2", 0) != 0 && g > ours) { ours = g; ours_name = impl.substr(6); }
        if (impl == "onednn" || impl == "xnnpack") best_peer = std::max(best_peer, g);
      }
      auto get = [&](const char* k) { auto it = impls.find(k); return it == impls.end() ? 0.0 : it->second; };
      const double peak = shape.find("threads:1") != std::string::npos ? peak1 : peak_n;
      std::printf("%-42s %10.2f %16s %10.2f %10.2f %14.2f %7.1f%%\n", shape.c_str(), ours, ours_name.c_str(),
                  get("onednn"), get("xnnpack"), best_peer > 0 ? ours / best_peer : 0.0, 100.0 * ours / peak);
    }
    for (const auto& [shape, impls] : gops_) {
      const auto loop = impls.find("amx-tile-loop"), amx = impls.find("qfarm-amx");
      if (loop == impls.end() || amx == impls.end()) continue;
      std::printf("\n%s: the tile loop of our AMX schedule alone (tile loads, products, sum stores; no output "
                  "stage, no driver) sustains %.0f GOPS, %.1f%% of peak; qfarm-amx is %.0f%% of that loop.\n",
                  shape.c_str(), loop->second, 100.0 * loop->second / peak1, 100.0 * amx->second / loop->second);
    }
  }

 private:
  std::map<std::string, std::map<std::string, double>> gops_;
};

}  // namespace
}  // namespace qfarm::bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  const int all = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (const auto& s : qfarm::bench::BenchShapes()) {
    qfarm::bench::RegisterShape(s, 1);
    if (all > 1) qfarm::bench::RegisterShape(s, all);
  }
  qfarm::bench::SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintSummary(all);
  benchmark::Shutdown();
  return 0;
}
