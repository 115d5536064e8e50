// A run described in YAML (DESIGN.md "Jobs, leases, results"): models × devices × profiles ×
// input sets × repeats, expanded into jobs. Example:
//
//   name: nightly            # optional
//   priority: 0              # higher runs first; equal priority runs oldest first
//   repeats: 1
//   timeout_s: 600           # per job; a device still busy then is killed (infrastructure failure)
//   max_attempts: 3          # leases an expired or failed job may take before it fails
//   warmup_runs: 3           # latency (0 timed_runs: no latency measurement)
//   timed_runs: 30
//   warmup_s: 0.2            # and at least this long (and measure_s for the timed runs)
//   measure_s: 1.0
//   models: [mlp.onnx, builtin:mobilenet_block, {name: big, path: models/big.onnx}]
//   devices: [host-avx2, {tags: [emulated]}]
//   profiles: [declared, ort, "rounding=half_away,acc_bits=32"]
//   inputs: [{seed: 1}, {files: [x.pb, scale.npy]}]
//
// Paths are as written (the client resolves them against the YAML's folder and uploads their
// bytes with the run); `builtin:NAME` is one of the built-in models. Parsing never touches the
// filesystem. Errors name the file, the line and the field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace qfarm::controller {

struct ModelSpec {
  std::string name;  // defaults to the file's stem, or the built-in's name
  std::string path;  // file path or builtin:NAME
};

struct DeviceSelector {
  std::string name;               // a device kind ("host-avx2") or a device id ("agent/host")
  std::vector<std::string> tags;  // all of them, when name is empty
};

struct InputSpec {
  std::optional<uint64_t> seed;
  std::vector<std::string> files;
};

struct RunSpec {
  std::string name = "run";
  int priority = 0;
  int repeats = 1;
  double timeout_s = 600;
  int max_attempts = 3;
  int warmup_runs = 3;
  int timed_runs = 30;
  double warmup_s = 0.2;
  double measure_s = 1.0;
  std::vector<ModelSpec> models;
  std::vector<DeviceSelector> devices;
  std::vector<std::string> profiles;  // "declared" = each device's declared profile
  std::vector<InputSpec> inputs;      // default: one input set, seed 1
};

// Limits on what one run may expand to (hostile or mistaken specs).
inline constexpr int kMaxJobsPerRun = 100000;

StatusOr<RunSpec> ParseRunSpec(const std::string& yaml, const std::string& label);

// Every blob the spec names (model paths, built-in models, tensor files), in order, once: the
// client uploads the bytes of each with the run.
std::vector<std::string> SpecFiles(const RunSpec& spec);

}  // namespace qfarm::controller
