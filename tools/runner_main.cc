// qfarm-runner: runs one job directory on this machine's kernels, for devices driven as a
// separate process (the aarch64 build under qemu-aarch64-static). Protobuf-free.
//   qfarm-runner JOB_DIR --path scalar|neon|neondot|avx2|avxvnni|avx512vnni|reference
//                [--profile TEXT] [--capture] [--repeat N]
// Reads JOB_DIR/model.qir and JOB_DIR/inputs.qtm (model/ir_file.h), writes
// JOB_DIR/outputs.qtm (graph outputs, plus every intermediate with --capture) and prints one
// line "qfarm-runner: ok <ms per run>". Errors: one line on stderr, exit 2.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "kernels/executor.h"
#include "model/ir_file.h"

namespace {

int Fail(const std::string& msg) {
  std::fprintf(stderr, "qfarm-runner: error: %s\n", msg.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace qfarm;
  if (argc < 2) return Fail("usage: qfarm-runner JOB_DIR --path P [--profile TEXT] [--capture] [--repeat N]");
  const std::string dir = argv[1];
  std::string path = "scalar", profile_text;
  bool capture = false;
  int repeat = 1;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--path" && i + 1 < argc) path = argv[++i];
    else if (a == "--profile" && i + 1 < argc) profile_text = argv[++i];
    else if (a == "--capture") capture = true;
    else if (a == "--repeat" && i + 1 < argc) repeat = std::max(1, std::atoi(argv[++i]));
    else return Fail("unknown argument '" + a + "'");
  }
  auto graph_bytes = ReadFileBytes(dir + "/model.qir");
  if (!graph_bytes.ok()) return Fail(graph_bytes.status().message());
  auto graph = ParseGraph(*graph_bytes);
  if (!graph.ok()) return Fail(dir + "/model.qir: " + graph.status().message());
  auto input_bytes = ReadFileBytes(dir + "/inputs.qtm");
  if (!input_bytes.ok()) return Fail(input_bytes.status().message());
  auto inputs = ParseTensors(*input_bytes);
  if (!inputs.ok()) return Fail(dir + "/inputs.qtm: " + inputs.status().message());
  auto profile = ParseProfile(profile_text.empty() ? "ort" : profile_text);
  if (!profile.ok()) return Fail(profile.status().message());
  ExecOptions opts;
  opts.capture_intermediates = capture;
  StatusOr<ExecResult> result = Internal("not run");
  const auto start = std::chrono::steady_clock::now();
  for (int r = 0; r < repeat; ++r) {
    if (path == "reference") {
      result = RunReference(*graph, *profile, *inputs, opts);
    } else {
      kernels::Isa isa = kernels::Isa::kScalar;
      bool found = false;
      for (const kernels::HostPath& p : kernels::AvailableHostPaths()) {
        if (kernels::IsaName(p.isa) == path) { isa = p.isa; found = true; }
      }
      if (!found) return Fail("kernel path '" + path + "' is not available here");
      result = kernels::RunKernels(*graph, isa, *profile, *inputs, opts, 1);
    }
    if (!result.ok()) return Fail(result.status().message());
  }
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() / repeat;
  TensorMap out = result->outputs;
  for (auto& [name, t] : result->intermediates) out[name] = t;
  Status s = WriteFileBytes(dir + "/outputs.qtm", SerializeTensors(out));
  if (!s.ok()) return Fail(s.message());
  std::printf("qfarm-runner: ok %.6f\n", ms);
  return 0;
}
