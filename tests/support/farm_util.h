// Helpers for controller tests: a store on a temp file, agents registered with simple devices,
// runs submitted from a few lines of spec, results built as an agent would report them.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "controller/store.h"

namespace qfarm::testing {

inline v1::RegisterAgentRequest Registration(const std::string& agent, const std::vector<std::string>& devices,
                                             const std::vector<int64_t>& running = {}) {
  v1::RegisterAgentRequest r;
  r.set_agent(agent);
  r.set_version("test");
  for (const std::string& d : devices) {
    v1::DeviceFingerprint* fp = r.add_devices();
    fp->set_device(d);
    fp->set_declared_profile("onnx");
    fp->set_cpu_model("test cpu");
  }
  for (int64_t id : running) r.add_running_job_ids(id);
  return r;
}

// Submits models × devices × profiles (one seed) with `repeats`; fails the test on error.
inline controller::SubmitOutcome SubmitSimple(controller::Store& store, const std::vector<std::string>& devices,
                                              int repeats, double now, int priority = 0, int max_attempts = 3,
                                              int models = 1) {
  controller::RunSpec spec;
  spec.priority = priority;
  spec.repeats = repeats;
  spec.max_attempts = max_attempts;
  std::map<std::string, std::string> blobs;
  for (int m = 0; m < models; ++m) {
    const std::string path = "m" + std::to_string(m) + ".onnx";
    spec.models.push_back({"m" + std::to_string(m), path});
    blobs[path] = *store.PutBlob("model bytes " + std::to_string(m), now);
  }
  for (const std::string& d : devices) spec.devices.push_back({d, {}});
  spec.profiles = {"declared"};
  spec.inputs = {controller::InputSpec{1, {}}};
  return *store.Submit(spec, "test", blobs, now);
}

inline v1::Result ResultFor(int64_t job, const std::string& agent, const std::string& device,
                            v1::Result::Status status = v1::Result::OK, int64_t mismatches = 0) {
  v1::Result r;
  r.set_job_id(job);
  r.set_attempt(1);
  r.set_agent_id(agent);
  r.set_device_name(device);
  r.set_status(status);
  r.set_deterministic(true);
  v1::TensorMetrics* m = r.add_outputs();
  m->set_value("y");
  m->set_elements(100);
  m->set_mismatches(mismatches);
  m->set_bit_exact(mismatches == 0);
  (*r.mutable_output_sha256())["y"] = "ab";
  if (status == v1::Result::INFRA_FAILURE) r.set_error("device fell over");
  return r;
}

}  // namespace qfarm::testing
