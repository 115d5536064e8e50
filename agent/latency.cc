#include "agent/latency.h"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace qfarm {
namespace {

class Steady : public Clock {
 public:
  double NowSeconds() override {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  }
};

double Percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

}  // namespace

Clock& SteadyClock() {
  static Steady clock;
  return clock;
}

LatencySummary Summarize(std::vector<double> samples_ms) {
  LatencySummary s;
  s.samples_ms = samples_ms;
  if (samples_ms.empty()) return s;
  std::sort(samples_ms.begin(), samples_ms.end());
  s.min_ms = samples_ms.front();
  s.p50_ms = Percentile(samples_ms, 0.50);
  s.p90_ms = Percentile(samples_ms, 0.90);
  s.p99_ms = Percentile(samples_ms, 0.99);
  double sum = 0;
  for (double v : samples_ms) sum += v;
  s.mean_ms = sum / static_cast<double>(samples_ms.size());
  double var = 0;
  for (double v : samples_ms) var += (v - s.mean_ms) * (v - s.mean_ms);
  s.stddev_ms = samples_ms.size() > 1 ? std::sqrt(var / static_cast<double>(samples_ms.size() - 1)) : 0;
  s.cv = s.mean_ms > 0 ? s.stddev_ms / s.mean_ms : 0;
  return s;
}

StatusOr<LatencySummary> MeasureLatency(Device& device, const Graph& graph, const Profile& profile,
                                        const TensorMap& inputs, const LatencyOptions& options, Clock& clock) {
  auto timed_run = [&](double* ms) -> Status {
    const double t0 = clock.NowSeconds();
    auto r = device.Run(graph, profile, inputs, ExecOptions{});
    *ms = (clock.NowSeconds() - t0) * 1e3;
    return r.status();
  };
  double cold = 0;
  QFARM_RETURN_IF_ERROR(timed_run(&cold));
  int warmups = 0;
  const double warm_start = clock.NowSeconds();
  while (warmups < options.min_warmup_runs || clock.NowSeconds() - warm_start < options.min_warmup_s) {
    double ms = 0;
    QFARM_RETURN_IF_ERROR(timed_run(&ms));
    if (++warmups >= options.max_runs) break;
  }
  std::vector<double> samples;
  const double start = clock.NowSeconds();
  while (static_cast<int>(samples.size()) < options.min_runs || clock.NowSeconds() - start < options.min_s) {
    double ms = 0;
    QFARM_RETURN_IF_ERROR(timed_run(&ms));
    samples.push_back(ms);
    if (static_cast<int>(samples.size()) >= options.max_runs) break;
  }
  LatencySummary s = Summarize(std::move(samples));
  s.cold_ms = cold;
  s.warmup_runs = warmups;
  s.comparable_to_hardware = !device.info().emulated;
  return s;
}

}  // namespace qfarm
