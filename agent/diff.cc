#include "agent/diff.h"

#include "agent/hash.h"
#include "agent/attribution.h"

#include <optional>

namespace qfarm {
namespace {

// A one-node graph whose inputs are the node's inputs, values taken from `values`.
StatusOr<std::pair<Graph, TensorMap>> SingleNodeGraph(const Graph& g, const Node& node,
                                                      const TensorMap& values) {
  Graph one;
  one.name = g.name + ":" + node.name;
  one.opset = g.opset;
  TensorMap inputs;
  for (const std::string& in : node.inputs) {
    if (in.empty() || inputs.count(in) || one.initializers.count(in)) continue;
    if (auto it = g.initializers.find(in); it != g.initializers.end() && !values.count(in)) {
      one.initializers[in] = it->second;
      continue;
    }
    auto it = values.find(in);
    if (it == values.end()) return Internal("value '" + in + "' of node '" + node.name + "' was not captured");
    one.inputs.push_back({in, it->second.dtype(), it->second.shape()});
    inputs[in] = it->second;
  }
  one.nodes.push_back(node);
  for (const std::string& out : node.outputs) {
    if (!out.empty()) one.outputs.push_back({out, DType::kUndefined, {}});
  }
  return std::make_pair(std::move(one), std::move(inputs));
}

// Elements where the emulator's final rounding met an exact tie: the node's result under
// rounding=half_up and rounding=half_down differ exactly there.
std::vector<uint8_t> TieMask(const Graph& one, const Profile& p, const TensorMap& inputs,
                             const std::string& value) {
  Profile up = p, down = p;
  up.rounding = Rounding::kHalfUp;
  down.rounding = Rounding::kHalfDown;
  auto a = RunReference(one, up, inputs);
  auto b = RunReference(one, down, inputs);
  if (!a.ok() || !b.ok()) return {};
  const Tensor& ta = a->outputs.at(value);
  const Tensor& tb = b->outputs.at(value);
  std::vector<uint8_t> mask(static_cast<size_t>(ta.numel()));
  for (int64_t i = 0; i < ta.numel(); ++i) mask[static_cast<size_t>(i)] = ta.GetDouble(i) != tb.GetDouble(i);
  return mask;
}

TensorMap AllValues(const Graph& /*graph*/, const TensorMap& inputs, const ExecResult& r) {
  TensorMap v = r.intermediates;
  for (const auto& [name, t] : inputs) v[name] = t;
  return v;
}

void AddAccuracy(const Graph& graph, const TensorMap& inputs, const ExecResult& dev, DiffReport* report) {
  auto real = RunRealValued(graph, inputs);
  if (!real.ok()) return;
  for (const auto& [name, t] : dev.outputs) {
    auto it = real->outputs.find(name);
    if (it == real->outputs.end()) continue;
    std::vector<double> d(static_cast<size_t>(t.numel()));
    auto qp = real->quant_params.find(name);
    for (int64_t i = 0; i < t.numel(); ++i) {
      d[static_cast<size_t>(i)] = qp == real->quant_params.end()
                                      ? t.GetDouble(i)
                                      : (t.GetDouble(i) - qp->second.second) * qp->second.first;
    }
    const int64_t classes = t.rank() == 2 && t.dim(0) <= 64 ? t.dim(1) : 0;
    auto acc = CompareReal(d, it->second, classes);
    if (acc.ok()) report->accuracy[name] = *acc;
  }
}

// One LSB of a float value produced by a DequantizeLinear with a constant per-tensor scale.
double FloatLsb(const Graph& g, const std::string& value) {
  const int idx = g.ProducerIndex(value);
  if (idx < 0) return 0;
  const Node& n = g.nodes[static_cast<size_t>(idx)];
  if (n.op_type != "DequantizeLinear" || !n.HasInput(1)) return 0;
  auto it = g.initializers.find(n.inputs[1]);
  return it != g.initializers.end() && it->second.numel() == 1 ? it->second.GetDouble(0) : 0;
}

bool SameOutputs(const TensorMap& a, const TensorMap& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [name, t] : a) {
    auto it = b.find(name);
    if (it == b.end() || !(it->second == t)) return false;
  }
  return true;
}

}  // namespace

