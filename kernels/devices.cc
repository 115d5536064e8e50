#include "kernels/devices.h"

#include "kernels/executor.h"

namespace qfarm::kernels {
namespace {

HostDeviceInfo Describe(const std::string& name, const QGemmKernel& k) {
  HostDeviceInfo d;
  d.name = name;
  d.isa = k.isa;
  d.kernel = std::string(k.name);
  d.declared_profile = std::string(k.declared_profile);
  for (const NamedProfile& np : NamedProfiles()) {
    auto p = ParseProfile(np.name);
    if (p.ok() && KernelsCompute(k.pair_sat16, *p)) d.profiles.emplace_back(np.name);
  }
  d.available = CpuHas(k.isa);
  return d;
}

std::string ProfileLabel(const Profile& p) {
  const auto name = ProfileName(p);
  return name ? std::string(*name) : ProfileToText(p);
}

}  // namespace

std::vector<HostDeviceInfo> HostDevices() {
  std::vector<HostDeviceInfo> out;
  int count = 0;
  const QGemmKernel* all = AllQGemmKernels(&count);
  for (int i = 0; i < count; ++i) out.push_back(Describe("host-" + std::string(IsaName(all[i].isa)), all[i]));
  auto best = FindHostPath("host");
  if (best.ok()) out.push_back(Describe("host", *FindQGemmKernel(best->isa)));
  return out;
}

StatusOr<ExecResult> RunOnDevice(const std::string& device, const Graph& graph, const Profile& profile,
                                 const TensorMap& inputs, const ExecOptions& options, int threads) {
  QFARM_ASSIGN_OR_RETURN(HostPath path, FindHostPath(device));
  std::string why;
  if (!PathComputes(path.isa, profile, &why)) {
    return InvalidArgument("device '" + device + "' cannot compute profile '" + ProfileLabel(profile) +
                           "' exactly: " + why);
  }
  return RunKernels(graph, path.isa, profile, inputs, options, threads);
}

StatusOr<ExecResult> RunOnDevice(const std::string& device, const Graph& graph, const std::string& profile,
                                 const TensorMap& inputs, const ExecOptions& options, int threads) {
  std::string name = profile;
  if (name.empty()) {
    QFARM_ASSIGN_OR_RETURN(HostPath path, FindHostPath(device));
    name = path.declared_profile;
  }
  auto p = ParseProfile(name);
  if (!p.ok()) return p.status().WithContext("device '" + device + "'");
  return RunOnDevice(device, graph, *p, inputs, options, threads);
}

}  // namespace qfarm::kernels
