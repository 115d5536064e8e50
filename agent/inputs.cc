#include "agent/inputs.h"

#include <map>

#include "model/graph_builder.h"
#include "model/onnx/onnx_io.h"
#include "model/validate.h"

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

namespace {

// Which file each given value came from: MatchInputFiles' own rule, run on index markers.
StatusOr<std::map<std::string, std::string>> SourceFiles(const Graph& graph, const std::vector<NamedTensor>& files,
                                                         const std::vector<std::string>& paths) {
  std::vector<NamedTensor> markers;
  for (size_t i = 0; i < files.size(); ++i) {
    markers.push_back({files[i].name, Tensor::Scalar(DType::kInt64, static_cast<double>(i))});
  }
  QFARM_ASSIGN_OR_RETURN(TensorMap matched, MatchInputFiles(graph, markers, paths));
  std::map<std::string, std::string> source;
  for (const auto& [name, marker] : matched) source[name] = paths.at(static_cast<size_t>(marker.GetInt(0)));
  return source;
}

std::string TypeAndShape(const Tensor& t) {
  return std::string(DTypeName(t.dtype())) + " " + ShapeToString(t.shape());
}

// Checks each given tensor where it lands, so that the error names its file: a graph input
// against its declaration (dims of -1 accept any size), an initializer override for the same
// type and shape and, applied to the graph, for the values validation checks (scales, zero points).
Status CheckGivenTensors(const Graph& graph, const TensorMap& given,
                         const std::map<std::string, std::string>& source) {
  Graph overridden = graph;
  for (const auto& [name, t] : given) {
    const std::string& path = source.at(name);
    for (const ValueInfo& decl : graph.inputs) {
      if (decl.name != name) continue;
      bool ok = decl.dtype == t.dtype() && decl.shape.size() == t.shape().size();
      for (size_t i = 0; ok && i < decl.shape.size(); ++i) ok = decl.shape[i] < 0 || decl.shape[i] == t.dim(i);
      if (!ok) {
        return InvalidArgument(path + ": input '" + name + "': expected " + std::string(DTypeName(decl.dtype)) +
                               " " + ShapeToString(decl.shape) + ", got " + TypeAndShape(t));
      }
    }
    auto init = graph.initializers.find(name);
    if (init == graph.initializers.end()) continue;
    if (init->second.dtype() != t.dtype() || init->second.shape() != t.shape()) {
      return InvalidArgument(path + ": '" + name + "' overrides an initializer of " + TypeAndShape(init->second) +
                             " with " + TypeAndShape(t));
    }
    overridden.initializers[name] = t;
    Status valid = Validate(overridden).status();
    if (!valid.ok()) return valid.WithContext(path);
  }
  return Status::Ok();
}

}  // namespace

StatusOr<TensorMap> LoadInputFiles(const Graph& graph, const std::vector<std::string>& paths, uint64_t seed) {
  std::vector<NamedTensor> files;
  for (const std::string& path : paths) {
    QFARM_ASSIGN_OR_RETURN(NamedTensor t, ReadTensorFile(path));
    files.push_back(std::move(t));
  }
  QFARM_ASSIGN_OR_RETURN(TensorMap given, MatchInputFiles(graph, files, paths));
  QFARM_ASSIGN_OR_RETURN(auto source, SourceFiles(graph, files, paths));
  QFARM_RETURN_IF_ERROR(CheckGivenTensors(graph, given, source));
  return GenerateMissingInputs(graph, given, seed);
}

}  // namespace qfarm
