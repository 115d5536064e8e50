// One leased job, executed (DESIGN.md "Data flow of one job"): the model from its file, inputs
// from the seed or the given tensor files, the device diffed against the emulator run with the
// job's profile ("declared": the device's), latency by DESIGN.md's rules, and every figure and
// fingerprint the controller stores, as the Result message to report.
//
// A problem with the job itself (a malformed model, bad inputs, an unknown profile) is
// JOB_ERROR; a device that fails to run is INFRA_FAILURE; both carry one line naming what is
// wrong. Nothing here throws.
#pragma once

#include <string>
#include <vector>

#include "agent/device.h"
#include "farm.pb.h"

namespace qfarm {

struct JobFiles {
  std::string model_path;                // empty for a built-in model ("builtin:NAME")
  std::vector<std::string> input_paths;  // tensor files, in the job's order
};

struct AgentIdentity {
  std::string agent_id;
  std::string version;
};

v1::Result RunJob(const v1::Job& job, const JobFiles& files, Device& device, const AgentIdentity& who);

// A result that is only a failure: the job's identity, who ran it where, the status
// (INFRA_FAILURE or JOB_ERROR) and the one-line reason.
v1::Result FailedResult(const v1::Job& job, const std::string& device, const AgentIdentity& who,
                        v1::Result::Status status, const std::string& why);

// The fingerprint message of a device (agent/fingerprint.h keys).
void FillFingerprint(const DeviceInfo& info, v1::DeviceFingerprint* fp);

// The version string agents report (project version and commit).
std::string AgentVersion();

}  // namespace qfarm
