// The kernel testers' comparison loop: one node on every available host path (not the "host"
// alias) under every named profile the path claims, with 1 and 3 threads, against
// RunReferenceNode, zero tolerance. Returns the comparisons made; stops at the first failure,
// which it reports with `what` (the case's parameters and seed).
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernels/devices.h"
#include "kernels/executor.h"
#include "reference/ops.h"

namespace qfarm::kernels {

inline int CompareOnEveryPath(const Node& node, const std::vector<const Tensor*>& in, const std::string& what) {
  int compared = 0;
  for (const HostDeviceInfo& dev : HostDevices()) {
    if (!dev.available || dev.name == "host") continue;
    const QGemmKernel& kernel = *FindQGemmKernel(dev.isa);
    for (const std::string& prof_name : dev.profiles) {
      const Profile prof = *ParseProfile(prof_name);
      auto want = RunReferenceNode(node, prof, in);
      EXPECT_TRUE(want.ok()) << what << ": " << want.status().message();
      if (!want.ok()) return compared;
      for (int threads : {1, 3}) {
        auto got = RunKernelNode(node, kernel, prof, in, threads);
        EXPECT_TRUE(got.ok()) << what << ": " << got.status().message();
        if (!got.ok()) return compared;
        EXPECT_EQ((*got)[0], (*want)[0]) << dev.name << " profile=" << prof_name << " threads=" << threads << " "
                                         << what;
        if ((*got)[0] != (*want)[0]) return compared;
        ++compared;
      }
    }
  }
  return compared;
}

}  // namespace qfarm::kernels
