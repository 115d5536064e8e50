#include "model/graph_builder.h"

namespace qfarm {

uint64_t SplitMix64::Next() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

int64_t SplitMix64::UniformInt(int64_t lo, int64_t hi) {
  // Unsigned arithmetic: the span of the full int64 range does not fit int64 (and wraps to 0).
  const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo) + 1;
  const uint64_t r = span == 0 ? Next() : Next() % span;
  return static_cast<int64_t>(static_cast<uint64_t>(lo) + r);
}

double SplitMix64::UniformReal(double lo, double hi) {
  const double u = static_cast<double>(Next() >> 11) * 0x1.0p-53;
  return lo + (hi - lo) * u;
}

GraphBuilder::GraphBuilder(std::string name, int64_t opset, uint64_t seed) : rng_(seed) {
  graph_.name = std::move(name);
  graph_.opset = opset;
}

void GraphBuilder::Input(const std::string& name, DType dtype, Shape shape) {
  graph_.inputs.push_back({name, dtype, std::move(shape)});
}

void GraphBuilder::Output(const std::string& name, DType dtype, Shape shape) {
  graph_.outputs.push_back({name, dtype, std::move(shape)});
}

std::string GraphBuilder::Init(const std::string& name, Tensor t) {
  graph_.initializers[name] = std::move(t);
  return name;
}

std::string GraphBuilder::Scalar(const std::string& name, DType dtype, double v) {
  return Init(name, Tensor::Scalar(dtype, v));
}

std::string GraphBuilder::Vector(const std::string& name, DType dtype, const std::vector<double>& v) {
  return Init(name, Tensor::FromDoubles(dtype, {static_cast<int64_t>(v.size())}, v));
}

std::string GraphBuilder::Op(const std::string& op, const std::string& name,
                             std::vector<std::string> inputs, std::vector<std::string> outputs,
                             std::map<std::string, Attribute> attrs, const std::string& domain) {
  Node n;
  n.name = name;
  n.op_type = op;
  n.domain = domain;
  n.inputs = std::move(inputs);
  n.outputs = std::move(outputs);
  n.attrs = std::move(attrs);
  graph_.nodes.push_back(std::move(n));
  return graph_.nodes.back().outputs.front();
}

Tensor GraphBuilder::RandomInts(DType dtype, Shape shape, int64_t lo, int64_t hi) {
  Tensor t(dtype, std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) t.SetInt(i, rng_.UniformInt(lo, hi));
  return t;
}

Tensor GraphBuilder::RandomFloats(Shape shape, double lo, double hi) {
  Tensor t(DType::kFloat32, std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) t.SetDouble(i, rng_.UniformReal(lo, hi));
  return t;
}

std::vector<double> GraphBuilder::RandomReals(size_t n, double lo, double hi) {
  std::vector<double> v(n);
  for (double& x : v) x = static_cast<double>(static_cast<float>(rng_.UniformReal(lo, hi)));
  return v;
}

}  // namespace qfarm