StatusOr<DiffReport> Diff(Device& device, const Graph& graph, const Profile& device_profile,
                          const Profile& emulator_profile, const TensorMap& inputs, int repeats) {
  ExecOptions capture;
  capture.capture_intermediates = true;
  QFARM_ASSIGN_OR_RETURN(ExecResult dev, device.Run(graph, device_profile, inputs, capture));
  QFARM_ASSIGN_OR_RETURN(ExecResult emu, RunReference(graph, emulator_profile, inputs, capture));
  DiffReport report;
  report.device = device.info().name;
  report.profile_text = ProfileToText(emulator_profile, true);
  const TensorMap emu_values = AllValues(graph, inputs, emu);
  for (const Node& node : graph.nodes) {
    for (const std::string& value : node.outputs) {
      auto d = dev.intermediates.find(value);
      auto e = emu.intermediates.find(value);
      if (value.empty() || d == dev.intermediates.end() || e == emu.intermediates.end()) continue;
      LayerDivergence layer{node.name, node.op_type, value, {}, false};
      const double lsb = FloatLsb(graph, value);
      QFARM_ASSIGN_OR_RETURN(layer.metrics, CompareQuantized(d->second, e->second, nullptr, lsb));
      if (!layer.metrics.bit_exact) {
        QFARM_ASSIGN_OR_RETURN(auto one, SingleNodeGraph(graph, node, emu_values));
        auto alone = device.Run(one.first, device_profile, one.second, ExecOptions{});
        layer.isolated = !alone.ok() || !(alone->outputs.at(value) == e->second);
        const std::vector<uint8_t> ties = TieMask(one.first, emulator_profile, one.second, value);
        QFARM_ASSIGN_OR_RETURN(layer.metrics, CompareQuantized(d->second, e->second, ties.empty() ? nullptr : &ties, lsb));
        if (report.first_node.empty()) {
          report.first_node = node.name;
          report.first_isolated = layer.isolated;
          std::vector<const Tensor*> args;
          for (const std::string& in : node.inputs) {
            auto it = in.empty() ? emu_values.end() : emu_values.find(in);
            const Tensor* init = nullptr;
            if (!in.empty() && it == emu_values.end()) {
              auto gi = graph.initializers.find(in);
              if (gi != graph.initializers.end()) init = &gi->second;
            }
            args.push_back(it != emu_values.end() ? &it->second : init);
          }
          auto attribution = AttributeNode(node, args, d->second, emulator_profile);
          if (attribution.ok()) report.attribution = attribution->Describe();
        }
      }
      report.layers.push_back(std::move(layer));
    }
  }
  for (const auto& [name, t] : emu.outputs) {
    QFARM_ASSIGN_OR_RETURN(DivergenceMetrics m, CompareQuantized(dev.outputs.at(name), t, nullptr, FloatLsb(graph, name)));
    for (const LayerDivergence& l : report.layers) {
      if (l.value == name) m.ties_only = l.metrics.ties_only;
    }
    report.bit_exact = report.bit_exact && m.bit_exact;
    report.outputs[name] = m;
    report.output_sha256[name] = TensorSha256(dev.outputs.at(name));
  }
  AddAccuracy(graph, inputs, dev, &report);
  // Determinism: plain runs (no capture, which may change how a runtime fuses) must agree.
  report.repeats = repeats;
  std::optional<TensorMap> first;
  for (int i = 0; i < repeats; ++i) {
    auto again = device.Run(graph, device_profile, inputs, ExecOptions{});
    if (!again.ok()) {
      report.deterministic = false;
      continue;
    }
    if (!first) first = again->outputs;
    else if (!SameOutputs(again->outputs, *first)) report.deterministic = false;
  }
  return report;
}

}  // namespace qfarm
