# Writes each asset as a raw string literal: cmake -DOUT=... -DDIR=... -DASSETS=a,b -P embed.cmake
string(REPLACE "," ";" ASSETS "${ASSETS}")
set(body "// Generated from dashboards/ by embed.cmake; do not edit.\n#include <map>\n#include <string>\n#include <string_view>\nnamespace qfarm::dashboards {\nconst std::map<std::string, std::string_view>& Assets() {\n  static const std::map<std::string, std::string_view> assets = {\n")
foreach(name ${ASSETS})
  file(READ ${DIR}/${name} content)
  string(APPEND body "    {\"${name}\", R\"qfarm_asset(${content})qfarm_asset\"},\n")
endforeach()
string(APPEND body "  };\n  return assets;\n}\n}  // namespace qfarm::dashboards\n")
file(WRITE ${OUT} "${body}")
