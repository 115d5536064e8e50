// The kernel testers' comparison loop: one node on every available host path (not the "host"
// alias) under every named profile the path claims, with 1 and 3 threads, against
// RunReferenceNode, zero tolerance. Returns the comparisons made; stops at the first failure,
// which it reports with `what` (the case's parameters and seed). Convolutions with a
// channels-last form run in it too: x converted in, y converted back (kernels/layout.h).
#pragma once

#include <gtest/gtest.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <string>
#include <vector>

#include "kernels/devices.h"
#include "kernels/executor.h"
#include "kernels/layout.h"
#include "reference/ops.h"

namespace qfarm::kernels {

// Kernel outputs are allocated uninitialized (every element is written), and a freed output's
// block often comes back for the next run with the last run's correct bytes still in it, which
// would hide an output nobody wrote. glibc's M_PERTURB fills every allocation with a pattern.
#if defined(__GLIBC__)
inline const bool kPerturbAllocations = [] { return mallopt(M_PERTURB, 0x5a) == 1; }();
#endif

// The weight input of a convolution node, or nullptr.
inline const Tensor* ConvWeight(const Node& node, const std::vector<const Tensor*>& in) {
  if (node.op_type == "QLinearConv" && in.size() > 3) return in[3];
  if (node.op_type == "ConvInteger" && in.size() > 1) return in[1];
  return nullptr;
}

// The node run on `kernel`, channels-last when asked, its output back in the standard order.
inline StatusOr<Tensor> RunOnPath(const Node& node, const QGemmKernel& kernel, const Profile& prof,
                                  const std::vector<const Tensor*>& in, int threads, bool channels_last) {
  if (!channels_last) {
    QFARM_ASSIGN_OR_RETURN(std::vector<Tensor> out, RunKernelNode(node, kernel, prof, in, threads));
    return std::move(out[0]);
  }
  const Tensor x = ToChannelsLast(*in[0]);
  std::vector<const Tensor*> args = in;
  args[0] = &x;
  QFARM_ASSIGN_OR_RETURN(std::vector<Tensor> out, RunKernelNode(node, kernel, prof, args, threads, nullptr, true));
  return ToChannelsFirst(out[0]);
}

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
      const Tensor* w = ConvWeight(node, in);
      const bool has_cl = w && HasChannelsLastForm(node, kernel, *w);
      for (bool cl : {false, true}) {
        if (cl && !has_cl) continue;
        for (int threads : {1, 3}) {
          auto got = RunOnPath(node, kernel, prof, in, threads, cl);
          EXPECT_TRUE(got.ok()) << what << ": " << got.status().message();
          if (!got.ok()) return compared;
          EXPECT_EQ(*got, (*want)[0]) << dev.name << " profile=" << prof_name << " threads=" << threads
                                      << (cl ? " channels-last " : " ") << what;
          if (*got != (*want)[0]) return compared;
          ++compared;
        }
      }
    }
  }
  return compared;
}

}  // namespace qfarm::kernels
