// Divergence and accuracy metrics, defined once (DESIGN.md "Divergence and accuracy metrics").
//
// Divergence compares a device's quantized output with the emulator's, integer by integer, with
// zero tolerance: Δ = device − emulator in units of the output's least significant bit. Accuracy
// compares the device's dequantized output with the real-valued reference (reference/executor.h).
// Pure functions; thread-compatible.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "common/status.h"
#include "model/tensor.h"

namespace qfarm {

struct DivergenceMetrics {
  int64_t elements = 0;
  int64_t mismatches = 0;
  int64_t max_abs_delta_lsb = 0;
  double mean_abs_delta_lsb = 0;  // over all elements
  std::map<int64_t, int64_t> delta_histogram;  // Δ → count, mismatches only
  bool bit_exact = true;
  // Every mismatch sits where the emulator's pre-rounding value was an exact tie (needs a tie
  // mask; without one it is false whenever there is a mismatch). True when bit-exact.
  bool ties_only = true;
  int64_t first_mismatch_index = -1;
};

// Compares two tensors of the same dtype and shape (error otherwise, naming both).
// tie_mask, when given, has one entry per element: nonzero where the emulator rounded a tie.
// float_lsb is the real value of one LSB for float tensors (a DequantizeLinear's scale), so
// their Δ is counted in LSB too; 0 counts float Δ in units of 1.
StatusOr<DivergenceMetrics> CompareQuantized(const Tensor& device, const Tensor& emulator,
                                             const std::vector<uint8_t>* tie_mask = nullptr,
                                             double float_lsb = 0);

struct AccuracyMetrics {
  double sqnr_db = 0;        // 10·log10(Σ ref² / Σ (dev − ref)²); +inf when equal
  double cosine = 0;         // cosine similarity; 1 when both are zero vectors
  double max_abs_error = 0;  // in real units
  std::optional<double> top1_agreement;  // fraction of rows whose argmax agrees (class outputs)
};

// `device` and `reference` hold real values of the same length. class_axis_len > 1 computes top-1
// agreement over rows of that length (the last axis of a classifier's output).
StatusOr<AccuracyMetrics> CompareReal(const std::vector<double>& device,
                                      const std::vector<double>& reference,
                                      int64_t class_axis_len = 0);

}  // namespace qfarm
