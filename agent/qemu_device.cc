#include "agent/qemu_device.h"

#include <cstdlib>
#include <filesystem>

#include "agent/fingerprint.h"
#include "agent/job_dir.h"
#include "kernels/executor.h"
#include "model/ir_file.h"

#ifndef QFARM_AARCH64_RUNNER_DEFAULT
#define QFARM_AARCH64_RUNNER_DEFAULT ""
#endif

namespace qfarm {
namespace {

std::string FindOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    const size_t end = dirs.find(':', start);
    const std::string dir = dirs.substr(start, end == std::string::npos ? std::string::npos : end - start);
    const std::filesystem::path candidate = std::filesystem::path(dir) / name;
    if (!dir.empty() && std::filesystem::exists(candidate)) return candidate.string();
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return "";
}

class QemuDevice : public Device {
 public:
  explicit QemuDevice(QemuSetup setup) : setup_(std::move(setup)) {
    info_.name = "qemu-aarch64";
    info_.declared_profile = "ort";
    info_.computes = "acc_bits=32, acc_overflow=wrap, pair_sat16=off, any requantization";
    info_.emulated = true;
    info_.description = "qfarm kernels for AArch64 (NEON dotprod) under " + setup_.qemu;
    info_.fingerprint = HostFingerprint();
    info_.fingerprint["emulator_version"] = ProgramVersion(setup_.qemu) + " -cpu max";
    info_.fingerprint["kernel_path"] = "neondot (aarch64 build " + setup_.runner + ")";
  }
  const DeviceInfo& info() const override { return info_; }
  bool Computes(const Profile& p, std::string* why) const override {
    return kernels::KernelsCompute(false, p, why);
  }
  StatusOr<ExecResult> Run(const Graph& graph, const Profile& profile, const TensorMap& inputs,
                           const ExecOptions& options) override;

 private:
  QemuSetup setup_;
  DeviceInfo info_;
};

StatusOr<ExecResult> QemuDevice::Run(const Graph& graph, const Profile& profile, const TensorMap& inputs,
                                     const ExecOptions& options) {
  QFARM_ASSIGN_OR_RETURN(JobDir job_dir, JobDir::Create("qfarm-qemu"));
  const std::string dir = job_dir.path();
  QFARM_RETURN_IF_ERROR(WriteFileBytes(dir + "/model.qir", SerializeGraph(graph)));
  QFARM_RETURN_IF_ERROR(WriteFileBytes(dir + "/inputs.qtm", SerializeTensors(inputs)));
  const std::string cmd = ShellQuote(setup_.qemu) + " -cpu max " + ShellQuote(setup_.runner) + " " + ShellQuote(dir) +
                          " --path neondot --profile " + ShellQuote(ProfileToText(profile, true)) +
                          (options.capture_intermediates ? " --capture" : "");
  const int rc = RunCaptured(cmd, job_dir, 600);
  if (rc != 0) {
    return Unavailable("qemu-aarch64: the runner failed (exit " + std::to_string(rc) + "): " +
                       FirstLineOf(job_dir.File("stderr")));
  }
  QFARM_ASSIGN_OR_RETURN(std::string bytes, ReadFileBytes(dir + "/outputs.qtm"));
  QFARM_ASSIGN_OR_RETURN(TensorMap all, ParseTensors(bytes));
  ExecResult r;
  for (const ValueInfo& out : graph.outputs) {
    auto it = all.find(out.name);
    if (it == all.end()) return Unavailable("qemu-aarch64: output '" + out.name + "' missing from the runner's results");
    r.outputs[out.name] = it->second;
  }
  if (options.capture_intermediates) r.intermediates = std::move(all);
  return r;
}

}  // namespace

StatusOr<QemuSetup> FindQemuSetup() {
  QemuSetup s;
  const char* qemu = std::getenv("QFARM_QEMU_AARCH64");
  const char* runner = std::getenv("QFARM_AARCH64_RUNNER");
  s.qemu = qemu ? qemu : FindOnPath("qemu-aarch64-static");
  s.runner = runner ? runner : QFARM_AARCH64_RUNNER_DEFAULT;
  if (s.qemu.empty() || !std::filesystem::exists(s.qemu)) {
    return Unavailable("qemu-aarch64: qemu-aarch64-static is not installed (scripts/setup.sh installs it)");
  }
  if (s.runner.empty() || !std::filesystem::exists(s.runner)) {
    return Unavailable("qemu-aarch64: the aarch64 runner was not built (scripts/cross_build_aarch64.sh)");
  }
  return s;
}

std::unique_ptr<Device> MakeQemuDevice(const QemuSetup& setup) { return std::make_unique<QemuDevice>(setup); }

}  // namespace qfarm
