// faulty:<fault> — the reference emulator with one injected fault, to test that the farm finds,
// localizes and classifies what real devices get wrong. Faults:
//   rounding:<node>:<rule>     <node> rounds by <rule> (half_up, …) instead of the profile's rule
//   profile:<node>:<text>      <node> computes with profile <text> (any key=value overrides)
//   bitflip:<node>[:<i>[:<b>]] bit <b> (default 0) of element <i> (default 0) of <node>'s output flips
//   nondet                     one element of the last node's output moves by 1, a different one each run
//   crash                      every run fails as a crashed device would
//   slow:<ms>                  every run takes <ms> milliseconds longer
// <node> may be * (every node). The device declares `onnx` and computes any profile, like the
// reference.
#pragma once

#include <memory>
#include <string>

#include "agent/device.h"

namespace qfarm {

StatusOr<std::unique_ptr<Device>> MakeFaultyDevice(const std::string& spec);

}  // namespace qfarm
