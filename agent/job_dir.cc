#include "agent/job_dir.h"

#include <cstdlib>
#include <filesystem>
#include <sys/wait.h>

#include "model/ir_file.h"

namespace qfarm {

StatusOr<JobDir> JobDir::Create(const std::string& prefix) {
  std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
  if (!mkdtemp(tmpl.data())) return Unavailable("cannot create a job directory under " + std::filesystem::temp_directory_path().string());
  return JobDir(tmpl);
}

JobDir::~JobDir() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

int RunCaptured(const std::string& command, const JobDir& dir, int timeout_s) {
  const std::string full = "timeout " + std::to_string(timeout_s) + " " + command + " >" +
                           ShellQuote(dir.File("stdout")) + " 2>" + ShellQuote(dir.File("stderr"));
  const int status = std::system(full.c_str());
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 128;
}

std::string FirstLineOf(const std::string& path) {
  auto bytes = ReadFileBytes(path, 1 << 20);
  return bytes.ok() ? bytes->substr(0, bytes->find('\n')) : "";
}

}  // namespace qfarm
