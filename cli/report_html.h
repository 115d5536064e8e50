// farmctl report --html: the dashboard's pages for one run as one self-contained file (CSS, JS
// and every API answer the pages ask for embedded; dashboards/assets.h), to attach to a nightly
// mail or a CI run.
#pragma once

#include <string>

#include "cli/farm_client.h"

namespace qfarm::cli {

StatusOr<std::string> BuildHtmlReport(FarmClient& client, int64_t run_id);

}  // namespace qfarm::cli
