#include "agent/faulty_device.h"

#include <chrono>
#include <thread>

#include "agent/fingerprint.h"
#include "reference/ops.h"

namespace qfarm {
namespace {

std::vector<std::string> SplitColon(const std::string& s) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t pos = s.find(':', start);
    parts.push_back(s.substr(start, pos == std::string::npos ? pos : pos - start));
    if (pos == std::string::npos) return parts;
    start = pos + 1;
  }
}

struct Fault {
  std::string kind, node;
  std::string profile_override;  // rounding / profile faults: "key=value,..." applied to the node
  int64_t element = 0;
  int bit = 0;
  int64_t ms = 0;
};

StatusOr<Fault> ParseFault(const std::string& spec) {
  const std::vector<std::string> p = SplitColon(spec);
  Fault f;
  f.kind = p[0];
  auto bad = [&](const std::string& why) {
    return InvalidArgument("device 'faulty:" + spec + "': " + why +
                           " (faults: rounding:<node>:<rule>, profile:<node>:<text>, bitflip:<node>[:<i>[:<bit>]],"
                           " nondet, crash, hang, slow:<ms>)");
  };
  try {
    if (f.kind == "rounding" && p.size() == 3) {
      f.node = p[1];
      f.profile_override = "rounding=" + p[2];
    } else if (f.kind == "profile" && p.size() == 3) {
      f.node = p[1];
      f.profile_override = p[2];
    } else if (f.kind == "bitflip" && p.size() >= 2 && p.size() <= 4) {
      f.node = p[1];
      if (p.size() > 2) f.element = std::stoll(p[2]);
      if (p.size() > 3) f.bit = std::stoi(p[3]);
      if (f.element < 0 || f.bit < 0 || f.bit > 7) return bad("element must be >= 0 and bit in 0..7");
    } else if (f.kind == "slow" && p.size() == 2) {
      f.ms = std::stoll(p[1]);
      if (f.ms < 0 || f.ms > 600000) return bad("milliseconds must be in 0..600000");
    } else if (!((f.kind == "nondet" || f.kind == "crash" || f.kind == "hang") && p.size() == 1)) {
      return bad("unknown fault");
    }
  } catch (const std::exception&) {
    return bad("not a number");
  }
  return f;
}

class FaultyDevice : public Device {
 public:
  FaultyDevice(std::string spec, Fault fault) : fault_(std::move(fault)) {
    info_.name = "faulty:" + spec;
    info_.declared_profile = "onnx";
    info_.computes = "any profile, with the injected fault";
    info_.description = "the reference emulator with an injected fault";
    info_.fingerprint = HostFingerprint();
  }
  const DeviceInfo& info() const override { return info_; }
  bool Computes(const Profile&, std::string*) const override { return true; }
  StatusOr<ExecResult> Run(const Graph& graph, const Profile& profile, const TensorMap& inputs,
                           const ExecOptions& options) override;

 private:
  Fault fault_;
  DeviceInfo info_;
  uint64_t runs_ = 0;
};

StatusOr<ExecResult> FaultyDevice::Run(const Graph& graph, const Profile& profile, const TensorMap& inputs,
                                       const ExecOptions& options) {
  if (fault_.kind == "crash") return Unavailable(info_.name + ": the device crashed (injected fault)");
  // A hung device never returns: only a job timeout (the agent kills its job process) ends it.
  while (fault_.kind == "hang") std::this_thread::sleep_for(std::chrono::hours(1));
  if (fault_.kind == "slow") std::this_thread::sleep_for(std::chrono::milliseconds(fault_.ms));
  const bool targeted = !fault_.node.empty() && fault_.node != "*";
  if (targeted && !graph.FindNode(fault_.node)) {
    // A one-node sub-graph (isolation probe) of another node runs fault-free.
    if (graph.nodes.size() != 1) return InvalidArgument(info_.name + ": model has no node '" + fault_.node + "'");
  }
  Profile node_profile = profile;
  if (!fault_.profile_override.empty()) {
    QFARM_ASSIGN_OR_RETURN(node_profile, OverrideProfile(profile, fault_.profile_override));
  }
  const std::string last = graph.nodes.empty() ? "" : graph.nodes.back().name;
  const uint64_t run = ++runs_;
  return RunGraph(graph, inputs, options,
                  [&](const Node& node, const std::vector<const Tensor*>& args) -> StatusOr<std::vector<Tensor>> {
                    const bool hit = node.name == fault_.node || fault_.node == "*";
                    QFARM_ASSIGN_OR_RETURN(std::vector<Tensor> out,
                                           RunReferenceNode(node, hit ? node_profile : profile, args));
                    if (hit && fault_.kind == "bitflip" && !out.empty() && out[0].numel() > 0) {
                      const int64_t i = std::min(fault_.element, out[0].numel() - 1);
                      std::byte& b = out[0].mutable_bytes()[static_cast<size_t>(i) * DTypeSize(out[0].dtype())];
                      b ^= std::byte{static_cast<unsigned char>(1u << fault_.bit)};
                    }
                    if (fault_.kind == "nondet" && node.name == last && !out.empty() && out[0].numel() > 0) {
                      // A different element each run, so no two consecutive runs agree.
                      const int64_t i = static_cast<int64_t>(run % static_cast<uint64_t>(out[0].numel()));
                      if (IsFloatType(out[0].dtype())) out[0].SetDouble(i, out[0].GetDouble(i) + 1.0);
                      else out[0].SetInt(i, out[0].GetInt(i) == DTypeMax(out[0].dtype()) ? out[0].GetInt(i) - 1 : out[0].GetInt(i) + 1);
                    }
                    return out;
                  });
}

}  // namespace

StatusOr<std::unique_ptr<Device>> MakeFaultyDevice(const std::string& spec) {
  QFARM_ASSIGN_OR_RETURN(Fault f, ParseFault(spec));
  return std::unique_ptr<Device>(new FaultyDevice(spec, std::move(f)));
}

}  // namespace qfarm
