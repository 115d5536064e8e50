#include "controller/regression.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <utility>

namespace qfarm {
namespace {

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + mid, v.end());
  const double hi = v[mid];
  if (v.size() % 2 == 1) return hi;
  return (*std::max_element(v.begin(), v.begin() + mid) + hi) / 2;
}

// U statistic of `a` (pairs a > b count 1, ties 1/2) and the tie term sum(t^3 - t).
struct UStat {
  double u = 0;
  double ties = 0;
};

UStat ComputeU(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<std::pair<double, bool>> all;  // value, from a
  all.reserve(a.size() + b.size());
  for (double v : a) all.push_back({v, true});
  for (double v : b) all.push_back({v, false});
  std::sort(all.begin(), all.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  UStat s;
  double rank_sum_a = 0;
  for (size_t i = 0; i < all.size();) {
    size_t j = i;
    while (j < all.size() && all[j].first == all[i].first) ++j;
    const double t = static_cast<double>(j - i);
    const double avg_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;  // 1-based ranks
    for (size_t k = i; k < j; ++k)
      if (all[k].second) rank_sum_a += avg_rank;
    s.ties += t * t * t - t;
    i = j;
  }
  const double n = static_cast<double>(a.size());
  s.u = rank_sum_a - n * (n + 1) / 2;
  return s;
}

std::string Format(const char* fmt, auto... args) {
  char buf[256];
  std::snprintf(buf, sizeof buf, fmt, args...);
  return buf;
}

std::string Plural(int64_t n, const char* word) {
  return Format("%lld %s%s", static_cast<long long>(n), word, n == 1 ? "" : "es");
}

// Runs just before the last one that were also bit-exact, counted back from the newest.
int TrailingBitExactRuns(const std::vector<DivergenceRun>& baseline) {
  int n = 0;
  for (auto it = baseline.rbegin(); it != baseline.rend() && it->mismatches == 0 && it->elements > 0; ++it) ++n;
  return n;
}

}  // namespace

const char* VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kNone: return "none";
    case Verdict::kRegression: return "regression";
    case Verdict::kImprovement: return "improvement";
    case Verdict::kInsufficientData: return "insufficient-data";
  }
  return "?";
}

double MannWhitneyP(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.empty() || b.empty()) return 1;
  const UStat s = ComputeU(a, b);
  const double n = static_cast<double>(a.size()), m = static_cast<double>(b.size()), total = n + m;
  const double var = n * m / 12 * ((total + 1) - s.ties / (total * (total - 1)));
  if (var <= 0) return 1;  // every value ties
  const double z = std::max(0.0, std::fabs(s.u - n * m / 2) - 0.5) / std::sqrt(var);
  return std::min(1.0, std::erfc(z / std::sqrt(2.0)));
}

double HodgesLehmannShift(const std::vector<double>& baseline, const std::vector<double>& current) {
  std::vector<double> diffs;
  diffs.reserve(baseline.size() * current.size());
  for (double c : current)
    for (double b : baseline) diffs.push_back(c - b);
  return Median(std::move(diffs));
}

LatencyVerdict JudgeLatency(const std::vector<double>& baseline_ms, const std::vector<double>& current_ms,
                            const RegressionOptions& options) {
  LatencyVerdict v;
  const size_t min_samples = static_cast<size_t>(std::max(1, options.min_samples));
  if (baseline_ms.size() < min_samples || current_ms.size() < min_samples) {
    v.reason = Format("insufficient data (%zu baseline, %zu current samples; need %zu each)", baseline_ms.size(),
                      current_ms.size(), min_samples);
    return v;
  }
  v.baseline_median_ms = Median(baseline_ms);
  v.current_median_ms = Median(current_ms);
  if (!(v.baseline_median_ms > 0)) {
    v.reason = "insufficient data (baseline median is not positive)";
    return v;
  }
  v.effect = HodgesLehmannShift(baseline_ms, current_ms) / v.baseline_median_ms;
  v.p_value = MannWhitneyP(current_ms, baseline_ms);
  // The U statistic's side: more current > baseline pairs than half means slower.
  const double u_excess = ComputeU(current_ms, baseline_ms).u -
                          static_cast<double>(current_ms.size()) * static_cast<double>(baseline_ms.size()) / 2;
  const bool same_side = (v.effect > 0 && u_excess > 0) || (v.effect < 0 && u_excess < 0);
  const bool alarm = v.p_value < options.alpha && std::fabs(v.effect) > options.min_effect && same_side;
  v.verdict = !alarm ? Verdict::kNone : v.effect > 0 ? Verdict::kRegression : Verdict::kImprovement;
  v.reason = Format("shift %+.1f%% (p50 %.4g -> %.4g ms), Mann-Whitney p=%.2g%s", v.effect * 100,
                    v.baseline_median_ms, v.current_median_ms, v.p_value,
                    alarm ? ""
                    : v.p_value >= options.alpha ? " (not significant)"
                                                 : " (below the minimum effect)");
  return v;
}

