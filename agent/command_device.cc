#include "agent/command_device.h"

#include <cstdlib>
#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>

#include "agent/fingerprint.h"
#include "agent/job_dir.h"
#include "model/ir_file.h"
#include "model/onnx/onnx_io.h"
#include "model/tensor_file.h"
#include "model/validate.h"

namespace qfarm {
namespace {

int TimeoutSeconds() {
  const char* env = std::getenv("QFARM_COMMAND_TIMEOUT_S");
  const int t = env ? std::atoi(env) : 600;
  return t > 0 ? t : 600;
}

// The model as the runner receives it; with capture, every node output is a graph output too.
StatusOr<std::string> ModelBytes(const Graph& graph, bool capture) {
  if (!capture) return SerializeOnnxModel(graph);
  QFARM_ASSIGN_OR_RETURN(ValueInfoMap infos, Validate(graph));
  Graph g = graph;
  std::set<std::string> have;
  for (const ValueInfo& v : g.outputs) have.insert(v.name);
  for (const Node& n : g.nodes) {
    for (const std::string& out : n.outputs) {
      if (!out.empty() && !have.count(out)) g.outputs.push_back(infos.at(out));
    }
  }
  return SerializeOnnxModel(g);
}

class CommandDevice : public Device {
 public:
  CommandDevice(std::string path, DeviceInfo info) : path_(std::move(path)), info_(std::move(info)) {}
  const DeviceInfo& info() const override { return info_; }
  bool Computes(const Profile& p, std::string* why) const override {
    auto declared = ParseProfile(info_.declared_profile);
    if (declared.ok() && *declared == p) return true;
    if (why) *why = "an external runner computes only the profile it declares";
    return false;
  }
  StatusOr<ExecResult> Run(const Graph& graph, const Profile& profile, const TensorMap& inputs,
                           const ExecOptions& options) override;

 private:
  std::string path_;
  DeviceInfo info_;
};

StatusOr<ExecResult> CommandDevice::Run(const Graph& graph, const Profile& profile, const TensorMap& inputs,
                                        const ExecOptions& options) {
  QFARM_ASSIGN_OR_RETURN(JobDir job_dir, JobDir::Create("qfarm-job"));
  const std::string dir = job_dir.path();
  std::filesystem::create_directories(dir + "/inputs");
  std::filesystem::create_directories(dir + "/outputs");
  QFARM_ASSIGN_OR_RETURN(std::string model, ModelBytes(graph, options.capture_intermediates));
  QFARM_RETURN_IF_ERROR(WriteFileBytes(dir + "/model.onnx", model));
  nlohmann::json job;
  job["profile"] = ProfileToText(profile, true);
  job["warmup"] = 0;
  job["runs"] = 1;
  job["inputs"] = nlohmann::json::array();
  int i = 0;
  for (const auto& [name, t] : inputs) {
    const std::string file = "inputs/" + std::to_string(i++) + ".npy";
    QFARM_RETURN_IF_ERROR(WriteNpy(dir + "/" + file, t));
    job["inputs"].push_back({{"name", name}, {"file", file}});
  }
  QFARM_RETURN_IF_ERROR(WriteFileBytes(dir + "/job.json", job.dump(2)));
  const int rc = RunCaptured(ShellQuote(path_) + " " + ShellQuote(dir), job_dir, TimeoutSeconds());
  if (rc != 0) {
    return Unavailable(info_.name + ": runner exited with status " + std::to_string(rc) +
                       (rc == 124 ? " (timed out)" : "") + ": " + FirstLineOf(job_dir.File("stderr")));
  }
  QFARM_ASSIGN_OR_RETURN(std::string result_text, ReadFileBytes(dir + "/result.json", 64 << 20));
  const nlohmann::json result = nlohmann::json::parse(result_text, nullptr, false);
  if (result.is_discarded() || !result.contains("outputs") || !result["outputs"].is_array()) {
    return Unavailable(info_.name + ": result.json is not valid (needs an \"outputs\" array)");
  }
  ExecResult r;
  for (const auto& o : result["outputs"]) {
    if (!o.contains("name") || !o.contains("file") || !o["name"].is_string() || !o["file"].is_string()) {
      return Unavailable(info_.name + ": result.json output entries need \"name\" and \"file\"");
    }
    const std::string file = o["file"].get<std::string>();
    if (file.find("..") != std::string::npos || file.empty() || file[0] == '/') {
      return Unavailable(info_.name + ": result.json names a file outside the job directory: " + file);
    }
    QFARM_ASSIGN_OR_RETURN(Tensor t, ReadNpy(dir + "/" + file));
    r.intermediates[o["name"].get<std::string>()] = std::move(t);
  }
  for (const ValueInfo& out : graph.outputs) {
    auto it = r.intermediates.find(out.name);
    if (it == r.intermediates.end()) return Unavailable(info_.name + ": runner returned no output '" + out.name + "'");
    r.outputs[out.name] = it->second;
  }
  if (!options.capture_intermediates) r.intermediates.clear();
  return r;
}

}  // namespace

StatusOr<std::unique_ptr<Device>> MakeCommandDevice(const std::string& path) {
  if (path.empty() || !std::filesystem::exists(path)) {
    return InvalidArgument("device 'command:" + path + "': no such runner");
  }
  DeviceInfo info;
  info.name = "command:" + path;
  info.declared_profile = "onnx";
  info.computes = "the profile it declares";
  auto describe_dir = JobDir::Create("qfarm-describe");
  if (describe_dir.ok()) {
    if (RunCaptured(ShellQuote(path) + " --describe", *describe_dir, TimeoutSeconds()) == 0) {
      auto text = ReadFileBytes(describe_dir->File("stdout"), 1 << 20);
      const nlohmann::json d = nlohmann::json::parse(text.ok() ? *text : "", nullptr, false);
      if (!d.is_discarded() && d.is_object()) {
        if (d.contains("declared_profile") && d["declared_profile"].is_string()) {
          info.declared_profile = d["declared_profile"].get<std::string>();
        }
        if (d.contains("description") && d["description"].is_string()) info.description = d["description"].get<std::string>();
        if (d.contains("name") && d["name"].is_string()) info.fingerprint["runtime"] = d["name"].get<std::string>();
      }
    }
  }
  for (const auto& [k, v] : HostFingerprint()) {
    if (k != "kernels_build_id") info.fingerprint[k] = v;  // the runner's code, not our kernels
  }
  info.fingerprint["runner"] = path;
  if (!ParseProfile(info.declared_profile).ok()) {
    return InvalidArgument("device 'command:" + path + "': declared profile '" + info.declared_profile + "' is not valid");
  }
  return std::unique_ptr<Device>(new CommandDevice(path, std::move(info)));
}

}  // namespace qfarm
