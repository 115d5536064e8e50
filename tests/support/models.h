// The built-in suite by name, built once per test binary.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "model/builtin.h"

namespace qfarm::testing {

inline const BuiltinModel& Builtin(const std::string& name) {
  static const std::vector<BuiltinModel> suite = BuiltinSuite();
  for (const BuiltinModel& m : suite) {
    if (m.name == name) return m;
  }
  throw std::runtime_error("no built-in model '" + name + "'");
}

}  // namespace qfarm::testing
