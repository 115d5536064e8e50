// Optimized executor and the host devices built on it.
//
// A host path is one GEMM microkernel (qgemm/registry.inc) plus the shared driver. Its ops
// (QLinearMatMul, MatMulInteger, QLinearConv, ConvInteger with int8 weights) run on the kernel;
// every other op, and those ops in forms the kernels do not cover, run on reference/'s plain
// loops — so a path is exact for exactly the profiles its accumulation matches: acc_bits=32,
// acc_overflow=wrap, and pair_sat16 on (with zp_fold=fold_after) for VPMADDUBSW kernels or off
// for the others; the requantization is reference/'s own primitives, so any requant scheme.
// Thread-compatible; `threads` only splits output rows, results do not depend on it.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "kernels/conv_nchw.h"
#include "kernels/conv_nhwc.h"
#include "kernels/dwconv_nhwc.h"
#include "kernels/gemm.h"
#include "kernels/infer_memo.h"
#include "kernels/qgemm/qgemm.h"
#include "model/graph.h"
#include "reference/executor.h"
#include "reference/profile.h"

namespace qfarm::kernels {

struct HostPath {
  std::string device;            // "host-avx2", ...
  Isa isa;
  std::string declared_profile;  // the profile the path claims by default
};

// Paths this CPU can run, scalar first, best last.
std::vector<HostPath> AvailableHostPaths();
// The path behind "host" (the best one) or "host-<isa>"; error for unknown or unavailable ones.
StatusOr<HostPath> FindHostPath(const std::string& device);

// Whether `isa`'s kernel computes `p` bit-exactly; the reason when it does not.
bool PathComputes(Isa isa, const Profile& p, std::string* why = nullptr);
// The same rule for a kernel build that may not be this process's (the aarch64 runner).
bool KernelsCompute(bool pair_sat16, const Profile& p, std::string* why = nullptr);

StatusOr<ExecResult> RunKernels(const Graph& graph, Isa isa, const Profile& profile,
                                const TensorMap& inputs, const ExecOptions& options, int threads);

// Weights packed once for a kernel: one packed B per group (MatMul; convolutions on the VPMADDUBSW
// path), or for convolutions on the exact paths one block of weight rows per group
// (kernels/conv_nchw.h); depthwise convolutions on the exact paths read the tensor directly.
struct PreparedWeights {
  std::vector<PackedWeights> groups;
  std::vector<WeightRows> rows;
  std::vector<WeightRows> rows_raw;  // raw int8 rows too when the kernel has a fused s8·u8 form
  std::vector<PackedWeights> channels_last;  // B of the channels-last form (kernels/conv_nhwc.h), if it has one
  DwNhwcWeights depthwise_nhwc;  // the channels-last depthwise loop's weight layout (kernels/dwconv_nhwc.h)
  std::shared_ptr<InferMemo> infer;  // the node's output types and shapes, and its plan (kernels/op_plan.h)
};
// Which forms of a convolution's weights to pack: both (a caller that runs the node both ways:
// the benchmarks), or only the layout the node will run in — half the packing and the memory.
// MatMul weights have one form.
enum class WeightForms { kBoth, kChannelsFirst, kChannelsLast };
PreparedWeights PrepareWeights(const Node& node, const QGemmKernel& kernel, const Tensor& w,
                               WeightForms forms = WeightForms::kBoth);

// A graph bound to one kernel path with the constant weights of its GEMM/conv nodes packed once
// (what a runtime does at session creation), for running the same model many times: latency
// loops, nightly runs. Holds a pointer to `graph`, which must outlive it and stay unchanged.
// A run whose inputs override a packed initializer with different bytes packs that node afresh,
// so results never depend on the cache. Immutable after Prepare: Run is thread-safe.
//
// Layout: convolutions with a channels-last form (HasChannelsLastForm) that sit next to another
// one (the producer of their input or a consumer of their output, looking through QLinearAdd),
// or whose reduction is long (group 1, C·kh·kw ≥ 128), run channels-last, and their outputs
// stay so (kernels/layout.h) for the next one; QLinearAdd of two same-shape operands follows its
// operands; QLinearGlobalAveragePool reads them as they are. Any other consumer, the graph
// outputs and the captured intermediates get the standard order back, so results and captures
// are the reference's bytes. A lone short convolution (depthwise, or a few input channels)
// keeps the standard order: two transposes would cost more than they save.
class PreparedGraph {
 public:
  static StatusOr<PreparedGraph> Prepare(const Graph& graph, Isa isa);
  StatusOr<ExecResult> Run(const Profile& profile, const TensorMap& inputs, const ExecOptions& options,
                           int threads) const;
  int64_t packed_nodes() const { return static_cast<int64_t>(packed_.size()); }
  int64_t channels_last_nodes() const { return static_cast<int64_t>(channels_last_.size()); }

 private:
  struct Packed {
    const Tensor* weight;  // the initializer it was packed from
    PreparedWeights prepared;
  };
  const Graph* graph_ = nullptr;
  Isa isa_ = Isa::kScalar;
  const QGemmKernel* kernel_ = nullptr;
  std::map<const Node*, Packed> packed_;
  std::set<const Node*> channels_last_;  // convolutions run channels-last
};

// Whether the kernels can run convolution `node` with weights `w` on channels-last activations
// (kernels/layout.h): 2-D QLinearConv/ConvInteger with int8 weights, group 1 (kernels/conv_nhwc.h)
// or depthwise (kernels/dwconv_nhwc.h), on the exact paths (pair_sat16=off; VPMADDUBSW's pair
// saturation depends on the k order).
bool HasChannelsLastForm(const Node& node, const QGemmKernel& kernel, const Tensor& w);

// Runs one node on the kernel path (packing its weights unless `prepared` is given), or returns
// a NotFound status when the kernels do not cover it (the caller then uses the reference).
// `channels_last`: the node's activation input and output are channels-last (only for nodes
// with HasChannelsLastForm, and QLinearGlobalAveragePool, whose [N, C, 1, 1] output is the same
// in either order).
StatusOr<std::vector<Tensor>> RunKernelNode(const Node& node, const QGemmKernel& kernel,
                                            const Profile& profile,
                                            const std::vector<const Tensor*>& inputs, int threads,
                                            const PreparedWeights* prepared = nullptr,
                                            bool channels_last = false);

}  // namespace qfarm::kernels
