// The host devices this build offers: one per kernel path of the registry (host-scalar,
// host-avx2, host-avxvnni, host-avx512vnni on x86; host-neon, host-neondot on AArch64) plus
// "host", the best exact path this CPU has. Each has a declared profile (what the emulator runs
// with by default) and the named profiles it computes bit-exactly.
//
// RunOnDevice is the one call a front end (farmctl run/diff, the agent) needs: it resolves the
// device name, refuses a profile the path cannot compute exactly (InvalidArgument naming the
// device, the profile and the reason), refuses an unknown device or one whose ISA this CPU lacks
// (InvalidArgument, listing the host devices there are), and runs the
// graph on the kernels (other ops on reference/), returning reference/'s ExecResult with every
// intermediate when options ask for them. Thread-safe: no shared mutable state.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "kernels/qgemm/qgemm.h"
#include "model/graph.h"
#include "reference/executor.h"
#include "reference/profile.h"

namespace qfarm::kernels {

struct HostDeviceInfo {
  std::string name;                   // "host", "host-avx2", ...
  Isa isa;                            // the path behind it
  std::string kernel;                 // its GEMM microkernel, e.g. "qgemm_u8s8_8x32__avx512vnni"
  std::string declared_profile;       // "ort", or "avx2-u8s8" for the VPMADDUBSW path
  std::vector<std::string> profiles;  // every named profile it computes exactly
  bool available = false;             // this CPU has the ISA
};

// Every path compiled into this build (available or not), then "host" when one is available.
std::vector<HostDeviceInfo> HostDevices();

// `profile` empty: the device's declared profile; else a profile name or text form.
StatusOr<ExecResult> RunOnDevice(const std::string& device, const Graph& graph,
                                 const std::string& profile, const TensorMap& inputs,
                                 const ExecOptions& options, int threads = 1);
StatusOr<ExecResult> RunOnDevice(const std::string& device, const Graph& graph, const Profile& profile,
                                 const TensorMap& inputs, const ExecOptions& options, int threads = 1);

}  // namespace qfarm::kernels
