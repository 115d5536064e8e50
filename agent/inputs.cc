#include "agent/inputs.h"

#include "model/graph_builder.h"

namespace qfarm {

StatusOr<TensorMap> MatchInputFiles(const Graph& graph, const std::vector<NamedTensor>& files,
                                    const std::vector<std::string>& paths) {
  TensorMap out;
  auto is_input = [&](const std::string& name) {
    for (const ValueInfo& v : graph.inputs) if (v.name == name) return true;
    return graph.initializers.count(name) != 0;
  };
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string& name = files[i].name;
    if (name.empty()) continue;
    if (!is_input(name)) {
      return InvalidArgument(paths[i] + ": tensor name '" + name +
                             "' is not a graph input or initializer of model '" + graph.name + "'");
    }
    if (out.count(name)) return InvalidArgument(paths[i] + ": value '" + name + "' is given twice");
    out[name] = files[i].tensor;
  }
  size_t next = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    if (!files[i].name.empty()) continue;
    while (next < graph.inputs.size() && out.count(graph.inputs[next].name)) ++next;
    if (next >= graph.inputs.size()) {
      return InvalidArgument(paths[i] + ": more unnamed tensor files than graph inputs (" +
                             std::to_string(graph.inputs.size()) + ")");
    }
    out[graph.inputs[next].name] = files[i].tensor;
  }
  return out;
}

TensorMap GenerateMissingInputs(const Graph& graph, const TensorMap& given, uint64_t seed) {
  TensorMap out = given;
  for (const ValueInfo& v : graph.inputs) {
    if (out.count(v.name)) continue;
    uint64_t h = seed ^ 0xcbf29ce484222325ULL;  // mix the name in, FNV-1a style
    for (char c : v.name) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ULL;
    SplitMix64 rng(h);
    Shape shape = v.shape;
    for (int64_t& d : shape) if (d < 0) d = 1;
    Tensor t(v.dtype, shape);
    for (int64_t i = 0; i < t.numel(); ++i) {
      if (IsFloatType(v.dtype)) {
        t.SetDouble(i, rng.UniformReal(-1.0, 1.0));
      } else {
        t.SetInt(i, rng.UniformInt(DTypeMin(v.dtype), DTypeMax(v.dtype)));
      }
    }
    out[v.name] = std::move(t);
  }
  return out;
}

}  // namespace qfarm
