#include "cli/report_html.h"

#include "dashboards/assets.h"

namespace qfarm::cli {

using nlohmann::json;

StatusOr<std::string> BuildHtmlReport(FarmClient& client, int64_t run_id) {
  json api = json::object();
  auto add = [&](const std::string& kind, const json& args) -> Status {
    QFARM_ASSIGN_OR_RETURN(json answer, client.Query(kind, args));
    api[dashboards::ApiKey(kind, args)] = std::move(answer);
    return Status::Ok();
  };
  QFARM_RETURN_IF_ERROR(add("run", {{"run", run_id}}));
  api[dashboards::ApiKey("runs", {{"limit", 50}})] = json::array({api[dashboards::ApiKey("run", {{"run", run_id}})]});
  QFARM_RETURN_IF_ERROR(add("results", {{"run", run_id}}));
  QFARM_RETURN_IF_ERROR(add("regressions", {{"run", run_id}}));
  QFARM_RETURN_IF_ERROR(add("devices", json::object()));
  QFARM_RETURN_IF_ERROR(add("events", {{"limit", 200}}));
  for (const json& r : api[dashboards::ApiKey("results", {{"run", run_id}})]) {
    QFARM_RETURN_IF_ERROR(add("job", {{"job", r["job"]}}));
    if (r["result"].is_null()) continue;
    QFARM_RETURN_IF_ERROR(add("series", {{"model", r["model"]}, {"device", r["device_id"]}, {"profile", r["profile_text"]}}));
  }
  return dashboards::SelfContainedPage({{"start", "#/run/" + std::to_string(run_id)}, {"api", api}});
}

}  // namespace qfarm::cli
