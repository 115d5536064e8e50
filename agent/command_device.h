// command:<path> — any external runner as a device of the farm (a vendor SDK, a phone over adb
// or ssh, another runtime). The farm writes a job directory and runs `<path> <job_dir>`:
//
//   job_dir/model.onnx       the model (with every intermediate value added as a graph output
//                            when the job asks for intermediates)
//   job_dir/job.json         {"inputs": [{"name": "x", "file": "inputs/0.npy"}],
//                             "outputs": ["y", ...], "warmup": 0, "runs": 1,
//                             "profile": "<emulator profile text>"}
//   job_dir/inputs/<i>.npy   one .npy per input
//
// The runner writes job_dir/outputs/<i>.npy and job_dir/result.json:
//   {"outputs": [{"name": "y", "file": "outputs/0.npy"}, ...], "timings_ms": [..]}
// and exits 0; any other exit status is a device failure, reported with the first line it
// wrote to stderr. `<path> --describe` prints {"name": .., "declared_profile": .., "description": ..}
// (declared_profile defaults to `onnx` when the runner does not say). Runs time out after
// QFARM_COMMAND_TIMEOUT_S seconds (default 600). The device computes one profile: the one it
// declares.
#pragma once

#include <memory>
#include <string>

#include "agent/device.h"

namespace qfarm {

StatusOr<std::unique_ptr<Device>> MakeCommandDevice(const std::string& path);

}  // namespace qfarm
