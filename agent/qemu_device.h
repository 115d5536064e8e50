// The qemu-aarch64 device: qfarm's kernels cross-built for AArch64 (NEON dotprod path) and run
// as a separate process under qemu-aarch64-static -cpu max, through a job directory
// (model.qir, inputs.qtm → outputs.qtm; tools/runner_main.cc). Its latency is emulated and
// not comparable to hardware.
#pragma once

#include <memory>
#include <string>

#include "agent/device.h"

namespace qfarm {

struct QemuSetup {
  std::string qemu;    // qemu-aarch64-static
  std::string runner;  // the aarch64 qfarm-runner
};

// Where qemu and the runner are ($QFARM_QEMU_AARCH64 / $QFARM_AARCH64_RUNNER override the
// defaults: qemu-aarch64-static on PATH, the runner of this build tree); error when missing.
StatusOr<QemuSetup> FindQemuSetup();
std::unique_ptr<Device> MakeQemuDevice(const QemuSetup& setup);

}  // namespace qfarm
