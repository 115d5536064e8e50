// Devices: anything that runs a quantized graph and returns its integer outputs (and, where it
// can, every intermediate tensor). The reference emulator is a device too; host kernel paths,
// qemu-aarch64, external runners and the fault-injecting test device plug in behind the same
// interface (DESIGN.md). A Device is not thread-safe; open one per concurrent job.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "model/graph.h"
#include "reference/executor.h"
#include "reference/profile.h"

namespace qfarm {

struct DeviceInfo {
  std::string name;
  std::string declared_profile;           // the profile the device claims to implement
  std::string computes;                   // which profiles it computes exactly, in words
  bool emulated = false;                  // latency not comparable to hardware
  std::string description;
  std::map<std::string, std::string> fingerprint;  // agent/fingerprint.h
};

class Device {
 public:
  virtual ~Device() = default;
  virtual const DeviceInfo& info() const = 0;
  // Whether the device computes `p` bit-exactly; `why` says what it does instead when not.
  virtual bool Computes(const Profile& p, std::string* why) const = 0;
  // Runs the graph once under `profile` (which the device must support).
  virtual StatusOr<ExecResult> Run(const Graph& graph, const Profile& profile,
                                   const TensorMap& inputs, const ExecOptions& options) = 0;
};

// Device names known to this build, in a stable order.
std::vector<std::string> ListDevices();
// Opens a device by name; unknown names list the available ones.
StatusOr<std::unique_ptr<Device>> OpenDevice(const std::string& name);

// Resolves --profile for a device: empty → its declared profile; a profile it cannot compute
// exactly is refused with an error naming device and profile.
StatusOr<Profile> ProfileForDevice(const Device& device, const std::string& requested);

}  // namespace qfarm
