#include "kernels/build_info.h"

#ifndef QFARM_GIT_COMMIT
#define QFARM_GIT_COMMIT "unknown"
#endif
#ifndef QFARM_BUILD_FLAGS
#define QFARM_BUILD_FLAGS ""
#endif

namespace qfarm::kernels {

std::string BuildId() {
  return std::string("commit ") + QFARM_GIT_COMMIT + ", g++ " + __VERSION__ + ", flags '" + QFARM_BUILD_FLAGS + "'";
}

}  // namespace qfarm::kernels
