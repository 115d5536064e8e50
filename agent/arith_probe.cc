#include "agent/arith_probe.h"

#include <map>
#include <set>

#include "model/graph_builder.h"
#include "reference/ops.h"

namespace qfarm {
namespace {

std::vector<Profile> AllProfiles() {
  std::vector<Profile> out;
  const std::vector<ProfileKey>& axes = ProfileVocabulary();
  std::vector<size_t> idx(axes.size(), 0);
  while (true) {
    std::string text;
    for (size_t k = 0; k < idx.size(); ++k) {
      text += (k ? "," : "") + std::string(axes[k].key) + "=" + std::string(axes[k].values[idx[k]]);
    }
    out.push_back(*ParseProfile(text));
    size_t k = 0;
    while (k < idx.size() && ++idx[k] == axes[k].values.size()) idx[k++] = 0;
    if (k == idx.size()) return out;
  }
}

// One probe: a one-node graph with graph input "x" and output "y".
struct Probe {
  std::string name;
  Graph graph;
  Tensor x;
};

Tensor Ints(DType t, Shape s, std::vector<int64_t> v) { return Tensor::FromInts(t, std::move(s), v); }

// QLinearMatMul a[M×K] (graph input) · w[K×N] with the given scales and zero points; the output
// has a's type (what ONNX Runtime implements), a uint8 output zero point is offset by 128.
Probe QMatMul(const std::string& name, const Tensor& a, const Tensor& w, double sa, double sw, double sy,
              int64_t za, int64_t zy) {
  GraphBuilder b(name, 13, 1);
  b.Input("x", a.dtype(), a.shape());
  const DType out = a.dtype();
  const int64_t zy_stored = out == DType::kUInt8 ? zy + 128 : zy;
  b.Output("y", out, {a.dim(0), w.dim(1)});
  b.Op("QLinearMatMul", name, {"x", b.Scalar("sa", DType::kFloat32, sa), b.Scalar("za", a.dtype(), static_cast<double>(za)),
                              b.Init("w", w), b.Scalar("sw", DType::kFloat32, sw), b.Scalar("zw", DType::kInt8, 0),
                              b.Scalar("sy", DType::kFloat32, sy), b.Scalar("zy", out, static_cast<double>(zy_stored))},
       {"y"});
  return {name, b.Build(), a};
}

// MatMulInteger a[M×K] · w[K×N] → the int32 accumulators themselves.
Probe IntMatMul(const std::string& name, const Tensor& a, const Tensor& w, int64_t za) {
  GraphBuilder b(name, 13, 1);
  b.Input("x", a.dtype(), a.shape());
  b.Output("y", DType::kInt32, {a.dim(0), w.dim(1)});
  b.Op("MatMulInteger", name, {"x", b.Init("w", w), b.Scalar("za", a.dtype(), static_cast<double>(za))}, {"y"});
  return {name, b.Build(), a};
}

std::vector<Probe> Probes() {
  std::vector<Probe> p;
  const DType s8 = DType::kInt8, u8 = DType::kUInt8;
  // Ties of each sign: acc ±1, ±3, ±5, ±7 times m = 0.5 (exact in every scheme).
  p.push_back(QMatMul("ties of each sign (m = 0.5)", Ints(s8, {8, 1}, {1, -1, 3, -3, 5, -5, 7, -7}),
                      Ints(s8, {1, 1}, {1}), 1.0, 0.5, 1.0, 0, 0));
  // TFLite's single vs double rounding vector: m = 0.25, acc 1 → 1 vs 0, acc −2 → −1 vs 0.
  p.push_back(QMatMul("single vs double rounding (m = 0.25)", Ints(s8, {6, 1}, {1, -2, 2, -1, 6, -6}),
                      Ints(s8, {1, 1}, {1}), 0.5, 0.5, 1.0, 0, 0));
  // Multiplier precision and float32 vs float64 products, on random data and awkward scales.
  GraphBuilder r("random", 13, 0x70726f6265);
  // (u8 activations ≤ 127 and |w| ≤ 127 keep every int16 pair unsaturated, so these probes see
  // the same accumulators whatever pair_sat16 is.)
  p.push_back(QMatMul("random data, awkward scales", r.RandomInts(u8, {32, 48}, 0, 127), r.RandomInts(s8, {48, 32}, -127, 127),
                      0.0137, 0.00731, 0.7193, 3, -2));
  p.push_back(QMatMul("random data, multiplier near 1/3", r.RandomInts(u8, {32, 32}, 0, 127), r.RandomInts(s8, {32, 32}, -30, 30),
                      1.0 / 3, 1.0 / 7, 1.0 / 5, 0, 0));
  // int16 pair saturation: {255,255}·{127,127} = 64770 or 32767; with zero point 255 the
  // subtract-first pairs are 0 while fold-after pairs still saturate.
  p.push_back(IntMatMul("int16 pair saturation", Ints(u8, {2, 2}, {255, 255, 255, 254}), Ints(s8, {2, 1}, {127, 127}), 0));
  p.push_back(IntMatMul("pair saturation with a zero point", Ints(u8, {1, 2}, {255, 255}), Ints(s8, {2, 1}, {127, 127}), 255));
  // The 2^24 float boundary: acc = 35651585 = 8.5·2^22 + 1, m = 2^−22: float32(acc)·m = 8.5
  // (a tie), float64 gives 8.5 + 2^−22.
  {
    std::vector<int64_t> a(2212, 127), w(2212, 127);
    a[2210] = 127; w[2210] = 51;
    a[2211] = 18; w[2211] = 1;
    p.push_back(QMatMul("the 2^24 float boundary", Ints(u8, {1, 2212}, a), Ints(s8, {2212, 1}, w),
                        1.0 / 2048, 1.0 / 2048, 1.0, 0, 0));
  }
  // Accumulators leaving 16, 24 and 32 bits: K products of (−128)·(−128) = 2^14.
  for (int64_t k : {int64_t{3}, int64_t{1100}, int64_t{131100}}) {
    p.push_back(IntMatMul("accumulation of " + std::to_string(k) + " × 2^14", Ints(s8, {1, k}, std::vector<int64_t>(k, -128)),
                          Ints(s8, {k, 1}, std::vector<int64_t>(k, -128)), 0));
  }
  // Past 32 bits, seen through requantization (MatMulInteger's int32 output hides it):
  // 131100 × 2^14 · 2^−26 = 32.01 with a 40-bit or wider accumulator, −31.99 after a 32-bit wrap.
  p.push_back(QMatMul("accumulation past 2^31, requantized", Ints(s8, {1, 131100}, std::vector<int64_t>(131100, -128)),
                      Ints(s8, {131100, 1}, std::vector<int64_t>(131100, -128)), 1.0 / 8192, 1.0 / 8192, 1.0, 0, 0));
  return p;
}

// The node's output for each surviving candidate, compared with the device's.
std::vector<Profile> Filter(const Probe& probe, const Tensor& device_y, const std::vector<Profile>& candidates) {
  const Node& node = probe.graph.nodes[0];
  std::vector<const Tensor*> args;
  for (const std::string& in : node.inputs) {
    args.push_back(in == "x" ? &probe.x : &probe.graph.initializers.at(in));
  }
  std::vector<Profile> kept;
  for (const Profile& c : candidates) {
    auto out = RunReferenceNode(node, c, args);
    if (out.ok() && (*out)[0] == device_y) kept.push_back(c);
  }
  return kept;
}

void Summarize(ArithFingerprint* f) {
  for (const NamedProfile& np : NamedProfiles()) {
    const Profile p = *ParseProfile(np.name);
    for (const Profile& c : f->consistent) {
      if (c == p) { f->named.emplace_back(np.name); break; }
    }
  }
  for (const ProfileKey& axis : ProfileVocabulary()) {
    const std::string key(axis.key);
    std::set<std::string> seen;
    for (const Profile& c : f->consistent) {
      const std::string text = ProfileToText(c, true);
      const size_t at = text.find(key + "=");
      seen.insert(text.substr(at + key.size() + 1, text.find(',', at) - at - key.size() - 1));
    }
    std::vector<std::string> ordered;
    for (std::string_view v : axis.values) if (seen.count(std::string(v))) ordered.emplace_back(v);
    f->keys.emplace_back(key, ordered);
  }
}

}  // namespace

StatusOr<ArithFingerprint> ProbeArithmetic(Device& device) {
  QFARM_ASSIGN_OR_RETURN(Profile declared, ParseProfile(device.info().declared_profile));
  ArithFingerprint f;
  std::vector<Profile> candidates = AllProfiles();
  for (const Probe& probe : Probes()) {
    auto out = device.Run(probe.graph, declared, {{"x", probe.x}}, ExecOptions{});
    if (!out.ok()) return out.status().WithContext("probe '" + probe.name + "'");
    candidates = Filter(probe, out->outputs.at("y"), candidates);
    f.steps.push_back({probe.name, static_cast<int64_t>(candidates.size())});
    if (candidates.empty()) {
      f.ruled_out_by = probe.name;
      break;
    }
  }
  f.consistent = std::move(candidates);
  Summarize(&f);
  return f;
}

}  // namespace qfarm
