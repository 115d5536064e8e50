#include "controller/run_spec.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <set>

namespace qfarm::controller {
namespace {

// Carries the label and the node's line into every error.
struct Ctx {
  const std::string& label;
  Status Error(const YAML::Node& n, const std::string& field, const std::string& what) const {
    const int line = n.Mark().line >= 0 ? n.Mark().line + 1 : 0;
    return InvalidArgument(label + ":" + std::to_string(line) + ": " + field + ": " + what);
  }
};

template <typename T>
Status ReadScalar(const Ctx& c, const YAML::Node& root, const char* key, T* out) {
  const YAML::Node n = root[key];
  if (!n) return Status::Ok();
  if (!n.IsScalar()) return c.Error(n, key, "expected a single value");
  try {
    *out = n.as<T>();
  } catch (const YAML::Exception&) {
    return c.Error(n, key, "'" + n.Scalar() + "' is not a valid value");
  }
  return Status::Ok();
}

Status CheckRange(const Ctx& c, const YAML::Node& root, const char* key, double v, double lo, double hi) {
  if (std::isfinite(v) && v >= lo && v <= hi) return Status::Ok();
  return c.Error(root[key], key, "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
}

std::string Stem(const std::string& path) {
  if (path.rfind("builtin:", 0) == 0) return path.substr(8);
  std::string base = path.substr(path.find_last_of('/') + 1);
  const size_t dot = base.rfind('.');
  return dot == std::string::npos || dot == 0 ? base : base.substr(0, dot);
}

Status ReadModels(const Ctx& c, const YAML::Node& root, RunSpec* spec) {
  const YAML::Node list = root["models"];
  if (!list || !list.IsSequence() || list.size() == 0) {
    return c.Error(list ? list : root, "models", "a non-empty list of model paths is required");
  }
  for (const YAML::Node& n : list) {
    ModelSpec m;
    if (n.IsScalar()) {
      m.path = n.Scalar();
    } else if (n.IsMap() && n["path"] && n["path"].IsScalar()) {
      m.path = n["path"].Scalar();
      if (n["name"]) m.name = n["name"].Scalar();
    } else {
      return c.Error(n, "models", "each entry is a path or {name:, path:}");
    }
    if (m.path.empty()) return c.Error(n, "models", "empty path");
    if (m.name.empty()) m.name = Stem(m.path);
    spec->models.push_back(m);
  }
  return Status::Ok();
}

Status ReadDevices(const Ctx& c, const YAML::Node& root, RunSpec* spec) {
  const YAML::Node list = root["devices"];
  if (!list || !list.IsSequence() || list.size() == 0) {
    return c.Error(list ? list : root, "devices", "a non-empty list of devices (names or {tags: [...]}) is required");
  }
  for (const YAML::Node& n : list) {
    DeviceSelector d;
    if (n.IsScalar()) {
      d.name = n.Scalar();
    } else if (n.IsMap() && n["tags"] && n["tags"].IsSequence() && n["tags"].size() > 0) {
      for (const YAML::Node& t : n["tags"]) {
        if (!t.IsScalar()) return c.Error(t, "devices.tags", "a tag is a plain word");
        d.tags.push_back(t.Scalar());
      }
    } else {
      return c.Error(n, "devices", "each entry is a device name or {tags: [tag, ...]}");
    }
    if (d.name.empty() && d.tags.empty()) return c.Error(n, "devices", "empty device name");
    spec->devices.push_back(d);
  }
  return Status::Ok();
}

Status ReadProfiles(const Ctx& c, const YAML::Node& root, RunSpec* spec) {
  const YAML::Node list = root["profiles"];
  if (!list) {
    spec->profiles = {"declared"};
    return Status::Ok();
  }
  if (!list.IsSequence() || list.size() == 0) return c.Error(list, "profiles", "a non-empty list");
  for (const YAML::Node& n : list) {
    if (!n.IsScalar() || n.Scalar().empty()) return c.Error(n, "profiles", "a profile name or key=value,... text");
    spec->profiles.push_back(n.Scalar());
  }
  return Status::Ok();
}

Status ReadInputs(const Ctx& c, const YAML::Node& root, RunSpec* spec) {
  const YAML::Node list = root["inputs"];
  if (!list) {
    spec->inputs = {InputSpec{1, {}}};
    return Status::Ok();
  }
  if (!list.IsSequence() || list.size() == 0) return c.Error(list, "inputs", "a non-empty list");
  for (const YAML::Node& n : list) {
    InputSpec in;
    if (n.IsMap() && n["seed"] && n["seed"].IsScalar()) {
      try {
        in.seed = n["seed"].as<uint64_t>();
      } catch (const YAML::Exception&) {
        return c.Error(n["seed"], "inputs.seed", "'" + n["seed"].Scalar() + "' is not an unsigned integer");
      }
    } else if (n.IsMap() && n["files"] && n["files"].IsSequence() && n["files"].size() > 0) {
      for (const YAML::Node& f : n["files"]) {
        if (!f.IsScalar() || f.Scalar().empty()) return c.Error(f, "inputs.files", "a tensor file path");
        in.files.push_back(f.Scalar());
      }
    } else {
      return c.Error(n, "inputs", "each entry is {seed: N} or {files: [path, ...]}");
    }
    spec->inputs.push_back(in);
  }
  return Status::Ok();
}

Status ReadScalars(const Ctx& c, const YAML::Node& root, RunSpec* s) {
  for (const auto& key : {"name"}) QFARM_RETURN_IF_ERROR(ReadScalar(c, root, key, &s->name));
  QFARM_RETURN_IF_ERROR(ReadScalar(c, root, "priority", &s->priority));
  QFARM_RETURN_IF_ERROR(ReadScalar(c, root, "repeats", &s->repeats));
  QFARM_RETURN_IF_ERROR(ReadScalar(c, root, "timeout_s", &s->timeout_s));
  QFARM_RETURN_IF_ERROR(ReadScalar(c, root, "max_attempts", &s->max_attempts));
  QFARM_RETURN_IF_ERROR(ReadScalar(c, root, "warmup_runs", &s->warmup_runs));
  QFARM_RETURN_IF_ERROR(ReadScalar(c, root, "timed_runs", &s->timed_runs));
  QFARM_RETURN_IF_ERROR(ReadScalar(c, root, "warmup_s", &s->warmup_s));
  QFARM_RETURN_IF_ERROR(ReadScalar(c, root, "measure_s", &s->measure_s));
  QFARM_RETURN_IF_ERROR(CheckRange(c, root, "warmup_s", s->warmup_s, 0, 3600));
  QFARM_RETURN_IF_ERROR(CheckRange(c, root, "measure_s", s->measure_s, 0, 3600));
  QFARM_RETURN_IF_ERROR(CheckRange(c, root, "priority", s->priority, -1000, 1000));
  QFARM_RETURN_IF_ERROR(CheckRange(c, root, "repeats", s->repeats, 1, 1000));
  QFARM_RETURN_IF_ERROR(CheckRange(c, root, "timeout_s", s->timeout_s, 0.001, 7 * 86400));
  QFARM_RETURN_IF_ERROR(CheckRange(c, root, "max_attempts", s->max_attempts, 1, 100));
  QFARM_RETURN_IF_ERROR(CheckRange(c, root, "warmup_runs", s->warmup_runs, 0, 100000));
  QFARM_RETURN_IF_ERROR(CheckRange(c, root, "timed_runs", s->timed_runs, 0, 100000));
  return Status::Ok();
}

Status CheckKeys(const Ctx& c, const YAML::Node& root) {
  static const std::set<std::string> known = {"name", "priority", "repeats", "timeout_s", "max_attempts",
                                              "warmup_runs", "timed_runs", "warmup_s", "measure_s", "models", "devices", "profiles",
                                              "inputs"};
  for (const auto& kv : root) {
    const std::string key = kv.first.Scalar();
    if (!known.count(key)) return c.Error(kv.first, key, "unknown field");
  }
  return Status::Ok();
}

}  // namespace

StatusOr<RunSpec> ParseRunSpec(const std::string& yaml, const std::string& label) {
  const Ctx c{label};
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    return InvalidArgument(label + ":" + std::to_string(e.mark.line + 1) + ": not valid YAML: " + e.msg);
  }
  if (!root.IsMap()) return InvalidArgument(label + ": a run is a YAML mapping (models:, devices:, ...)");
  RunSpec spec;
  try {
    QFARM_RETURN_IF_ERROR(CheckKeys(c, root));
    QFARM_RETURN_IF_ERROR(ReadScalars(c, root, &spec));
    QFARM_RETURN_IF_ERROR(ReadModels(c, root, &spec));
    QFARM_RETURN_IF_ERROR(ReadDevices(c, root, &spec));
    QFARM_RETURN_IF_ERROR(ReadProfiles(c, root, &spec));
    QFARM_RETURN_IF_ERROR(ReadInputs(c, root, &spec));
  } catch (const YAML::Exception& e) {
    return InvalidArgument(label + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  const double jobs = static_cast<double>(spec.models.size()) * static_cast<double>(spec.devices.size()) *
                      static_cast<double>(spec.profiles.size()) * static_cast<double>(spec.inputs.size()) *
                      spec.repeats;
  if (jobs > kMaxJobsPerRun) {
    return InvalidArgument(label + ": expands to more than " + std::to_string(kMaxJobsPerRun) + " jobs per device");
  }
  return spec;
}

std::vector<std::string> SpecFiles(const RunSpec& spec) {
  std::vector<std::string> files;
  auto add = [&](const std::string& f) {
    if (std::find(files.begin(), files.end(), f) == files.end()) files.push_back(f);
  };
  for (const ModelSpec& m : spec.models) add(m.path);
  for (const InputSpec& in : spec.inputs) {
    for (const std::string& f : in.files) add(f);
  }
  return files;
}

}  // namespace qfarm::controller
