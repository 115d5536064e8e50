#include "model/conv_geometry.h"

namespace qfarm {
namespace {

Status AttrError(const std::string& attr, const std::string& what) {
  return InvalidArgument("attribute '" + attr + "': " + what);
}

// Reads an INTS attribute of exactly `n` positive values, or `fallback` when absent.
StatusOr<std::vector<int64_t>> PositiveInts(const Node& node, const std::string& key, size_t n,
                                            int64_t fallback) {
  std::vector<int64_t> v = node.AttrInts(key, std::vector<int64_t>(n, fallback));
  if (v.size() != n) {
    return AttrError(key, "has " + std::to_string(v.size()) + " values, expected " +
                              std::to_string(n));
  }
  for (int64_t x : v) {
    if (x <= 0 || x > (int64_t{1} << 20)) {
      return AttrError(key, "value " + std::to_string(x) + " must be in [1, 2^20]");
    }
  }
  return v;
}

int64_t FloorDiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
int64_t CeilDiv(int64_t a, int64_t b) { return -FloorDiv(-a, b); }

}  // namespace

StatusOr<ConvGeometry> ResolveConvGeometry(const Node& node, const Shape& x_shape,
                                           const std::vector<int64_t>& kernel_spatial,
                                           bool allow_ceil_mode) {
  if (x_shape.size() != 3 && x_shape.size() != 4) {
    return InvalidArgument("input 0: expected rank 3 or 4 ([N,C,W] or [N,C,H,W]), got " +
                           ShapeToString(x_shape));
  }
  const size_t rank = x_shape.size() - 2;
  if (kernel_spatial.size() != rank) {
    return InvalidArgument("kernel has " + std::to_string(kernel_spatial.size()) +
                           " spatial dims but the input has " + std::to_string(rank));
  }
  ConvGeometry g;
  g.spatial_rank = static_cast<int>(rank);
  QFARM_ASSIGN_OR_RETURN(auto strides, PositiveInts(node, "strides", rank, 1));
  QFARM_ASSIGN_OR_RETURN(auto dilations, PositiveInts(node, "dilations", rank, 1));
  std::vector<int64_t> pads = node.AttrInts("pads", std::vector<int64_t>(2 * rank, 0));
  if (pads.size() != 2 * rank) {
    return AttrError("pads", "has " + std::to_string(pads.size()) + " values, expected " +
                                 std::to_string(2 * rank));
  }
  for (int64_t p : pads) {
    if (p < 0 || p > (int64_t{1} << 20)) return AttrError("pads", "value " + std::to_string(p) +
                                                                       " must be in [0, 2^20]");
  }
  const std::string auto_pad = node.AttrString("auto_pad", "NOTSET");
  if (auto_pad != "NOTSET" && auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER" &&
      auto_pad != "VALID") {
    return AttrError("auto_pad", "unknown value '" + auto_pad + "'");
  }
  const int64_t ceil_mode = node.AttrInt("ceil_mode", 0);
  if (ceil_mode != 0 && (!allow_ceil_mode || ceil_mode != 1)) {
    return AttrError("ceil_mode", "value " + std::to_string(ceil_mode) + " is not supported");
  }
  const size_t off = 2 - rank;  // 1-D maps to index 1 (W)
  for (size_t i = 0; i < rank; ++i) {
    const size_t d = i + off;
    g.in[d] = x_shape[2 + i];
    g.kernel[d] = kernel_spatial[i];
    g.stride[d] = strides[i];
    g.dilation[d] = dilations[i];
    if (g.kernel[d] <= 0) return AttrError("kernel_shape", "kernel dims must be positive");
    const int64_t span = g.dilation[d] * (g.kernel[d] - 1) + 1;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      g.out[d] = CeilDiv(g.in[d], g.stride[d]);
      const int64_t total = std::max<int64_t>(0, (g.out[d] - 1) * g.stride[d] + span - g.in[d]);
      const int64_t small = total / 2;
      g.pad_begin[d] = auto_pad == "SAME_UPPER" ? small : total - small;
      g.pad_end[d] = total - g.pad_begin[d];
    } else {
      if (auto_pad == "NOTSET") {
        g.pad_begin[d] = pads[i];
        g.pad_end[d] = pads[i + rank];
      }
      const int64_t numer = g.in[d] + g.pad_begin[d] + g.pad_end[d] - span;
      if (numer < 0) {
        return InvalidArgument("input spatial size " + std::to_string(g.in[d]) +
                               " is smaller than the kernel's extent " + std::to_string(span));
      }
      g.out[d] = (ceil_mode ? CeilDiv(numer, g.stride[d]) : numer / g.stride[d]) + 1;
      // A window that starts inside the end padding is dropped (ONNX/PyTorch ceil_mode rule).
      if (ceil_mode && (g.out[d] - 1) * g.stride[d] >= g.in[d] + g.pad_begin[d]) --g.out[d];
    }
  }
  return g;
}

}  // namespace qfarm
