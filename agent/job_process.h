// A job runs in a child process, so that a hung or crashing device cannot take the agent with
// it: the agent writes the job into a fresh directory, starts `command... DIR`, and waits up to
// the job's timeout; then (or when the controller cancels the job) it kills the child. A child
// that is killed, dies or writes no result becomes an INFRA_FAILURE naming what happened.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "agent/job_runner.h"

namespace qfarm {

struct JobProcess {
  std::vector<std::string> command;  // e.g. {"/usr/bin/farm-agent", "--run-job"}
  std::string work_dir;              // job directories are made (and removed) under it
};

v1::Result RunJobInChild(const JobProcess& process, const v1::Job& job, const JobFiles& files,
                         const std::string& device, const AgentIdentity& who, const std::atomic<bool>& cancel);

// The child's side: reads DIR/job.pb, opens the device, runs the job, writes DIR/result.pb.
// Returns the process exit status (0 when a result was written).
int RunJobDir(const std::string& dir);

// This program's own path (/proc/self/exe), to start it as a job's child.
std::string SelfExecutable();

}  // namespace qfarm
