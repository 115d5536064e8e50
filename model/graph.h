// The quantized-graph IR: an ONNX-shaped graph (named values, nodes with attributes, constant
// initializers) that both reference/ and kernels/ execute.
//
// It deliberately mirrors ONNX so an imported model keeps its node names in every report, and so
// QOperator models, QDQ models after fusion (qdq_fusion.h) and the built-in suite (builtin.h) all
// look alike. Quantization parameters are ordinary values (usually initializers), exactly as in
// ONNX. Graph::nodes is kept in topological order by every producer (importer, builder, fusion).
// An empty input name means an omitted optional input. Plain data; no invariants beyond the
// ones Validate() (validate.h) checks.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "model/tensor.h"

namespace qfarm {

struct Attribute {
  enum class Kind { kInt, kFloat, kString, kInts, kFloats, kTensor };
  Kind kind = Kind::kInt;
  int64_t i = 0;
  float f = 0;
  std::string s;
  std::vector<int64_t> ints;
  std::vector<float> floats;
  Tensor t;

  static Attribute Int(int64_t v);
  static Attribute Float(float v);
  static Attribute String(std::string v);
  static Attribute Ints(std::vector<int64_t> v);
  static Attribute Floats(std::vector<float> v);
  static Attribute FromTensor(Tensor v);
};

struct Node {
  std::string name;     // unique within the graph; the importer names unnamed nodes "<op>_<index>"
  std::string op_type;  // ONNX spelling, e.g. "QLinearConv"
  std::string domain;   // "" for ai.onnx, "com.microsoft" for contrib ops
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  std::map<std::string, Attribute> attrs;

  bool HasAttr(const std::string& key) const { return attrs.count(key) != 0; }
  int64_t AttrInt(const std::string& key, int64_t fallback) const;
  float AttrFloat(const std::string& key, float fallback) const;
  std::string AttrString(const std::string& key, const std::string& fallback) const;
  std::vector<int64_t> AttrInts(const std::string& key, std::vector<int64_t> fallback = {}) const;
  // Input i if present and non-empty.
  bool HasInput(size_t i) const { return i < inputs.size() && !inputs[i].empty(); }
};

// A graph input or output: name, element type and shape (a dim of -1 is unknown/dynamic).
struct ValueInfo {
  std::string name;
  DType dtype = DType::kUndefined;
  Shape shape;
};

struct Graph {
  std::string name;
  int64_t opset = 13;  // ai.onnx opset the model was written against
  std::vector<ValueInfo> inputs;   // graph inputs that are not initializers
  std::vector<ValueInfo> outputs;
  std::map<std::string, Tensor> initializers;
  std::vector<Node> nodes;  // topological order

  const Node* FindNode(const std::string& name) const;
  // Index of the node producing `value`, or -1 for graph inputs and initializers.
  int ProducerIndex(const std::string& value) const;
};

using TensorMap = std::map<std::string, Tensor>;

}  // namespace qfarm