DivergenceVerdict JudgeDivergence(const std::vector<DivergenceRun>& baseline, const DivergenceRun& current,
                                  const RegressionOptions& options) {
  DivergenceVerdict v;
  if (baseline.empty()) {
    v.reason = "insufficient data (no baseline run)";
    return v;
  }
  const int exact_runs = TrailingBitExactRuns(baseline);
  if (current.mismatches > 0 && exact_runs > 0) {
    v.verdict = Verdict::kRegression;
    v.reason = Format("%lld new mismatch%s (was bit-exact in the last %d run%s)",
                      static_cast<long long>(current.mismatches), current.mismatches == 1 ? "" : "es",
                      exact_runs, exact_runs == 1 ? "" : "s");
    return v;
  }
  if (current.elements <= 0) {
    v.reason = "insufficient data (no elements compared)";
    return v;
  }
  const DivergenceRun& last = baseline.back();
  if (current.mismatches == 0 && last.mismatches > 0) {
    v.verdict = Verdict::kImprovement;
    v.reason = Format("bit-exact again (last run had %s)", Plural(last.mismatches, "mismatch").c_str());
    return v;
  }
  std::vector<std::string> found;
  double max_rate = -1;
  double min_sqnr = std::numeric_limits<double>::infinity();
  bool any_sqnr = false;
  for (const DivergenceRun& r : baseline) {
    if (r.elements > 0) max_rate = std::max(max_rate, static_cast<double>(r.mismatches) / static_cast<double>(r.elements));
    if (r.has_sqnr && !std::isnan(r.sqnr_db)) {
      min_sqnr = std::min(min_sqnr, r.sqnr_db);
      any_sqnr = true;
    }
  }
  const double rate = static_cast<double>(current.mismatches) / static_cast<double>(current.elements);
  if (max_rate >= 0 && rate > max_rate)
    found.push_back(Format("mismatch rate %.3g (%s of %lld) above the baseline maximum %.3g",
                           rate, Plural(current.mismatches, "mismatch").c_str(),
                           static_cast<long long>(current.elements), max_rate));
  if (any_sqnr && current.has_sqnr && current.sqnr_db < min_sqnr - options.min_sqnr_drop_db)
    found.push_back(Format("SQNR %.2f dB, %.2f dB below the baseline minimum %.2f dB", current.sqnr_db,
                           min_sqnr - current.sqnr_db, min_sqnr));
  if (found.empty()) {
    v.verdict = max_rate < 0 && !any_sqnr ? Verdict::kInsufficientData : Verdict::kNone;
    v.reason = v.verdict == Verdict::kNone ? "within the baseline" : "insufficient data (baseline has no figures)";
    return v;
  }
  v.verdict = Verdict::kRegression;
  for (size_t i = 0; i < found.size(); ++i) v.reason += (i ? "; " : "") + found[i];
  return v;
}

std::vector<HistoryVerdict> JudgeHistory(const std::vector<HistoryRun>& runs, const RegressionOptions& options) {
  std::vector<HistoryVerdict> out;
  out.reserve(runs.size());
  const size_t window = static_cast<size_t>(std::max(1, options.baseline_runs));
  for (size_t i = 0; i < runs.size(); ++i) {
    std::vector<double> pooled;
    std::vector<DivergenceRun> divergence;
    for (size_t j = i > window ? i - window : 0; j < i; ++j) {
      pooled.insert(pooled.end(), runs[j].samples_ms.begin(), runs[j].samples_ms.end());
      divergence.push_back(runs[j].divergence);
    }
    LatencyVerdict latency = JudgeLatency(pooled, runs[i].samples_ms, options);
    if (divergence.size() < static_cast<size_t>(options.min_baseline_runs)) {
      latency.verdict = Verdict::kInsufficientData;
      latency.reason = "insufficient data (" + std::to_string(divergence.size()) + " earlier runs; latency is judged " +
                       "against at least " + std::to_string(options.min_baseline_runs) + ")";
    }
    out.push_back({latency, JudgeDivergence(divergence, runs[i].divergence, options)});
  }
  return out;
}

}  // namespace qfarm
