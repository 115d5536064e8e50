// GraphBuilder: terse, deterministic construction of IR graphs in C++ for the built-in suite,
// tests and fingerprint probes. Random weights come from a splitmix64 stream with integer-only
// mapping, so every machine and standard library produces the same bytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/graph.h"

namespace qfarm {

// splitmix64: tiny, well-mixed, and fully specified (no std:: distributions, whose output is
// implementation-defined).
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next();
  int64_t UniformInt(int64_t lo, int64_t hi);  // inclusive; modulo mapping (bias < 2^-40)
  double UniformReal(double lo, double hi);    // [lo, hi) from the top 53 bits

 private:
  uint64_t state_;
};

class GraphBuilder {
 public:
  GraphBuilder(std::string name, int64_t opset, uint64_t seed);

  // Adds a graph input / output declaration.
  void Input(const std::string& name, DType dtype, Shape shape);
  void Output(const std::string& name, DType dtype, Shape shape);
  // Adds an initializer and returns its name.
  std::string Init(const std::string& name, Tensor t);
  std::string Scalar(const std::string& name, DType dtype, double v);
  std::string Vector(const std::string& name, DType dtype, const std::vector<double>& v);
  // Adds a node; returns its first output name.
  std::string Op(const std::string& op, const std::string& name,
                 std::vector<std::string> inputs, std::vector<std::string> outputs,
                 std::map<std::string, Attribute> attrs = {}, const std::string& domain = "");

  Tensor RandomInts(DType dtype, Shape shape, int64_t lo, int64_t hi);
  Tensor RandomFloats(Shape shape, double lo, double hi);
  std::vector<double> RandomReals(size_t n, double lo, double hi);

  Graph Build() const { return graph_; }
  Graph& graph() { return graph_; }

 private:
  Graph graph_;
  SplitMix64 rng_;
};

}  // namespace qfarm
