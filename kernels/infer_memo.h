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

class InferMemo {
 public:
  // AllocateOutputs(node, inputs, zero = false), remembered. `node` must be the one node this
  // memo belongs to, unchanged (PreparedWeights holds one per prepared node).
  StatusOr<std::vector<Tensor>> AllocateOutputs(const Node& node, const std::vector<const Tensor*>& inputs);

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
  std::vector<Input> key_;
  std::vector<std::pair<DType, Shape>> outputs_;
};

}  // namespace qfarm::kernels
