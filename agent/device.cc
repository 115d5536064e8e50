#include "agent/device.h"

#include <algorithm>

namespace qfarm {
namespace {

// The bit-exact emulator as a device: it computes any profile.
class ReferenceDevice : public Device {
 public:
  ReferenceDevice() {
    info_.name = "reference";
    info_.declared_profile = "onnx";
    info_.profiles = {"*"};
    info_.description = "the bit-exact reference emulator (reference/)";
  }
  const DeviceInfo& info() const override { return info_; }
  StatusOr<ExecResult> Run(const Graph& graph, const Profile& profile, const TensorMap& inputs,
                           const ExecOptions& options) override {
    return RunReference(graph, profile, inputs, options);
  }

 private:
  DeviceInfo info_;
};

}  // namespace

std::vector<std::string> ListDevices() { return {"reference"}; }

StatusOr<std::unique_ptr<Device>> OpenDevice(const std::string& name) {
  if (name == "reference") return std::unique_ptr<Device>(new ReferenceDevice());
  std::string names;
  for (const std::string& n : ListDevices()) names += (names.empty() ? "" : ", ") + n;
  return InvalidArgument("unknown device '" + name + "' (available on this machine: " + names + ")");
}

StatusOr<Profile> ProfileForDevice(const Device& device, const std::string& requested) {
  const DeviceInfo& info = device.info();
  const std::string text = requested.empty() ? info.declared_profile : requested;
  QFARM_ASSIGN_OR_RETURN(Profile p, ParseProfile(text));
  const bool any = std::find(info.profiles.begin(), info.profiles.end(), "*") != info.profiles.end();
  if (any) return p;
  for (const std::string& supported : info.profiles) {
    auto s = ParseProfile(supported);
    if (s.ok() && *s == p) return p;
  }
  std::string list;
  for (const std::string& s : info.profiles) list += (list.empty() ? "" : ", ") + s;
  return InvalidArgument("device '" + info.name + "' cannot compute profile '" + text +
                         "' exactly (it implements: " + list + ")");
}

}  // namespace qfarm
