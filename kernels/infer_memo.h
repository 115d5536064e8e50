// The outputs' types and shapes of one prepared node, remembered for the inputs they were
// inferred from. InferNode (through AllocateOutputs) checks every scale, zero point and shape
// on every call, and for a layer of a few microseconds that costs as much as a tenth of the
// layer. It is a pure function of the node and of its inputs' types, shapes and — for inputs of
// at most kInferConstantElements elements — values, so a call whose inputs match the remembered
// ones exactly (bytes of the small ones compared) gets the same answer without running it;
// anything else runs it, errors included. Thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "common/status.h"
#include "model/graph.h"
#include "model/tensor.h"

namespace qfarm::kernels {

// What an op derives from its node, its inputs' types and shapes, the values of its small inputs
// and the profile, beyond the output shapes (geometry, zero points, requantization parameters):
// remembered beside them for the same input signature (InferMemo::RememberPlan).
struct NodePlan {
  virtual ~NodePlan() = default;
};

class InferMemo {
 public:
  struct Allocation {
    std::vector<Tensor> outputs;
    std::shared_ptr<const NodePlan> plan;  // remembered for these inputs, or null
    uint64_t signature = 0;                // names these inputs' signature (RememberPlan)
  };
  // AllocateOutputs(node, inputs, zero = false), remembered. `node` must be the one node this
  // memo belongs to, unchanged (PreparedWeights holds one per prepared node).
  StatusOr<Allocation> Allocate(const Node& node, const std::vector<const Tensor*>& inputs);
  // Keeps `plan` for the inputs of `signature` (from Allocate), unless the memo has moved on to
  // other inputs since. A plan may depend on the values of inputs of at most
  // kInferConstantElements elements only (Covers): the other inputs' values are not compared.
  void RememberPlan(uint64_t signature, std::shared_ptr<const NodePlan> plan);
  static bool Covers(const Tensor* input);

 private:
  struct Input {
    bool present = false;
    DType dtype = DType::kUndefined;
    Shape shape;
    std::vector<std::byte> bytes;  // the values of inputs small enough to be read as constants
  };
  bool Matches(const std::vector<const Tensor*>& inputs) const;

  std::mutex mu_;
  bool valid_ = false;
  uint64_t signature_ = 0;  // counts the key's changes
  std::vector<Input> key_;
  std::vector<std::pair<DType, Shape>> outputs_;
  std::shared_ptr<const NodePlan> plan_;
};

}  // namespace qfarm::kernels
