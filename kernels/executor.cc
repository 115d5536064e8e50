#include "kernels/executor.h"

#include "kernels/layout.h"
#include "reference/ops.h"

namespace qfarm::kernels {

std::vector<HostPath> AvailableHostPaths() {
  std::vector<HostPath> paths;
  int count = 0;
  const QGemmKernel* all = AllQGemmKernels(&count);
  for (int i = 0; i < count; ++i) {
    if (!CpuHas(all[i].isa)) continue;
    paths.push_back({"host-" + std::string(IsaName(all[i].isa)), all[i].isa,
                     std::string(all[i].declared_profile)});
  }
  return paths;
}

StatusOr<HostPath> FindHostPath(const std::string& device) {
  const std::vector<HostPath> paths = AvailableHostPaths();
  if (device == "host") {
    // The best path: the last exact (non-saturating) one, as a production runtime would pick.
    for (auto it = paths.rbegin(); it != paths.rend(); ++it) {
      if (!FindQGemmKernel(it->isa)->pair_sat16) return HostPath{"host", it->isa, it->declared_profile};
    }
  }
  for (const HostPath& p : paths) {
    if (p.device == device) return p;
  }
  std::string names = "host";
  for (const HostPath& p : paths) names += ", " + p.device;
  return InvalidArgument("device '" + device + "' is not available on this CPU (host paths here: " + names + ")");
}

bool KernelsCompute(bool pair_sat16, const Profile& p, std::string* why) {
  auto fail = [&](const std::string& reason) {
    if (why) *why = reason;
    return false;
  };
  if (p.acc_bits != 32) return fail("its accumulators are 32-bit (acc_bits=32)");
  if (p.acc_overflow != AccOverflow::kWrap) return fail("its accumulators wrap (acc_overflow=wrap)");
  if (p.pair_sat16 != pair_sat16) {
    return fail(pair_sat16 ? "VPMADDUBSW saturates int16 pairs (pair_sat16=on)"
                           : "its products are exact (pair_sat16=off)");
  }
  if (pair_sat16 && p.zp_fold != ZpFold::kFoldAfter) {
    return fail("it folds zero points after the saturating pairs (zp_fold=fold_after)");
  }
  return true;
}

bool PathComputes(Isa isa, const Profile& p, std::string* why) {
  const QGemmKernel* k = FindQGemmKernel(isa);
  if (!k) {
    if (why) *why = "no kernel for this ISA in this build";
    return false;
  }
  return KernelsCompute(k->pair_sat16, p, why);
}

namespace {

// The index of the weight input of a node the GEMM kernels run, or -1.
int WeightInput(const Node& node) {
  if (!node.domain.empty()) return -1;
  if (node.op_type == "QLinearMatMul" || node.op_type == "QLinearConv") return 3;
  if (node.op_type == "MatMulInteger" || node.op_type == "ConvInteger") return 1;
  return -1;
}

// Whether the kernels would run the node on prepared weights `w` (int8, 2-D B or 2-D conv;
// depthwise convolutions on the exact paths get the channels-last loop's layout).
bool PacksWeights(const Node& node, const Tensor& w) {
  if (w.dtype() != DType::kInt8) return false;
  if (node.op_type == "QLinearMatMul" || node.op_type == "MatMulInteger") return w.rank() == 2;
  return w.rank() == 4 && w.dim(0) > 0;
}

bool IsQLinearAdd(const Node& node) { return node.op_type == "QLinearAdd" && node.domain == "com.microsoft"; }
bool IsGlobalPool(const Node& node) {
  return node.op_type == "QLinearGlobalAveragePool" && node.domain == "com.microsoft";
}

// Convolutions that run channels-last (see PreparedGraph): those with the form whose input comes
// from, or whose output goes to, another one — directly or through QLinearAdd nodes — and those
// whose reduction is long enough to pay for the transposes alone.
std::set<const Node*> ChooseChannelsLast(const Graph& graph, const QGemmKernel& kernel) {
  std::map<std::string, const Node*> producer;
  std::map<std::string, std::vector<const Node*>> consumers;
  for (const Node& node : graph.nodes) {
    for (const std::string& o : node.outputs) producer[o] = &node;
    for (const std::string& i : node.inputs) consumers[i].push_back(&node);
  }
  auto capable = [&](const Node* node) {
    const int wi = WeightInput(*node);
    if (wi < 0 || static_cast<size_t>(wi) >= node->inputs.size()) return false;
    const auto w = graph.initializers.find(node->inputs[static_cast<size_t>(wi)]);
    return w != graph.initializers.end() && HasChannelsLastForm(*node, kernel, w->second);
  };
  auto produced_by_capable = [&](const std::string& name, auto& self, int depth) -> bool {
    const auto it = producer.find(name);
    if (it == producer.end() || depth > 4) return false;
    if (capable(it->second)) return true;
    const Node& add = *it->second;
    return IsQLinearAdd(add) && add.inputs.size() > 3 &&
           (self(add.inputs[0], self, depth + 1) || self(add.inputs[3], self, depth + 1));
  };
  auto consumed_by_capable = [&](const std::string& name, auto& self, int depth) -> bool {
    const auto it = consumers.find(name);
    if (it == consumers.end() || depth > 4) return false;
    for (const Node* c : it->second) {
      if (capable(c) || (IsQLinearAdd(*c) && !c->outputs.empty() && self(c->outputs[0], self, depth + 1))) return true;
    }
    return false;
  };
  // Alone, a group-1 convolution with a long reduction (k = C·kh·kw ≥ 128) still gains more from
  // the channels-last GEMM (about 1.6–1.9× on this repository's benchmark layers) than the two
  // transposes cost: they move C + M bytes per position against k·M multiply-adds.
  auto worth_alone = [&](const Node& node) {
    const int wi = WeightInput(node);
    const Tensor& w = graph.initializers.at(node.inputs[static_cast<size_t>(wi)]);
    return node.AttrInt("group", 1) == 1 && w.dim(1) * w.dim(2) * w.dim(3) >= 128;
  };
  std::set<const Node*> chosen;
  for (const Node& node : graph.nodes) {
    if (!capable(&node) || node.inputs.empty() || node.outputs.empty()) continue;
    if (produced_by_capable(node.inputs[0], produced_by_capable, 0) ||
        consumed_by_capable(node.outputs[0], consumed_by_capable, 0) || worth_alone(node)) {
      chosen.insert(&node);
    }
  }
  return chosen;
}

// One run's layout bookkeeping: which stored values are channels-last, and the copies in the
// other order that nodes asked for (made once per value per run; values are written once).
class Layouts {
 public:
  bool IsChannelsLast(const std::string& name) const { return channels_last_.count(name) != 0; }
  void MarkChannelsLast(const std::string& name) { channels_last_.insert(name); }
  // Value `name` (stored as `t`) in the order asked for.
  const Tensor* As(const std::string& name, const Tensor* t, bool channels_last) {
    if (!t || name.empty() || IsChannelsLast(name) == channels_last) return t;
    std::map<std::string, Tensor>& copies = channels_last ? last_ : first_;
    auto it = copies.find(name);
    if (it == copies.end()) it = copies.emplace(name, channels_last ? ToChannelsLast(*t) : ToChannelsFirst(*t)).first;
    return &it->second;
  }
  // The standard order back for every channels-last value in `values`.
  void Restore(TensorMap& values) const {
    for (auto& [name, t] : values) {
      if (IsChannelsLast(name)) t = ToChannelsFirst(t);
    }
  }

