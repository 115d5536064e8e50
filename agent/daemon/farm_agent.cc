// farm-agent --controller ADDR --device D ...: the agent daemon (DESIGN.md). Serves until SIGINT
// or SIGTERM. `farm-agent --run-job DIR` is the child process that runs one job
// (agent/job_process.h). Errors: one line, exit status 2.
#include <CLI/CLI.hpp>
#include <pthread.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <cstdio>
#include <thread>

#include "agent/farm_agent.h"
#include "common/file.h"

namespace {

int Main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--run-job") return qfarm::RunJobDir(argv[2]);
  CLI::App app{"farm-agent: runs the controller's jobs on this host's devices"};
  qfarm::FarmAgentOptions o;
  char host[256] = "agent";
  gethostname(host, sizeof host - 1);
  o.agent_id = host;
  o.work_dir = "/tmp/qfarm-agent";
  double cache_mb = 1024;
  app.add_option("--controller", o.controller, "controller address (host:port)")->required();
  app.add_option("--device", o.devices, "a device to serve (repeat): host, host-<isa>, qemu-aarch64, command:<path>, ...")
      ->required();
  app.add_option("--name", o.agent_id, "agent name (default: the host name)");
  app.add_option("--work-dir", o.work_dir, "blob cache and job directories");
  app.add_option("--cache-mb", cache_mb, "bound of the blob cache in MiB");
  app.add_option("--poll-s", o.poll_s, "an idle device asks for a job this often");
  std::string token_file, tls_ca;
  app.add_option("--token-file", token_file, "file holding this agent's token (or env QFARM_AGENT_TOKEN)");
  app.add_option("--tls-ca", tls_ca, "CA certificate (PEM) to verify the controller's TLS certificate");
  app.add_option("--max-concurrent-jobs", o.max_concurrent_jobs,
                 "jobs at once over all devices (0: one per device; 1 when they share this CPU)");
  app.add_flag("!--quiet", o.verbose, "no line per job");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::fprintf(stderr, "farm-agent: error: %s\n", e.what());
    return 2;
  }
  o.cache_max_bytes = static_cast<int64_t>(cache_mb * 1024 * 1024);
  if (const char* t = std::getenv("QFARM_AGENT_TOKEN")) o.token = t;
  for (auto [path, out] : {std::pair{&token_file, &o.token}, std::pair{&tls_ca, &o.tls_ca_pem}}) {
    if (path->empty()) continue;
    auto text = qfarm::ReadTextFile(*path);
    if (!text.ok()) {
      std::fprintf(stderr, "farm-agent: error: %s\n", text.status().message().c_str());
      return 2;
    }
    *out = *text;
  }
  o.process.command = {qfarm::SelfExecutable(), "--run-job"};
  o.process.work_dir = o.work_dir + "/jobs";
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);  // a controller that hangs up mid-call must not end the daemon
  qfarm::FarmAgent agent(o);
  std::thread signals([&] {
    int sig = 0;
    sigwait(&set, &sig);
    agent.Stop();
  });
  signals.detach();
  qfarm::Status s = agent.Run();
  if (!s.ok()) {
    std::fprintf(stderr, "farm-agent: error: %s\n", s.message().c_str());
    return 2;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "farm-agent: error: internal: %s\n", e.what());
    return 2;
  }
}
