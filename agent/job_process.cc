#include "agent/job_process.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

namespace qfarm {
namespace fs = std::filesystem;
namespace {

std::string SafeName(const std::string& name) {
  std::string base = name.substr(name.find_last_of('/') + 1), out;
  for (char c : base) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
    out += ok ? c : '_';
  }
  return out.empty() ? "tensor" : out;
}

v1::Result Infra(const v1::Job& job, const std::string& device, const AgentIdentity& who, const std::string& why) {
  return FailedResult(job, device, who, v1::Result::INFRA_FAILURE, device + ": " + why);
}

bool WriteMessage(const std::string& path, const google::protobuf::Message& m) {
  std::ofstream out(path, std::ios::binary);
  return m.SerializeToOstream(&out) && out.good();
}

bool ReadMessage(const std::string& path, google::protobuf::Message* m) {
  std::ifstream in(path, std::ios::binary);
  return in && m->ParseFromIstream(&in);
}

// Starts the child; waits for it, the timeout or a cancel. Returns "" on a clean exit.
std::string Supervise(const std::vector<std::string>& argv, double timeout_s, const std::atomic<bool>& cancel) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // The child starts with no blocked signals (daemons block SIGINT/SIGTERM for sigwait).
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, args[0], nullptr, &attr, args.data(), environ);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return "cannot start the job process " + argv[0];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  for (;;) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      if (WIFSIGNALED(status)) return "the job process died with signal " + std::to_string(WTERMSIG(status));
      return "";
    }
    const bool late = std::chrono::steady_clock::now() >= deadline;
    if (late || cancel.load()) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return late ? "no result within the job timeout of " + std::to_string(timeout_s) + " s: the device hung; killed"
                  : "cancelled";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace

std::string SelfExecutable() {
  std::error_code ec;
  return fs::read_symlink("/proc/self/exe", ec).string();
}

v1::Result RunJobInChild(const JobProcess& process, const v1::Job& job, const JobFiles& files,
                         const std::string& device, const AgentIdentity& who, const std::atomic<bool>& cancel) {
  std::error_code ec;
  const fs::path dir = fs::path(process.work_dir) / ("job-" + std::to_string(job.id()) + "-" +
                                                     std::to_string(job.attempt()) + "-" + std::to_string(getpid()));
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  if (ec) return Infra(job, device, who, dir.string() + ": cannot create the job directory: " + ec.message());
  v1::JobEnvelope env;
  *env.mutable_job() = job;
  env.set_device(device);
  env.set_model_path(files.model_path);
  env.set_agent_id(who.agent_id);
  env.set_agent_version(who.version);
  // Tensor files keep their names (the extension says .pb or .npy; errors name the file).
  for (size_t i = 0; i < files.input_paths.size(); ++i) {
    const std::string name = i < static_cast<size_t>(job.inputs().tensors().blobs_size())
                                 ? job.inputs().tensors().blobs(static_cast<int>(i)).name() : files.input_paths[i];
    const fs::path link = dir / ("in" + std::to_string(i) + "-" + SafeName(name));
    fs::create_symlink(fs::absolute(files.input_paths[i]), link, ec);
    env.add_input_paths(link.string());
  }
  if (!WriteMessage((dir / "job.pb").string(), env)) return Infra(job, device, who, "cannot write the job file");
  std::vector<std::string> argv = process.command;
  argv.push_back(dir.string());
  const std::string failure = Supervise(argv, job.timeout_s() > 0 ? job.timeout_s() : 600, cancel);
  v1::Result result;
  if (!failure.empty()) {
    result = Infra(job, device, who, failure);
  } else if (!ReadMessage((dir / "result.pb").string(), &result)) {
    result = Infra(job, device, who, "the job process exited without a result");
  }
  fs::remove_all(dir, ec);
  return result;
}

int RunJobDir(const std::string& dir) {
  v1::JobEnvelope env;
  if (!ReadMessage(dir + "/job.pb", &env)) return 2;
  const AgentIdentity who{env.agent_id(), env.agent_version()};
  v1::Result result;
  auto device = OpenDevice(env.device());
  if (!device.ok()) {
    result = Infra(env.job(), env.device(), who, device.status().message());
  } else {
    const JobFiles files{env.model_path(), {env.input_paths().begin(), env.input_paths().end()}};
    result = RunJob(env.job(), files, **device, who);
  }
  return WriteMessage(dir + "/result.pb", result) ? 0 : 2;
}

}  // namespace qfarm
