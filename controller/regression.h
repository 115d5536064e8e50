// Statistical regression detection over a (model, device) pair's nightly history. Pure logic: no
// I/O, no clock, no storage; every function is deterministic and thread-safe (no shared state).
//
// Latency: the current run's raw samples against the pooled raw samples of the previous
// `baseline_runs` runs, by a two-sided Mann-Whitney U test (normal approximation, tie and
// continuity corrections) AND a minimum effect size, as LLVM LNT does. The effect is the
// Hodges-Lehmann shift (median of all current-minus-baseline differences) divided by the baseline
// median: +0.05 means 5% slower. An alarm needs p < alpha and |effect| > min_effect, with the
// U statistic and the shift pointing the same way. The U test treats samples as independent, so
// run-to-run jitter (a whole run slower by ~1%) makes its p-values optimistic; min_effect is what
// guards against that, alpha against sampling noise. See docs/regression.md for the measured
// false-positive and detection rates of the defaults.
//
// Divergence: a pair whose latest baseline run was bit-exact and now mismatches is always a
// regression; a mismatch rate above the baseline's maximum, or an SQNR more than
// `min_sqnr_drop_db` below the baseline's minimum, is a regression; becoming bit-exact after a
// run with mismatches is an improvement.
//
// Missing data (too few samples, no baseline, zero elements) gives kInsufficientData, never an
// alarm.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace qfarm {

struct RegressionOptions {
  int baseline_runs = 5;     // K previous runs pooled into the baseline window
  int min_baseline_runs = 3; // latency needs this many earlier runs (run-to-run spread shows across runs)
  int min_samples = 5;       // fewer samples on either side: insufficient data
  double alpha = 1e-4;       // Mann-Whitney two-sided significance level
  double min_effect = 0.03;  // |relative Hodges-Lehmann shift| must exceed this
  double min_sqnr_drop_db = 1.0;
};

enum class Verdict { kNone, kRegression, kImprovement, kInsufficientData };

// "none", "regression", "improvement", "insufficient-data".
const char* VerdictName(Verdict verdict);

struct LatencyVerdict {
  Verdict verdict = Verdict::kInsufficientData;
  double p_value = 1;  // two-sided Mann-Whitney p (1 when not computed)
  double effect = 0;   // relative Hodges-Lehmann shift; +0.05 = 5% slower
  double baseline_median_ms = 0, current_median_ms = 0;
  std::string reason;  // one human-readable line
};

struct DivergenceRun {
  int64_t mismatches = 0;
  int64_t elements = 0;
  double sqnr_db = 0;
  bool has_sqnr = false;
};

struct DivergenceVerdict {
  Verdict verdict = Verdict::kInsufficientData;
  std::string reason;
};

// Two-sided p-value of the Mann-Whitney U test of `a` against `b`, by the normal approximation
// with tie correction and continuity correction. 1 when either side is empty or all values tie.
double MannWhitneyP(const std::vector<double>& a, const std::vector<double>& b);

// Hodges-Lehmann shift estimate: the median of all pairwise differences current[i] - baseline[j].
double HodgesLehmannShift(const std::vector<double>& baseline, const std::vector<double>& current);

LatencyVerdict JudgeLatency(const std::vector<double>& baseline_ms, const std::vector<double>& current_ms,
                            const RegressionOptions& options);

// `baseline` is oldest first; the last element is the run just before `current`.
DivergenceVerdict JudgeDivergence(const std::vector<DivergenceRun>& baseline, const DivergenceRun& current,
                                  const RegressionOptions& options);

struct HistoryRun {
  std::vector<double> samples_ms;
  DivergenceRun divergence;
};

struct HistoryVerdict {
  LatencyVerdict latency;
  DivergenceVerdict divergence;
};

// One verdict per run of `runs` (oldest first), each run judged against the up to
// `baseline_runs` runs just before it (a plain sliding window, so a real step may also alarm on
// the one or two runs after it while the window still holds the old level). Run 0 has no baseline.
std::vector<HistoryVerdict> JudgeHistory(const std::vector<HistoryRun>& runs, const RegressionOptions& options);

}  // namespace qfarm
