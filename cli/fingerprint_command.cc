// farmctl fingerprint --device D [--json]: the profiles the device's arithmetic is consistent
// with (agent/arith_probe.h). Exit 0 when some profile is, 1 when none is, 2 on error.
#include <cstdio>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "agent/arith_probe.h"
#include "cli/commands.h"

namespace qfarm::cli {

int FingerprintCommand(const std::string& device_name, bool json) {
  auto device = OpenDevice(device_name);
  if (!device.ok()) return ReportError(device.status());
  auto f = ProbeArithmetic(**device);
  if (!f.ok()) return ReportError(f.status().WithContext(device_name));
  if (json) {
    nlohmann::json j;
    j["device"] = device_name;
    j["declared_profile"] = (*device)->info().declared_profile;
    for (const ProbeStep& s : f->steps) j["probes"].push_back({{"probe", s.probe}, {"survivors", s.survivors}});
    j["consistent_count"] = f->consistent.size();
    j["named"] = f->named;
    for (const auto& [k, v] : f->keys) j["keys"][k] = v;
    j["consistent"] = nlohmann::json::array();
    for (size_t i = 0; i < f->consistent.size() && i < 64; ++i) j["consistent"].push_back(ProfileToText(f->consistent[i], true));
    if (!f->ruled_out_by.empty()) j["ruled_out_by"] = f->ruled_out_by;
    std::printf("%s\n", j.dump(2).c_str());
    return f->consistent.empty() ? 1 : 0;
  }
  fmt::print("device:   {} (declares {})\n", device_name, (*device)->info().declared_profile);
  for (const ProbeStep& s : f->steps) fmt::print("  probe {:<40} {:>6} candidates left\n", s.probe, s.survivors);
  if (f->consistent.empty()) {
    fmt::print("result:   no profile is consistent with this device; probe '{}' rules them all out\n", f->ruled_out_by);
    return 1;
  }
  fmt::print("result:   {} consistent profile(s)", f->consistent.size());
  if (!f->named.empty()) {
    fmt::print(", among them the named");
    for (const std::string& n : f->named) fmt::print(" {}", n);
  }
  fmt::print("\n");
  for (const auto& [k, values] : f->keys) {
    std::string v;
    for (const std::string& x : values) v += (v.empty() ? "" : " | ") + x;
    fmt::print("  {:<16} {}\n", k, v);
  }
  if (f->consistent.size() <= 4) {
    for (const Profile& p : f->consistent) fmt::print("  {}\n", ProfileToText(p, true));
  }
  return 0;
}

}  // namespace qfarm::cli
