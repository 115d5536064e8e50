// The dashboard: one page app (index.html, app.js, style.css) that renders the run matrix, job
// pages, histories with regressions marked, and device health from the controller's JSON API —
// or, in a report file, from the same answers embedded in the page (so the file is
// self-contained: no server, no network).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace qfarm::dashboards {

// An asset by file name ("app.js"); empty when there is none.
std::string_view Asset(std::string_view name);
std::string ContentType(const std::string& path);
// The page the controller serves: assets linked under /static/, data fetched from /api/.
std::string ServedPage();
// The page with CSS and JS inline and `data` embedded: {"start": "#/run/1", "api": {"<kind>?<args>": answer}}.
// Keys are the API calls the pages make, arguments sorted by name (see app.js, ApiKey).
std::string SelfContainedPage(const nlohmann::json& data);
// The key app.js looks an answer up by: kind?a=1&b=x with arguments in name order.
std::string ApiKey(const std::string& kind, const nlohmann::json& args);

}  // namespace qfarm::dashboards