 private:
  std::set<std::string> channels_last_;
  std::map<std::string, Tensor> last_, first_;
};

// Whether a QLinearAdd runs on channels-last operands: same-shape 4-D operands (elementwise,
// so any common order gives the same bytes in that order), one of them already channels-last.
bool AddFollowsChannelsLast(const Node& node, const std::vector<const Tensor*>& args, const Layouts& layouts) {
  if (!IsQLinearAdd(node) || args.size() < 4 || !args[0] || !args[3]) return false;
  if (args[0]->rank() != 4 || args[0]->shape() != args[3]->shape()) return false;
  return layouts.IsChannelsLast(node.inputs[0]) || layouts.IsChannelsLast(node.inputs[3]);
}

}  // namespace

StatusOr<PreparedGraph> PreparedGraph::Prepare(const Graph& graph, Isa isa) {
  const QGemmKernel* kernel = FindQGemmKernel(isa);
  if (!kernel || !CpuHas(isa)) {
    return Unavailable("kernel path '" + std::string(IsaName(isa)) + "' is not available on this CPU");
  }
  PreparedGraph pg;
  pg.graph_ = &graph;
  pg.isa_ = isa;
  pg.kernel_ = kernel;
  pg.channels_last_ = ChooseChannelsLast(graph, *kernel);
  for (const Node& node : graph.nodes) {
    const int wi = WeightInput(node);
    if (wi < 0 || static_cast<size_t>(wi) >= node.inputs.size()) continue;
    const auto it = graph.initializers.find(node.inputs[static_cast<size_t>(wi)]);
    if (it == graph.initializers.end() || !PacksWeights(node, it->second)) continue;
    // Only the form of the layout the node runs in.
    const WeightForms forms = pg.channels_last_.count(&node) ? WeightForms::kChannelsLast : WeightForms::kChannelsFirst;
    pg.packed_[&node] = Packed{&it->second, PrepareWeights(node, *kernel, it->second, forms)};
  }
  return pg;
}

StatusOr<ExecResult> PreparedGraph::Run(const Profile& profile, const TensorMap& inputs,
                                        const ExecOptions& options, int threads) const {
  std::string why;
  if (!PathComputes(isa_, profile, &why)) {
    return InvalidArgument("host-" + std::string(IsaName(isa_)) + " cannot compute profile '" +
                           ProfileToText(profile) + "' exactly: " + why);
  }
  Layouts layouts;
  auto run = [&](const Node& node, const std::vector<const Tensor*>& args) -> StatusOr<std::vector<Tensor>> {
    const PreparedWeights* prepared = nullptr;
    const auto it = packed_.find(&node);
    if (it != packed_.end()) {
      const Tensor* w = args[static_cast<size_t>(WeightInput(node))];
      if (w && (w == it->second.weight || *w == *it->second.weight)) prepared = &it->second.prepared;
    }
    const bool conv_cl = channels_last_.count(&node) != 0, add_cl = AddFollowsChannelsLast(node, args, layouts);
    const bool pool_cl = IsGlobalPool(node) && !node.inputs.empty() && layouts.IsChannelsLast(node.inputs[0]);
    std::vector<const Tensor*> in = args;
    for (size_t i = 0; i < in.size() && i < node.inputs.size(); ++i) {
      const bool want = ((conv_cl || pool_cl) && i == 0) || (add_cl && (i == 0 || i == 3));
      in[i] = layouts.As(node.inputs[i], in[i], want);
    }
    auto out = RunKernelNode(node, *kernel_, profile, in, threads, prepared, conv_cl || pool_cl);
    bool out_cl = conv_cl || add_cl;
    if (!out.ok() && out.status().code() == StatusCode::kNotFound) {
      // The reference op: NCHW for a convolution or pool the kernels declined (an Add is
      // elementwise on same-shape operands, so it may stay channels-last).
      if (conv_cl || pool_cl) in[0] = layouts.As(node.inputs[0], args[0], false);
      out_cl = add_cl;
      out = RunReferenceNode(node, profile, in);
    }
    if (out.ok() && out_cl && !node.outputs.empty()) layouts.MarkChannelsLast(node.outputs[0]);
    return out;
  };
  QFARM_ASSIGN_OR_RETURN(ExecResult result, RunGraph(*graph_, inputs, options, run));
  layouts.Restore(result.outputs);
  layouts.Restore(result.intermediates);
  return result;
}

StatusOr<ExecResult> RunKernels(const Graph& graph, Isa isa, const Profile& profile,
                                const TensorMap& inputs, const ExecOptions& options, int threads) {
  std::string why;
  if (FindQGemmKernel(isa) && CpuHas(isa) && !PathComputes(isa, profile, &why)) {
    return InvalidArgument("host-" + std::string(IsaName(isa)) + " cannot compute profile '" +
                           ProfileToText(profile) + "' exactly: " + why);
  }
  QFARM_ASSIGN_OR_RETURN(PreparedGraph pg, PreparedGraph::Prepare(graph, isa));
  return pg.Run(profile, inputs, options, threads);
}

}  // namespace qfarm::kernels
