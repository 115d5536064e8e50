#include "agent/fingerprint.h"

#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <sys/utsname.h>

#include "kernels/build_info.h"

namespace qfarm {

Fingerprint HostFingerprint() {
  Fingerprint f;
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string flags_line;
  for (std::string line; std::getline(cpuinfo, line);) {
    auto value = [&] { return line.substr(line.find(':') + 2); };
    if (f["cpu_model"].empty() && line.rfind("model name", 0) == 0) f["cpu_model"] = value();
    if (flags_line.empty() && (line.rfind("flags", 0) == 0 || line.rfind("Features", 0) == 0)) flags_line = value();
  }
  static const std::set<std::string> kRelevant = {"sse4_1", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw",
                                                  "avx512vl", "avx512_vnni", "avx_vnni", "amx_int8", "asimd",
                                                  "asimddp", "i8mm", "sve"};
  std::istringstream ss(flags_line);
  std::string isa;
  for (std::string flag; ss >> flag;) {
    if (kRelevant.count(flag)) isa += (isa.empty() ? "" : " ") + flag;
  }
  f["isa_flags"] = isa;
  utsname u{};
  if (uname(&u) == 0) f["os"] = std::string(u.sysname) + " " + u.release + " " + u.machine;
  f["kernels_build_id"] = kernels::BuildId();
  return f;
}

std::string ProgramVersion(const std::string& program) {
  std::string cmd = "'" + program + "' --version 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return "";
  char buf[256] = {0};
  std::string line = fgets(buf, sizeof(buf), p) ? buf : "";
  pclose(p);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  return line;
}

}  // namespace qfarm
