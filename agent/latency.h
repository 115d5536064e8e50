// Latency measurement by DESIGN.md's rules: the first (cold) run recorded apart; warm-up until
// at least `min_warmup_runs` runs and `min_warmup_s` seconds; then timed runs until at least
// `min_runs` runs and `min_s` seconds (capped by `max_runs`). Raw samples are kept; the summary
// gives min, p50, p90, p99, mean, stddev and CV. Time comes from a Clock so tests can inject it.
#pragma once

#include <vector>

#include "agent/device.h"

namespace qfarm {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual double NowSeconds() = 0;
};
Clock& SteadyClock();

struct LatencyOptions {
  int min_warmup_runs = 3;
  double min_warmup_s = 0.2;
  int min_runs = 30;
  double min_s = 1.0;
  int max_runs = 100000;
};

struct LatencySummary {
  double cold_ms = 0;
  std::vector<double> samples_ms;  // timed runs, in order
  double min_ms = 0, p50_ms = 0, p90_ms = 0, p99_ms = 0, mean_ms = 0, stddev_ms = 0, cv = 0;
  int warmup_runs = 0;
  bool comparable_to_hardware = true;  // false on emulated devices (qemu)
};

// Summary statistics of raw samples (nearest-rank percentiles).
LatencySummary Summarize(std::vector<double> samples_ms);

StatusOr<LatencySummary> MeasureLatency(Device& device, const Graph& graph, const Profile& profile,
                                        const TensorMap& inputs, const LatencyOptions& options,
                                        Clock& clock = SteadyClock());

}  // namespace qfarm
