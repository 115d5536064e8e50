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

StatusOr<ExecResult> RunKernels(const Graph& graph, Isa isa, const Profile& profile,
                                const TensorMap& inputs, const ExecOptions& options, int threads) {
  const QGemmKernel* kernel = FindQGemmKernel(isa);
  if (!kernel || !CpuHas(isa)) {
    return Unavailable("kernel path '" + std::string(IsaName(isa)) + "' is not available on this CPU");
  }
  std::string why;
  if (!PathComputes(isa, profile, &why)) {
    return InvalidArgument("host-" + std::string(IsaName(isa)) + " cannot compute profile '" +
                           ProfileToText(profile) + "' exactly: " + why);
  }
  return RunGraph(graph, inputs, options,
                  [&](const Node& node, const std::vector<const Tensor*>& args) -> StatusOr<std::vector<Tensor>> {
                    auto out = RunKernelNode(node, *kernel, profile, args, threads);
                    if (out.ok() || out.status().code() != StatusCode::kNotFound) return out;
                    return RunReferenceNode(node, profile, args);
                  });
}

}  // namespace qfarm::kernels
