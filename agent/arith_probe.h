// Arithmetic fingerprinting: which profiles a device's integer arithmetic is consistent with.
// Probe models, each a single node built to separate axes of ARITHMETIC.md (ties of each sign
// for every rounding rule, single vs double rounding, the 2^24 float boundary, accumulators that
// overflow 16, 24 and 32 bits, int16 pair saturation with and without zero points, bias order
// under saturation, multiplier precision on random data), run on the device; every candidate
// profile (the full product of the axes' values, 27,648) is run through the emulator on the same
// probes, and those whose bytes match every probe survive. Probes run cheapest first and later
// ones only see the survivors.
#pragma once

#include <string>
#include <vector>

#include "agent/device.h"

namespace qfarm {

struct ProbeStep {
  std::string probe;   // what it separates
  int64_t survivors;   // candidates consistent with it and every earlier probe
};

struct ArithFingerprint {
  std::vector<Profile> consistent;       // survivors of every probe
  std::vector<ProbeStep> steps;
  std::string ruled_out_by;              // the probe that left no candidate, when none is
  std::vector<std::string> named;        // named profiles among the consistent ones
  // Per key, the values some consistent profile has ("rounding" → {"half_even"}).
  std::vector<std::pair<std::string, std::vector<std::string>>> keys;
};

StatusOr<ArithFingerprint> ProbeArithmetic(Device& device);

}  // namespace qfarm
