#include "agent/metrics.h"

#include <cmath>
#include <limits>

namespace qfarm {

StatusOr<DivergenceMetrics> CompareQuantized(const Tensor& device, const Tensor& emulator,
                                             const std::vector<uint8_t>* tie_mask, double float_lsb) {
  if (device.dtype() != emulator.dtype() || device.shape() != emulator.shape()) {
    return InvalidArgument("device output is " + std::string(DTypeName(device.dtype())) + " " +
                           ShapeToString(device.shape()) + " but the emulator's is " +
                           std::string(DTypeName(emulator.dtype())) + " " +
                           ShapeToString(emulator.shape()));
  }
  if (tie_mask && static_cast<int64_t>(tie_mask->size()) != device.numel()) {
    return Internal("tie mask has " + std::to_string(tie_mask->size()) + " entries for " +
                    std::to_string(device.numel()) + " elements");
  }
  const bool is_float = IsFloatType(device.dtype());
  DivergenceMetrics m;
  m.elements = device.numel();
  double sum_abs = 0;
  for (int64_t i = 0; i < m.elements; ++i) {
    // Float outputs (e.g. after DequantizeLinear) are compared bit for bit through their value;
    // their Δ is counted in units of 1 (they have no LSB of their own here).
    const bool differ = is_float ? device.GetDouble(i) != emulator.GetDouble(i)
                                 : device.GetInt(i) != emulator.GetInt(i);
    if (!differ) continue;
    const double unit = float_lsb > 0 ? float_lsb : 1.0;
    const int64_t delta = is_float ? static_cast<int64_t>(std::llround((device.GetDouble(i) -
                                                                        emulator.GetDouble(i)) / unit))
                                   : device.GetInt(i) - emulator.GetInt(i);
    const int64_t abs_delta = delta < 0 ? -delta : delta;
    if (m.first_mismatch_index < 0) m.first_mismatch_index = i;
    ++m.mismatches;
    ++m.delta_histogram[delta];
    m.max_abs_delta_lsb = std::max(m.max_abs_delta_lsb, abs_delta);
    sum_abs += static_cast<double>(abs_delta);
    if (!tie_mask || (*tie_mask)[i] == 0 || abs_delta > 1) m.ties_only = false;
  }
  m.bit_exact = m.mismatches == 0;
  m.mean_abs_delta_lsb = m.elements ? sum_abs / static_cast<double>(m.elements) : 0;
  return m;
}

namespace {

int64_t ArgMax(const std::vector<double>& v, size_t begin, size_t len) {
  size_t best = begin;
  for (size_t i = begin + 1; i < begin + len; ++i) {
    if (v[i] > v[best]) best = i;
  }
  return static_cast<int64_t>(best - begin);
}

}  // namespace

StatusOr<AccuracyMetrics> CompareReal(const std::vector<double>& device,
                                      const std::vector<double>& reference,
                                      int64_t class_axis_len) {
  if (device.size() != reference.size()) {
    return InvalidArgument("device output has " + std::to_string(device.size()) +
                           " values but the real-valued reference has " +
                           std::to_string(reference.size()));
  }
  AccuracyMetrics a;
  double signal = 0, noise = 0, dot = 0, norm_d = 0, norm_r = 0;
  for (size_t i = 0; i < device.size(); ++i) {
    const double err = device[i] - reference[i];
    signal += reference[i] * reference[i];
    noise += err * err;
    dot += device[i] * reference[i];
    norm_d += device[i] * device[i];
    norm_r += reference[i] * reference[i];
    a.max_abs_error = std::max(a.max_abs_error, std::fabs(err));
  }
  a.sqnr_db = noise == 0 ? std::numeric_limits<double>::infinity()
                         : 10.0 * std::log10(signal / noise);
  if (norm_d == 0 && norm_r == 0) {
    a.cosine = 1.0;
  } else if (norm_d == 0 || norm_r == 0) {
    a.cosine = 0.0;
  } else {
    a.cosine = dot / (std::sqrt(norm_d) * std::sqrt(norm_r));
  }
  if (class_axis_len > 1 && device.size() % static_cast<size_t>(class_axis_len) == 0 &&
      !device.empty()) {
    const size_t len = static_cast<size_t>(class_axis_len);
    const size_t rows = device.size() / len;
    size_t agree = 0;
    for (size_t r = 0; r < rows; ++r) {
      agree += ArgMax(device, r * len, len) == ArgMax(reference, r * len, len);
    }
    a.top1_agreement = static_cast<double>(agree) / static_cast<double>(rows);
  }
  return a;
}

}  // namespace qfarm
