#include "agent/device.h"

#include <thread>

#include "agent/command_device.h"
#include "agent/faulty_device.h"
#include "agent/fingerprint.h"
#include "agent/qemu_device.h"
#include "kernels/executor.h"

namespace qfarm {
namespace {

// The bit-exact emulator as a device: it computes any profile.
class ReferenceDevice : public Device {
 public:
  ReferenceDevice() {
    info_.name = "reference";
    info_.declared_profile = "onnx";
    info_.computes = "any profile";
    info_.description = "the bit-exact reference emulator (reference/)";
    info_.fingerprint = HostFingerprint();
  }
  const DeviceInfo& info() const override { return info_; }
  bool Computes(const Profile&, std::string*) const override { return true; }
  StatusOr<ExecResult> Run(const Graph& graph, const Profile& profile, const TensorMap& inputs,
                           const ExecOptions& options) override {
    return RunReference(graph, profile, inputs, options);
  }

 private:
  DeviceInfo info_;
};

// Our own kernels on this CPU, one device per ISA path.
class HostDevice : public Device {
 public:
  explicit HostDevice(const kernels::HostPath& path) : path_(path) {
    info_.name = path.device;
    info_.declared_profile = path.declared_profile;
    info_.computes = FindHostIsaPairSat(path.isa)
                         ? "acc_bits=32, acc_overflow=wrap, pair_sat16=on, zp_fold=fold_after, any requantization"
                         : "acc_bits=32, acc_overflow=wrap, pair_sat16=off, any requantization";
    info_.description = "qfarm kernels, " + std::string(kernels::IsaName(path.isa)) + " path";
    info_.fingerprint = HostFingerprint();
    info_.fingerprint["kernel_path"] = std::string(kernels::IsaName(path.isa));
  }
  const DeviceInfo& info() const override { return info_; }
  bool Computes(const Profile& p, std::string* why) const override {
    return kernels::PathComputes(path_.isa, p, why);
  }
  StatusOr<ExecResult> Run(const Graph& graph, const Profile& profile, const TensorMap& inputs,
                           const ExecOptions& options) override {
    const int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    return kernels::RunKernels(graph, path_.isa, profile, inputs, options, threads);
  }

 private:
  static bool FindHostIsaPairSat(kernels::Isa isa) { return kernels::FindQGemmKernel(isa)->pair_sat16; }
  kernels::HostPath path_;
  DeviceInfo info_;
};

}  // namespace

std::vector<std::string> ListDevices() {
  std::vector<std::string> names = {"reference", "host"};
  for (const kernels::HostPath& p : kernels::AvailableHostPaths()) names.push_back(p.device);
  if (FindQemuSetup().ok()) names.push_back("qemu-aarch64");
  return names;
}

StatusOr<std::unique_ptr<Device>> OpenDevice(const std::string& name) {
  if (name == "reference") return std::unique_ptr<Device>(new ReferenceDevice());
  if (name.rfind("faulty:", 0) == 0) return MakeFaultyDevice(name.substr(7));
  if (name.rfind("command:", 0) == 0) return MakeCommandDevice(name.substr(8));
  if (name == "qemu-aarch64") {
    QFARM_ASSIGN_OR_RETURN(QemuSetup setup, FindQemuSetup());
    return MakeQemuDevice(setup);
  }
  if (name == "host" || name.rfind("host-", 0) == 0) {
    auto path = kernels::FindHostPath(name);
    if (!path.ok()) return path.status();
    return std::unique_ptr<Device>(new HostDevice(*path));
  }
  std::string names;
  for (const std::string& n : ListDevices()) names += (names.empty() ? "" : ", ") + n;
  return InvalidArgument("unknown device '" + name + "' (available on this machine: " + names + ")");
}

StatusOr<Profile> ProfileForDevice(const Device& device, const std::string& requested) {
  const DeviceInfo& info = device.info();
  const std::string text = requested.empty() ? info.declared_profile : requested;
  QFARM_ASSIGN_OR_RETURN(Profile p, ParseProfile(text));
  std::string why;
  if (device.Computes(p, &why)) return p;
  return InvalidArgument("device '" + info.name + "' cannot compute profile '" + text +
                         "' exactly: " + why + " (it computes " + info.computes + ")");
}

}  // namespace qfarm
