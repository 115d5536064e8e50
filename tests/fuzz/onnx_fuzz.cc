// libFuzzer target: ONNX model import (docs/fuzzing.md).
//
// Bytes → ParseOnnxModel (protobuf parse, IR conversion, Constant folding, naming, topological
// sort, Validate) → FuseQdq → the fused graph must validate again (fusion's contract) → when the
// model is tiny (dynamic dims set to 1), the reference emulator and the real-valued reference
// on generated inputs, with the default profile or a named one picked by the input. Errors are fine; crashes, sanitizer reports and a
// valid model whose fusion is invalid are not.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "model/graph.h"
#include "model/onnx/onnx_io.h"
#include "model/qdq_fusion.h"
#include "model/validate.h"
#include "reference/executor.h"
#include "reference/profile.h"

namespace {

// Bounds that keep the emulator runs of one input under 10 ms in this build (ASan+UBSan and
// coverage cost ~75 ns per MAC: the built-in mlp, 9.5k MACs, runs in ~1.2 ms).
constexpr int64_t kMaxValueElements = 1 << 14;  // per value
constexpr int64_t kMaxWork = 1 << 15;           // Σ over nodes: MACs (over-estimated) + elements read
constexpr size_t kMaxNodes = 128;

// Saturating a·b for non-negative a, b.
int64_t MulSat(int64_t a, int64_t b) {
  if (a == 0 || b == 0) return 0;
  return a > INT64_MAX / b ? INT64_MAX : a * b;
}

// The graph with every dynamic dim of its inputs set to 1; false if it is too big to run.
bool Concretize(const qfarm::Graph& g, qfarm::Graph* out, qfarm::ValueInfoMap* infos) {
  if (g.nodes.size() > kMaxNodes) return false;
  *out = g;
  for (qfarm::ValueInfo& in : out->inputs) {
    for (int64_t& d : in.shape) d = d < 0 ? 1 : d;
    const int64_t n = qfarm::NumElements(in.shape);
    if (n < 0 || n > kMaxValueElements) return false;
  }
  for (const auto& [name, t] : out->initializers) {
    if (t.numel() > kMaxValueElements) return false;
  }
  auto v = qfarm::Validate(*out);
  if (!v.ok()) return false;
  *infos = std::move(*v);
  auto elems = [&](const std::string& name) -> int64_t {
    if (name.empty()) return 0;
    auto it = infos->find(name);
    if (it == infos->end()) return 0;
    const int64_t n = qfarm::NumElements(it->second.shape);
    return n < 0 ? INT64_MAX : n;  // a dim only known at run time: refuse
  };
  int64_t work = 0;
  for (const qfarm::Node& node : out->nodes) {
    int64_t in_sum = 0, out_sum = 0;
    for (const std::string& i : node.inputs) in_sum = std::min(in_sum + elems(i), INT64_MAX / 2);
    for (const std::string& o : node.outputs) {
      const int64_t n = elems(o);
      if (n > kMaxValueElements) return false;
      out_sum += n;
    }
    // Multiply-accumulates (or window reads) per output element, over-estimated.
    int64_t per_out = 1;
    const std::string& op = node.op_type;
    auto info = [&](size_t i) -> const qfarm::ValueInfo* {
      if (!node.HasInput(i)) return nullptr;
      auto it = infos->find(node.inputs[i]);
      return it == infos->end() ? nullptr : &it->second;
    };
    if (op == "MatMul" || op == "QLinearMatMul" || op == "MatMulInteger" || op == "Gemm") {
      if (const qfarm::ValueInfo* a = info(0)) {
        for (int64_t d : a->shape) per_out = std::max(per_out, d);
      }
    } else if (op == "Conv" || op == "ConvInteger" || op == "QLinearConv") {
      const qfarm::ValueInfo* w = info(op == "QLinearConv" ? 3 : 1);
      if (w && !w->shape.empty() && w->shape[0] > 0) per_out = elems(node.inputs[op == "QLinearConv" ? 3 : 1]) / w->shape[0];
    } else if (op == "MaxPool" || op == "AveragePool" || op == "QLinearAveragePool") {
      per_out = 1;
      for (int64_t k : node.AttrInts("kernel_shape")) per_out = MulSat(per_out, std::max<int64_t>(k, 1));
    }
    work += std::min(MulSat(std::max<int64_t>(out_sum, 1), std::max<int64_t>(per_out, 1)), kMaxWork + 1) + in_sum;
    if (work > kMaxWork) return false;
  }
  return true;
}

// Deterministic, input-dependent values over each type's whole range.
qfarm::Tensor MakeInput(const qfarm::ValueInfo& info, uint32_t seed) {
  const int64_t n = qfarm::NumElements(info.shape);
  std::vector<int64_t> ints(static_cast<size_t>(n));
  uint32_t x = seed | 1;
  for (int64_t& v : ints) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    v = static_cast<int64_t>(x % 512) - 256;
  }
  if (qfarm::IsIntegerType(info.dtype)) {
    const int64_t lo = qfarm::DTypeMin(info.dtype), hi = qfarm::DTypeMax(info.dtype);
    for (int64_t& v : ints) v = std::clamp(v, lo, hi);
    return qfarm::Tensor::FromInts(info.dtype, info.shape, ints);
  }
  if (qfarm::IsFloatType(info.dtype)) {
    std::vector<double> d(ints.begin(), ints.end());
    for (double& v : d) v /= 16;
    return qfarm::Tensor::FromDoubles(info.dtype, info.shape, d);
  }
  return qfarm::Tensor(info.dtype, info.shape);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  auto graph = qfarm::ParseOnnxModel(bytes, "fuzz");
  if (!graph.ok()) return 0;

  std::vector<qfarm::FusionRecord> records;
  const qfarm::Graph fused = qfarm::FuseQdq(*graph, &records);
  auto fused_ok = qfarm::Validate(fused);
  if (!fused_ok.ok()) __builtin_trap();  // a valid model must stay valid through fusion

  qfarm::Graph run;
  qfarm::ValueInfoMap infos;
  if (!Concretize(fused, &run, &infos)) return 0;

  uint32_t seed = 2166136261u;
  for (size_t i = 0; i < size; i += 61) seed = (seed ^ data[i]) * 16777619u;
  qfarm::TensorMap inputs;
  for (const qfarm::ValueInfo& in : run.inputs) inputs[in.name] = MakeInput(in, seed);

  qfarm::ExecOptions options;
  options.max_tensor_bytes = int64_t{16} << 20;
  // The default profile, or one of the named ones, picked by the input.
  qfarm::Profile profile;
  const auto profiles = qfarm::NamedProfiles();
  const size_t pick = seed % (profiles.size() + 1);
  if (pick < profiles.size()) {
    auto p = qfarm::ParseProfile(profiles[pick].name);
    if (!p.ok()) __builtin_trap();  // a named profile must parse
    profile = *p;
  }
  (void)qfarm::RunReference(run, profile, inputs, options);
  (void)qfarm::RunRealValued(run, inputs);
  return 0;
}
