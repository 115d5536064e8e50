#include "kernels/executor.h"

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

// Whether the kernels would run the node on packed weights `w` (int8, 2-D B or 2-D conv, and
// not the direct depthwise kernel that exact paths use).
bool PacksWeights(const Node& node, const QGemmKernel& kernel, const Tensor& w) {
  if (w.dtype() != DType::kInt8) return false;
  if (node.op_type == "QLinearMatMul" || node.op_type == "MatMulInteger") return w.rank() == 2;
  if (w.rank() != 4 || w.dim(0) == 0) return false;
  const bool depthwise = w.dim(1) == 1 && node.AttrInt("group", 1) == w.dim(0);
  return kernel.pair_sat16 || !depthwise;
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
  for (const Node& node : graph.nodes) {
    const int wi = WeightInput(node);
    if (wi < 0 || static_cast<size_t>(wi) >= node.inputs.size()) continue;
    const auto it = graph.initializers.find(node.inputs[static_cast<size_t>(wi)]);
    if (it == graph.initializers.end() || !PacksWeights(node, *kernel, it->second)) continue;
    pg.packed_[&node] = Packed{&it->second, PrepareWeights(node, *kernel, it->second)};
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
  return RunGraph(*graph_, inputs, options,
                  [&](const Node& node, const std::vector<const Tensor*>& args) -> StatusOr<std::vector<Tensor>> {
                    const PreparedWeights* prepared = nullptr;
                    const auto it = packed_.find(&node);
                    if (it != packed_.end()) {
                      const Tensor* w = args[static_cast<size_t>(WeightInput(node))];
                      if (w && (w == it->second.weight || *w == *it->second.weight)) prepared = &it->second.prepared;
                    }
                    auto out = RunKernelNode(node, *kernel_, profile, args, threads, prepared);
                    if (out.ok() || out.status().code() != StatusCode::kNotFound) return out;
                    return RunReferenceNode(node, profile, args);
                  });
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
