#include "dashboards/assets.h"

#include <map>

namespace qfarm::dashboards {

const std::map<std::string, std::string_view>& Assets();  // assets_data.cc (generated)

namespace {

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  const size_t at = s.find(from);
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

}  // namespace

std::string_view Asset(std::string_view name) {
  auto it = Assets().find(std::string(name));
  return it == Assets().end() ? std::string_view() : it->second;
}

std::string ContentType(const std::string& path) {
  if (path.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (path.ends_with(".css")) return "text/css; charset=utf-8";
  return "text/html; charset=utf-8";
}

std::string ServedPage() {
  std::string page(Asset("index.html"));
  page = Replace(page, "<!--STYLE-->", "<link rel=\"stylesheet\" href=\"/static/style.css\">");
  page = Replace(page, "<!--DATA-->", "");
  return Replace(page, "<!--SCRIPT-->", "<script src=\"/static/app.js\"></script>");
}

std::string SelfContainedPage(const nlohmann::json& data) {
  std::string json = data.dump();
  // The JSON sits inside <script>: "</" must not close it.
  for (size_t at = json.find("</"); at != std::string::npos; at = json.find("</", at + 3)) json.replace(at, 2, "<\\/");
  std::string page(Asset("index.html"));
  page = Replace(page, "<!--STYLE-->", "<style>\n" + std::string(Asset("style.css")) + "</style>");
  page = Replace(page, "<!--DATA-->", "<script>window.QFARM_DATA = " + json + ";</script>");
  return Replace(page, "<!--SCRIPT-->", "<script>\n" + std::string(Asset("app.js")) + "</script>");
}

std::string ApiKey(const std::string& kind, const nlohmann::json& args) {
  std::string key = kind + "?";
  bool first = true;
  for (const auto& [name, value] : args.items()) {  // nlohmann::json objects iterate in name order
    key += (first ? "" : "&") + name + "=" + (value.is_string() ? value.get<std::string>() : value.dump());
    first = false;
  }
  return key;
}

}  // namespace qfarm::dashboards
