// Divergence attribution: which arithmetic explains what a device computed at one node. The
// emulator re-runs the node on the emulator's own inputs under candidate profiles — every
// single-key change of the declared profile, the named profiles, then every two-key change —
// and the first candidate (fewest changed keys) whose output equals the device's, byte for
// byte, explains the divergence.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "model/graph.h"
#include "reference/profile.h"

namespace qfarm {

struct Attribution {
  bool explained = false;
  Profile profile;                          // the reproducing profile, when explained
  std::vector<std::string> differing_keys;  // keys where it differs from the declared profile
  int candidates_tried = 0;
  // "reproduced by <text> (differs from the declared profile in: rounding)" or
  // "not explained by any known profile (<n> candidates tried)".
  std::string Describe() const;
};

StatusOr<Attribution> AttributeNode(const Node& node, const std::vector<const Tensor*>& emulator_inputs,
                                    const Tensor& device_output, const Profile& declared);

// Keys of the text form whose values differ between two profiles, in canonical order.
std::vector<std::string> DifferingKeys(const Profile& a, const Profile& b);

}  // namespace qfarm
