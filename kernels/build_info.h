// Identity of this kernels build (commit, compiler, flags): part of every result's
// reproducibility fingerprint (DESIGN.md "Jobs, leases, results").
#pragma once

#include <string>

namespace qfarm::kernels {

std::string BuildId();

}  // namespace qfarm::kernels
