// The divergence report of one model on one device against the emulator (DESIGN.md
// "Divergence and accuracy metrics"): per-output and per-layer metrics, the first diverging node,
// whether each diverging node diverges on its own (isolated: the device, fed the emulator's
// inputs for that node alone, still differs) or only inherits upstream error, which mismatches
// sit on exact rounding ties, and accuracy against the real-valued reference.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "agent/device.h"
#include "agent/metrics.h"

namespace qfarm {

struct LayerDivergence {
  std::string node, op, value;
  DivergenceMetrics metrics;
  bool isolated = false;  // meaningful when !metrics.bit_exact
};

struct DiffReport {
  std::string device;
  std::string profile_text;  // the emulator's profile, all keys
  bool bit_exact = true;
  std::map<std::string, DivergenceMetrics> outputs;
  std::map<std::string, std::string> output_sha256;  // the device's outputs (agent/hash.h)
  std::map<std::string, AccuracyMetrics> accuracy;  // device output vs real-valued reference
  std::vector<LayerDivergence> layers;              // every node output, topological order
  std::string first_node;                           // "" when bit-exact
  bool first_isolated = false;
  std::string attribution;  // why the first diverging node differs (agent/attribution.h)
  bool deterministic = true;  // repeated runs on the same inputs gave the same output bytes
  int repeats = 0;
};

// `repeats` extra runs of the device probe its determinism.
StatusOr<DiffReport> Diff(Device& device, const Graph& graph, const Profile& device_profile,
                          const Profile& emulator_profile, const TensorMap& inputs, int repeats = 2);

}  // namespace qfarm
