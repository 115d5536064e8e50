#include "model/graph.h"

namespace qfarm {

Attribute Attribute::Int(int64_t v) { Attribute a; a.kind = Kind::kInt; a.i = v; return a; }
Attribute Attribute::Float(float v) { Attribute a; a.kind = Kind::kFloat; a.f = v; return a; }
Attribute Attribute::String(std::string v) {
  Attribute a; a.kind = Kind::kString; a.s = std::move(v); return a;
}
Attribute Attribute::Ints(std::vector<int64_t> v) {
  Attribute a; a.kind = Kind::kInts; a.ints = std::move(v); return a;
}
Attribute Attribute::Floats(std::vector<float> v) {
  Attribute a; a.kind = Kind::kFloats; a.floats = std::move(v); return a;
}
Attribute Attribute::FromTensor(Tensor v) {
  Attribute a; a.kind = Kind::kTensor; a.t = std::move(v); return a;
}

int64_t Node::AttrInt(const std::string& key, int64_t fallback) const {
  auto it = attrs.find(key);
  return it == attrs.end() ? fallback : it->second.i;
}

float Node::AttrFloat(const std::string& key, float fallback) const {
  auto it = attrs.find(key);
  return it == attrs.end() ? fallback : it->second.f;
}

std::string Node::AttrString(const std::string& key, const std::string& fallback) const {
  auto it = attrs.find(key);
  return it == attrs.end() ? fallback : it->second.s;
}

std::vector<int64_t> Node::AttrInts(const std::string& key, std::vector<int64_t> fallback) const {
  auto it = attrs.find(key);
  return it == attrs.end() ? fallback : it->second.ints;
}

const Node* Graph::FindNode(const std::string& node_name) const {
  for (const Node& n : nodes) {
    if (n.name == node_name) return &n;
  }
  return nullptr;
}

int Graph::ProducerIndex(const std::string& value) const {
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (const std::string& out : nodes[i].outputs) {
      if (out == value) return static_cast<int>(i);
    }
  }
  return -1;
}

}  // namespace qfarm
