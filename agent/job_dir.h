// What process-based devices share: a temporary job directory removed when done, shell quoting,
// and running a command with a timeout and its output captured in the directory.
#pragma once

#include <string>

#include "common/status.h"

namespace qfarm {

class JobDir {
 public:
  // Creates <tmp>/<prefix>-XXXXXX.
  static StatusOr<JobDir> Create(const std::string& prefix);
  JobDir(JobDir&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
  JobDir(const JobDir&) = delete;
  JobDir& operator=(const JobDir&) = delete;
  ~JobDir();
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  explicit JobDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// 'x' with embedded quotes escaped, for /bin/sh.
std::string ShellQuote(const std::string& s);

// Runs `command` under `timeout <seconds>`, stdout and stderr to dir/stdout and dir/stderr;
// returns the exit status (124 on timeout, 128 + signal when killed).
int RunCaptured(const std::string& command, const JobDir& dir, int timeout_s);

// The first line of a text file ("" when unreadable).
std::string FirstLineOf(const std::string& path);

}  // namespace qfarm
