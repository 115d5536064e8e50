// Data movement: Reshape, Flatten, Squeeze, Unsqueeze, Identity (same bytes, new shape),
// Transpose, Concat, Split, Cast.
#include <cstring>

#include "reference/ops/op_context.h"

namespace qfarm::ref {

Status RunShapeOp(const OpContext& ctx) {
  const Tensor& x = *ctx.Input(0);
  Tensor& y = ctx.out[0];
  if (y.numel() != x.numel() || y.dtype() != x.dtype()) {
    return ctx.Err("output", "inferred " + ShapeToString(y.shape()) + " does not hold the input " +
                                 ShapeToString(x.shape()));
  }
  std::memcpy(y.mutable_bytes().data(), x.bytes().data(), x.bytes().size());
  return Status::Ok();
}

Status RunTranspose(const OpContext& ctx) {
  const Tensor& x = *ctx.Input(0);
  Tensor& y = ctx.out[0];
  std::vector<int64_t> perm = ctx.node.AttrInts("perm");
  if (perm.empty()) {
    for (size_t i = x.rank(); i > 0; --i) perm.push_back(static_cast<int64_t>(i - 1));
  }
  const std::vector<int64_t> in_strides = Strides(x.shape());
  const size_t esize = DTypeSize(x.dtype());
  for (int64_t o = 0; o < y.numel(); ++o) {
    int64_t rem = o, src = 0;
    for (size_t d = y.rank(); d-- > 0;) {
      const int64_t coord = rem % y.dim(d);
      rem /= y.dim(d);
      src += coord * in_strides[static_cast<size_t>(perm[d])];
    }
    std::memcpy(y.mutable_bytes().data() + o * esize, x.bytes().data() + src * esize, esize);
  }
  return Status::Ok();
}

Status RunConcat(const OpContext& ctx) {
  Tensor& y = ctx.out[0];
  int64_t axis = ctx.node.AttrInt("axis", 0);
  if (axis < 0) axis += static_cast<int64_t>(y.rank());
  const size_t esize = DTypeSize(y.dtype());
  int64_t outer = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= y.dim(static_cast<size_t>(d));
  const int64_t y_row = y.numel() / (outer ? outer : 1);
  int64_t offset = 0;
  for (const Tensor* t : ctx.in) {
    if (!t) continue;
    const int64_t row = outer ? t->numel() / outer : 0;
    for (int64_t o = 0; o < outer; ++o) {
      std::memcpy(y.mutable_bytes().data() + (o * y_row + offset) * esize,
                  t->bytes().data() + o * row * esize, static_cast<size_t>(row) * esize);
    }
    offset += row;
  }
  return Status::Ok();
}

Status RunSplit(const OpContext& ctx) {
  const Tensor& x = *ctx.Input(0);
  int64_t axis = ctx.node.AttrInt("axis", 0);
  if (axis < 0) axis += static_cast<int64_t>(x.rank());
  const size_t esize = DTypeSize(x.dtype());
  int64_t outer = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= x.dim(static_cast<size_t>(d));
  const int64_t x_row = outer ? x.numel() / outer : 0;
  int64_t offset = 0;
  for (Tensor& y : ctx.out) {
    const int64_t row = outer ? y.numel() / outer : 0;
    for (int64_t o = 0; o < outer; ++o) {
      std::memcpy(y.mutable_bytes().data() + o * row * esize,
                  x.bytes().data() + (o * x_row + offset) * esize, static_cast<size_t>(row) * esize);
    }
    offset += row;
  }
  return Status::Ok();
}

Status RunCast(const OpContext& ctx) {
  const Tensor& x = *ctx.Input(0);
  Tensor& y = ctx.out[0];
  const bool int_to_int = IsIntegerType(x.dtype()) && IsIntegerType(y.dtype());
  for (int64_t i = 0; i < x.numel(); ++i) {
    // Integer → integer wraps (two's complement, as C casts); anything else converts by value
    // (float → int truncates toward zero and saturates; documented in model/ops.md).
    if (int_to_int) y.SetInt(i, x.GetInt(i)); else y.SetDouble(i, x.GetDouble(i));
  }
  return Status::Ok();
}

}  // namespace qfarm::ref
