// Read-only queries over the farm database, answered as JSON: the one definition behind
// `farmctl runs/results/history/compare` (over gRPC's Query or straight from --db), the HTTP
// JSON API and the dashboard pages. Errors name the argument that is wrong.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "common/status.h"
#include "controller/store.h"

namespace qfarm::controller {

// kind: runs {limit}, run {run}, results {run}, job {job}, history {model, device, metric, limit},
// compare {a, b}, devices {}, events {device?, limit}, series {model, device, profile?, limit}
// (one history with every metric and a regression verdict per run), regressions {run} (each
// result of the run judged against the runs before it, controller/regression.h).
StatusOr<nlohmann::json> RunQuery(Store& store, const std::string& kind, const nlohmann::json& args);

// The metrics `history` accepts, e.g. p50_ms, mismatches, sqnr_db.
const std::vector<std::string>& HistoryMetrics();

}  // namespace qfarm::controller
