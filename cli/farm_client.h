// How farm commands reach the farm: a controller over gRPC (--controller ADDR), or a local
// database read directly (--db PATH, e.g. after `nightly --local`). Queries answer the same JSON
// either way (controller/queries.h). Every gRPC call has a deadline.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "common/status.h"
#include "farm.pb.h"

namespace qfarm::cli {

struct FarmTarget {
  std::string controller = "127.0.0.1:7700";
  std::string db;  // when set, the database is read directly
  std::string token;   // operator token (state-changing commands), when the controller requires one
  std::string tls_ca;  // PEM of the CA that signed the controller's certificate: TLS when set
};

class FarmClient {
 public:
  static StatusOr<std::unique_ptr<FarmClient>> Connect(const FarmTarget& target);
  virtual ~FarmClient() = default;
  virtual StatusOr<nlohmann::json> Query(const std::string& kind, const nlohmann::json& args) = 0;
  virtual StatusOr<v1::SubmitRunResponse> Submit(const v1::SubmitRunRequest& request) = 0;
  virtual StatusOr<v1::GetRunResponse> GetRun(int64_t run_id) = 0;
  virtual StatusOr<int> Cancel(int64_t run_id) = 0;
};

// A run YAML made ready to submit: parsed and checked here (profiles, models and tensor files
// load), every file it names read (relative to the YAML's folder) or built (builtin:NAME).
StatusOr<v1::SubmitRunRequest> PrepareSubmission(const std::string& yaml_path);
StatusOr<v1::SubmitRunRequest> PrepareSubmissionText(const std::string& yaml, const std::string& label,
                                                     const std::string& base_dir);

}  // namespace qfarm::cli
