// What `run` and `diff` share: load and fuse the model, open the device, build the inputs.
#pragma once

#include <memory>

#include "agent/device.h"
#include "cli/commands.h"
#include "model/qdq_fusion.h"

namespace qfarm::cli {

struct PreparedJob {
  Graph graph;
  std::vector<FusionRecord> fused;
  std::unique_ptr<Device> device;
  TensorMap inputs;
};

StatusOr<PreparedJob> PrepareJob(const RunArgs& args);

}  // namespace qfarm::cli
