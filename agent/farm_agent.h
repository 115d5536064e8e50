// The farm agent (DESIGN.md): a gRPC client of the controller. It registers its devices, and
// for each device leases one job at a time, fetches the model and tensor blobs by SHA-256 into
// a bounded cache, runs the job in a child process (agent/job_process.h: killed at the job
// timeout or when the controller cancels it) and reports the result until the controller
// acknowledges it (reports are idempotent, so a retry after a lost answer is harmless).
// A heartbeat thread keeps its leases alive. Every call has a deadline; a failed call is
// retried with exponential backoff, so the agent rides out a controller restart.
// Thread-safe; Run() blocks until Stop().
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "agent/blob_cache.h"
#include "agent/job_process.h"
#include "common/status.h"

namespace qfarm {

struct FarmAgentOptions {
  std::string controller;            // host:port
  std::string agent_id;              // [A-Za-z0-9._-]{1,64}
  std::string token;                 // this agent's token, when the controller requires tokens
  std::string tls_ca_pem;            // TLS to the controller when set (the CA that signed its certificate)
  std::vector<std::string> devices;  // device names (agent/device.h)
  std::string work_dir;              // blob cache and job directories
  int64_t cache_max_bytes = int64_t{1} << 30;
  JobProcess process;                // how a job's child process is started
  double poll_s = 0.2;               // idle device: ask again after this long
  double rpc_timeout_s = 30;
  double max_backoff_s = 5;
  bool verbose = true;               // one line per job on stderr
  int max_concurrent_jobs = 0;       // over all devices (0: one per device); 1 keeps latencies clean
                                     // when the devices share this host's CPU
};

struct FarmAgentStats {
  std::atomic<int64_t> jobs_run{0}, reports_acknowledged{0}, reconnects{0};
};

class FarmAgent {
 public:
  explicit FarmAgent(FarmAgentOptions options);
  ~FarmAgent();
  // Opens the devices (an unknown one is an error naming it), then serves until Stop().
  Status Run();
  void Stop();
  const FarmAgentStats& stats() const { return stats_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  FarmAgentStats stats_;
};

}  // namespace qfarm
