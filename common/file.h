// Whole-file reads shared by the programs (tokens, certificates, models): one error naming the
// path when the file cannot be read.
#pragma once

#include <cctype>
#include <fstream>
#include <sstream>
#include <string>

#include "common/status.h"

namespace qfarm {

inline StatusOr<std::string> ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(path + ": cannot read");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A secret or a PEM file: its text without trailing whitespace; empty is an error.
inline StatusOr<std::string> ReadTextFile(const std::string& path) {
  QFARM_ASSIGN_OR_RETURN(std::string text, ReadFileBytes(path));
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  if (text.empty()) return InvalidArgument(path + ": empty");
  return text;
}

}  // namespace qfarm
