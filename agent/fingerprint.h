// A device's fingerprint: what must be equal for two results to be comparable bit for bit
// (CPU model, ISA flags, OS, emulator version, kernels build id). Reading it touches /proc and
// runs `qemu --version`; cheap, but not for a hot loop.
#pragma once

#include <map>
#include <string>

namespace qfarm {

using Fingerprint = std::map<std::string, std::string>;

// This host: cpu_model, isa_flags (the ones kernels care about), os, kernels_build_id.
Fingerprint HostFingerprint();
// First line of `<program> --version`, or "" when it cannot be run.
std::string ProgramVersion(const std::string& program);

}  // namespace qfarm
