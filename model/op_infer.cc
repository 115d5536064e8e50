// InferNode: per-op checks of arity, element types, quantization parameters, attributes and
// shapes, and the output types and shapes. One function per op family; model/ops.md lists them.
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <set>

#include "model/conv_geometry.h"
#include "model/op_infer_ctx.h"
#include "model/validate.h"

namespace qfarm {
namespace {

using infer::Ctx;

using InferFn = std::function<StatusOr<std::vector<ValueInfo>>(const Ctx&)>;

// Counts inputs and outputs; inputs below min_in must be given unless listed in `optional`
// (the contrib ops' zero points may be omitted: they read as 0).
Status Arity(const Ctx& c, size_t min_in, size_t max_in, size_t min_out, size_t max_out,
             std::initializer_list<size_t> optional = {}) {
  const size_t present = c.NumInputs();
  if (present < min_in || present > max_in) {
    return c.Err("inputs", "has " + std::to_string(present) + " inputs, expected " +
                               (min_in == max_in ? std::to_string(min_in)
                                                 : std::to_string(min_in) + ".." +
                                                       std::to_string(max_in)));
  }
  for (size_t i = 0; i < min_in; ++i) {
    const bool opt = std::find(optional.begin(), optional.end(), i) != optional.end();
    if (!opt && c.node.inputs[i].empty()) return c.Err(c.Field(i), "required input is missing");
  }
  if (c.node.outputs.size() < min_out || c.node.outputs.size() > max_out) {
    return c.Err("outputs", "has " + std::to_string(c.node.outputs.size()) +
                                " outputs, expected " + std::to_string(min_out) +
                                (min_out == max_out ? "" : ".." + std::to_string(max_out)));
  }
  return Status::Ok();
}

bool IsQuantType(DType t) {
  return t == DType::kInt8 || t == DType::kUInt8 || t == DType::kInt4 || t == DType::kUInt4 ||
         t == DType::kInt16 || t == DType::kUInt16;
}

Status ExpectType(const Ctx& c, size_t i, const std::vector<DType>& allowed) {
  const DType t = c.In(i).dtype;
  if (std::find(allowed.begin(), allowed.end(), t) != allowed.end()) return Status::Ok();
  std::string names;
  for (DType a : allowed) names += (names.empty() ? "" : ", ") + std::string(DTypeName(a));
  return c.Err(c.Field(i), "element type " + std::string(DTypeName(t)) + " is not one of " + names);
}

// A scale: float32 (or float16), scalar or 1-D of `channels` (channels < 0: per-tensor only);
// constant values must be finite and > 0.
Status CheckScale(const Ctx& c, size_t i, int64_t channels) {
  if (!c.Has(i)) return c.Err(c.Field(i), "scale is missing");
  QFARM_RETURN_IF_ERROR(ExpectType(c, i, {DType::kFloat32, DType::kFloat16}));
  const Shape& s = c.In(i).shape;
  const int64_t n = NumElements(s);
  const bool scalar = s.empty() || (s.size() == 1 && s[0] == 1);
  if (!scalar) {
    if (channels < 0 || s.size() != 1 || s[0] != channels) {
      return c.Err(c.Field(i), "scale shape " + ShapeToString(s) + " must be a scalar" +
                                   (channels >= 0 ? " or [" + std::to_string(channels) + "]" : ""));
    }
  }
  if (const Tensor* t = c.Const(i)) {
    for (int64_t k = 0; k < n; ++k) {
      const double v = t->GetDouble(k);
      if (!(v > 0) || !std::isfinite(v)) {
        return c.Err(c.Field(i), "scale must be finite and > 0, got " + std::to_string(v) +
                                     " at index " + std::to_string(k));
      }
    }
  }
  return Status::Ok();
}

// A zero point: same element type as the quantized tensor, same shape rule as its scale, and
// constant values inside the type's range (int32 zero points must be 0).
Status CheckZeroPoint(const Ctx& c, size_t i, DType quant_type, int64_t channels) {
  if (!c.Has(i)) return Status::Ok();
  if (c.In(i).dtype != quant_type) {
    return c.Err(c.Field(i), "zero point type " + std::string(DTypeName(c.In(i).dtype)) +
                                 " does not match the quantized tensor's type " +
                                 std::string(DTypeName(quant_type)));
  }
  const Shape& s = c.In(i).shape;
  const bool scalar = s.empty() || (s.size() == 1 && s[0] == 1);
  if (!scalar && (channels < 0 || s.size() != 1 || s[0] != channels)) {
    return c.Err(c.Field(i), "zero point shape " + ShapeToString(s) + " must be a scalar" +
                                 (channels >= 0 ? " or [" + std::to_string(channels) + "]" : ""));
  }
  if (const Tensor* t = c.Const(i)) {
    const int64_t lo = quant_type == DType::kInt32 ? 0 : DTypeMin(quant_type);
    const int64_t hi = quant_type == DType::kInt32 ? 0 : DTypeMax(quant_type);
    for (int64_t k = 0; k < t->numel(); ++k) {
      const int64_t v = t->GetInt(k);
      if (v < lo || v > hi) {
        return c.Err(c.Field(i), "zero point " + std::to_string(v) + " is out of range [" +
                                     std::to_string(lo) + ", " + std::to_string(hi) + "] for " +
                                     std::string(DTypeName(quant_type)));
      }
    }
  }
  return Status::Ok();
}

StatusOr<Shape> Broadcast(const Ctx& c, const Shape& a, const Shape& b) {
  Shape out(std::max(a.size(), b.size()), 1);
  for (size_t i = 0; i < out.size(); ++i) {
    const int64_t da = i < out.size() - a.size() ? 1 : a[i - (out.size() - a.size())];
    const int64_t db = i < out.size() - b.size() ? 1 : b[i - (out.size() - b.size())];
    if (da != db && da != 1 && db != 1) {
      return c.Err("inputs", "shapes " + ShapeToString(a) + " and " + ShapeToString(b) +
                                 " cannot be broadcast");
    }
    out[i] = da == 1 ? db : da;
  }
  return out;
}

// numpy.matmul shape rule for ranks ≥ 1.
StatusOr<Shape> MatMulShape(const Ctx& c, Shape a, Shape b) {
  if (a.empty() || b.empty()) return c.Err("inputs", "matmul operands must have rank >= 1");
  const bool a_vec = a.size() == 1, b_vec = b.size() == 1;
  if (a_vec) a.insert(a.begin(), 1);
  if (b_vec) b.push_back(1);
  const int64_t k_a = a.back(), k_b = b[b.size() - 2];
  if (k_a != k_b) {
    return c.Err("inputs", "inner dimensions differ: A " + ShapeToString(a) + " and B " +
                               ShapeToString(b));
  }
  QFARM_ASSIGN_OR_RETURN(Shape batch, Broadcast(c, Shape(a.begin(), a.end() - 2),
                                                Shape(b.begin(), b.end() - 2)));
  if (!a_vec) batch.push_back(a[a.size() - 2]);
  if (!b_vec) batch.push_back(b.back());
  return batch;
}

std::vector<ValueInfo> One(const Ctx& c, DType t, Shape s) {
  return {ValueInfo{c.node.outputs[0], t, std::move(s)}};
}

StatusOr<int64_t> Axis(const Ctx& c, int64_t axis, size_t rank, bool inclusive_end = false) {
  const int64_t r = static_cast<int64_t>(rank) + (inclusive_end ? 1 : 0);
  const int64_t a = axis < 0 ? axis + r : axis;
  if (a < 0 || a >= r) {
    return c.Err("attribute 'axis'", "value " + std::to_string(axis) + " is out of range for rank " +
                                         std::to_string(rank));
  }
  return a;
}

// ---- Quantize / Dequantize ----------------------------------------------------------------------

StatusOr<std::vector<ValueInfo>> InferQuantizeLinear(const Ctx& c) {
  QFARM_RETURN_IF_ERROR(Arity(c, 2, 3, 1, 1));
  QFARM_RETURN_IF_ERROR(ExpectType(c, 0, {DType::kFloat32, DType::kFloat16}));
  const Shape& x = c.In(0).shape;
  const Shape& s = c.In(1).shape;
  int64_t channels = -1;
  if (!(s.empty() || (s.size() == 1 && s[0] == 1))) {
    QFARM_ASSIGN_OR_RETURN(int64_t axis, Axis(c, c.node.AttrInt("axis", 1), x.size()));
    channels = x[static_cast<size_t>(axis)];
  }
  QFARM_RETURN_IF_ERROR(CheckScale(c, 1, channels));
  const DType out = c.Has(2) ? c.In(2).dtype : DType::kUInt8;
  if (!IsQuantType(out)) {
    return c.Err(c.Field(2), "zero point type " + std::string(DTypeName(out)) +
                                 " is not a quantized type");
  }
  QFARM_RETURN_IF_ERROR(CheckZeroPoint(c, 2, out, channels));
  return One(c, out, x);
}

StatusOr<std::vector<ValueInfo>> InferDequantizeLinear(const Ctx& c) {
  QFARM_RETURN_IF_ERROR(Arity(c, 2, 3, 1, 1));
  const DType t = c.In(0).dtype;
  if (!IsQuantType(t) && t != DType::kInt32) {
    return c.Err(c.Field(0), "element type " + std::string(DTypeName(t)) + " cannot be dequantized");
  }
  const Shape& x = c.In(0).shape;
  const Shape& s = c.In(1).shape;
  int64_t channels = -1;
  if (!(s.empty() || (s.size() == 1 && s[0] == 1))) {
    QFARM_ASSIGN_OR_RETURN(int64_t axis, Axis(c, c.node.AttrInt("axis", 1), x.size()));
    channels = x[static_cast<size_t>(axis)];
  }
  QFARM_RETURN_IF_ERROR(CheckScale(c, 1, channels));
  if (c.In(1).dtype != DType::kFloat32) {
    return c.Err(c.Field(1), "scale must be float (a float16 scale would make a float16 output, "
                             "which qfarm does not produce)");
  }
  QFARM_RETURN_IF_ERROR(CheckZeroPoint(c, 2, t, channels));
  return One(c, DType::kFloat32, x);
}

StatusOr<std::vector<ValueInfo>> InferDynamicQuantizeLinear(const Ctx& c) {
  QFARM_RETURN_IF_ERROR(Arity(c, 1, 1, 3, 3));
  QFARM_RETURN_IF_ERROR(ExpectType(c, 0, {DType::kFloat32}));
  return std::vector<ValueInfo>{{c.node.outputs[0], DType::kUInt8, c.In(0).shape},
                                {c.node.outputs[1], DType::kFloat32, {}},
                                {c.node.outputs[2], DType::kUInt8, {}}};
}

// ---- MatMul family ------------------------------------------------------------------------------

StatusOr<std::vector<ValueInfo>> InferQLinearMatMul(const Ctx& c) {
  QFARM_RETURN_IF_ERROR(Arity(c, 8, 8, 1, 1));
  QFARM_RETURN_IF_ERROR(ExpectType(c, 0, {DType::kInt8, DType::kUInt8}));
  QFARM_RETURN_IF_ERROR(ExpectType(c, 3, {DType::kInt8, DType::kUInt8}));
  QFARM_ASSIGN_OR_RETURN(Shape out, MatMulShape(c, c.In(0).shape, c.In(3).shape));
  const int64_t n = c.In(3).shape.size() >= 2 ? c.In(3).shape.back() : -1;
  QFARM_RETURN_IF_ERROR(CheckScale(c, 1, -1));
  QFARM_RETURN_IF_ERROR(CheckZeroPoint(c, 2, c.In(0).dtype, -1));
  QFARM_RETURN_IF_ERROR(CheckScale(c, 4, n));
  QFARM_RETURN_IF_ERROR(CheckZeroPoint(c, 5, c.In(3).dtype, n));
  QFARM_RETURN_IF_ERROR(CheckScale(c, 6, -1));
  QFARM_RETURN_IF_ERROR(ExpectType(c, 7, {DType::kInt8, DType::kUInt8}));
  QFARM_RETURN_IF_ERROR(CheckZeroPoint(c, 7, c.In(7).dtype, -1));
  return One(c, c.In(7).dtype, out);
}

StatusOr<std::vector<ValueInfo>> InferMatMulInteger(const Ctx& c) {
  QFARM_RETURN_IF_ERROR(Arity(c, 2, 4, 1, 1));
  QFARM_RETURN_IF_ERROR(ExpectType(c, 0, {DType::kInt8, DType::kUInt8}));
  QFARM_RETURN_IF_ERROR(ExpectType(c, 1, {DType::kInt8, DType::kUInt8}));
  QFARM_ASSIGN_OR_RETURN(Shape out, MatMulShape(c, c.In(0).shape, c.In(1).shape));
  const Shape& a = c.In(0).shape;
  const int64_t m = a.size() >= 2 ? a[a.size() - 2] : -1;
  const int64_t n = c.In(1).shape.size() >= 2 ? c.In(1).shape.back() : -1;
  QFARM_RETURN_IF_ERROR(CheckZeroPoint(c, 2, c.In(0).dtype, m));
  QFARM_RETURN_IF_ERROR(CheckZeroPoint(c, 3, c.In(1).dtype, n));
  return One(c, DType::kInt32, out);
}

// ---- Convolution --------------------------------------------------------------------------------

// ResolveConvGeometry's errors name an attribute, or else concern the input's spatial size.
Status GeometryError(const Ctx& c, const Status& s) {
  const std::string& m = s.message();
  if (m.rfind("attribute '", 0) == 0 || m.rfind("input 0:", 0) == 0) {
    return s.WithContext("node '" + c.node.name + "' (" + c.node.op_type + ")");
  }
  return c.Err(c.Field(0), m);
}

// Shared shape logic of QLinearConv / ConvInteger / Conv: x at xi, w at wi.
StatusOr<Shape> ConvShape(const Ctx& c, size_t xi, size_t wi) {
  const Shape& x = c.In(xi).shape;
  const Shape& w = c.In(wi).shape;
  if (x.size() != 3 && x.size() != 4) {
    return c.Err(c.Field(xi), "expected [N,C,W] or [N,C,H,W], got " + ShapeToString(x));
  }
  if (w.size() != x.size()) {
    return c.Err(c.Field(wi), "weight rank " + std::to_string(w.size()) +
                                  " differs from the input's " + std::to_string(x.size()));
  }
  const int64_t group = c.node.AttrInt("group", 1);
  if (group <= 0 || x[1] % group != 0 || w[0] % group != 0) {
    return c.Err("attribute 'group'", "group " + std::to_string(group) +
                                          " must be positive and divide input channels " +
                                          std::to_string(x[1]) + " and output channels " +
                                          std::to_string(w[0]));
  }
  if (w[1] * group != x[1]) {
    return c.Err(c.Field(wi), "weight " + ShapeToString(w) + " expects " +
                                  std::to_string(w[1] * group) + " input channels, input has " +
                                  std::to_string(x[1]));
  }
  std::vector<int64_t> kernel(w.begin() + 2, w.end());
  if (c.node.HasAttr("kernel_shape") && c.node.AttrInts("kernel_shape") != kernel) {
    return c.Err("attribute 'kernel_shape'", "does not match the weight shape " + ShapeToString(w));
  }
  auto g = ResolveConvGeometry(c.node, x, kernel, /*allow_ceil_mode=*/false);
  if (!g.ok()) return GeometryError(c, g.status());
  Shape out = {x[0], w[0]};
  if (x.size() == 4) out.push_back(g->out[0]);
  out.push_back(g->out[1]);
  return out;
}

StatusOr<std::vector<ValueInfo>> InferQLinearConv(const Ctx& c) {
  QFARM_RETURN_IF_ERROR(Arity(c, 8, 9, 1, 1));
  QFARM_RETURN_IF_ERROR(ExpectType(c, 0, {DType::kInt8, DType::kUInt8}));
  QFARM_RETURN_IF_ERROR(ExpectType(c, 3, {DType::kInt8, DType::kUInt8}));
  QFARM_ASSIGN_OR_RETURN(Shape out, ConvShape(c, 0, 3));
  const int64_t m = c.In(3).shape[0];
  QFARM_RETURN_IF_ERROR(CheckScale(c, 1, -1));
  QFARM_RETURN_IF_ERROR(CheckZeroPoint(c, 2, c.In(0).dtype, -1));
  QFARM_RETURN_IF_ERROR(CheckScale(c, 4, m));
  QFARM_RETURN_IF_ERROR(CheckZeroPoint(c, 5, c.In(3).dtype, m));
  QFARM_RETURN_IF_ERROR(CheckScale(c, 6, -1));
  QFARM_RETURN_IF_ERROR(ExpectType(c, 7, {DType::kInt8, DType::kUInt8}));
  QFARM_RETURN_IF_ERROR(CheckZeroPoint(c, 7, c.In(7).dtype, -1));
  if (c.Has(8)) {
    if (c.In(8).dtype != DType::kInt32) {
      return c.Err(c.Field(8), "bias must be int32, got " + std::string(DTypeName(c.In(8).dtype)));
    }
    if (c.In(8).shape != Shape{m}) {
      return c.Err(c.Field(8), "bias shape " + ShapeToString(c.In(8).shape) + " must be [" +
                                   std::to_string(m) + "] (one per output channel)");
    }
  }
  return One(c, c.In(7).dtype, out);
}

StatusOr<std::vector<ValueInfo>> InferConvInteger(const Ctx& c) {
  QFARM_RETURN_IF_ERROR(Arity(c, 2, 4, 1, 1));
  QFARM_RETURN_IF_ERROR(ExpectType(c, 0, {DType::kInt8, DType::kUInt8}));
  QFARM_RETURN_IF_ERROR(ExpectType(c, 1, {DType::kInt8, DType::kUInt8}));
  QFARM_ASSIGN_OR_RETURN(Shape out, ConvShape(c, 0, 1));
  QFARM_RETURN_IF_ERROR(CheckZeroPoint(c, 2, c.In(0).dtype, -1));
  QFARM_RETURN_IF_ERROR(CheckZeroPoint(c, 3, c.In(1).dtype, c.In(1).shape[0]));
  return One(c, DType::kInt32, out);
}

StatusOr<std::vector<ValueInfo>> InferConvFloat(const Ctx& c) {
  QFARM_RETURN_IF_ERROR(Arity(c, 2, 3, 1, 1));
  QFARM_RETURN_IF_ERROR(ExpectType(c, 0, {DType::kFloat32}));
  QFARM_RETURN_IF_ERROR(ExpectType(c, 1, {DType::kFloat32}));
  QFARM_ASSIGN_OR_RETURN(Shape out, ConvShape(c, 0, 1));
  if (c.Has(2) && (c.In(2).dtype != DType::kFloat32 || c.In(2).shape != Shape{out[1]})) {
    return c.Err(c.Field(2), "bias must be float [" + std::to_string(out[1]) + "]");
  }
  return One(c, DType::kFloat32, out);
}

// ---- Elementwise and pooling -------------------------------------------------------------------

StatusOr<std::vector<ValueInfo>> InferQLinearBinary(const Ctx& c) {
  QFARM_RETURN_IF_ERROR(Arity(c, 7, 8, 1, 1, {2, 5}));
  QFARM_RETURN_IF_ERROR(ExpectType(c, 0, {DType::kInt8, DType::kUInt8}));
  QFARM_RETURN_IF_ERROR(ExpectType(c, 3, {c.In(0).dtype}));
  QFARM_RETURN_IF_ERROR(CheckScale(c, 1, -1));
  QFARM_RETURN_IF_ERROR(CheckZeroPoint(c, 2, c.In(0).dtype, -1));
  QFARM_RETURN_IF_ERROR(CheckScale(c, 4, -1));
  QFARM_RETURN_IF_ERROR(CheckZeroPoint(c, 5, c.In(3).dtype, -1));
  QFARM_RETURN_IF_ERROR(CheckScale(c, 6, -1));
  QFARM_RETURN_IF_ERROR(CheckZeroPoint(c, 7, c.In(0).dtype, -1));
  QFARM_ASSIGN_OR_RETURN(Shape out, Broadcast(c, c.In(0).shape, c.In(3).shape));
  return One(c, c.In(0).dtype, out);
}

// QLinearSigmoid / QLinearLeakyRelu: X, X_scale, X_zp, Y_scale, Y_zp.
StatusOr<std::vector<ValueInfo>> InferQLinearUnary(const Ctx& c) {
  QFARM_RETURN_IF_ERROR(Arity(c, 4, 5, 1, 1, {2}));
  QFARM_RETURN_IF_ERROR(ExpectType(c, 0, {DType::kInt8, DType::kUInt8}));
  QFARM_RETURN_IF_ERROR(CheckScale(c, 1, -1));
  QFARM_RETURN_IF_ERROR(CheckZeroPoint(c, 2, c.In(0).dtype, -1));
  QFARM_RETURN_IF_ERROR(CheckScale(c, 3, -1));
  QFARM_RETURN_IF_ERROR(CheckZeroPoint(c, 4, c.In(0).dtype, -1));
  return One(c, c.In(0).dtype, c.In(0).shape);
}

StatusOr<Shape> PoolShape(const Ctx& c, const Shape& x) {
  std::vector<int64_t> kernel = c.node.AttrInts("kernel_shape");
  if (kernel.empty()) return c.Err("attribute 'kernel_shape'", "is required");
  for (int64_t k : kernel) {
    if (k <= 0 || k > (int64_t{1} << 20)) {
      return c.Err("attribute 'kernel_shape'", "value " + std::to_string(k) +
                                                   " must be in [1, 2^20]");
    }
  }
  auto g = ResolveConvGeometry(c.node, x, kernel, /*allow_ceil_mode=*/true);
  if (!g.ok()) return GeometryError(c, g.status());
  Shape out = {x[0], x[1]};
  if (x.size() == 4) out.push_back(g->out[0]);
  out.push_back(g->out[1]);
  return out;
}

StatusOr<std::vector<ValueInfo>> InferQLinearAveragePool(const Ctx& c) {
  QFARM_RETURN_IF_ERROR(Arity(c, 4, 5, 1, 1, {2}));
  QFARM_RETURN_IF_ERROR(ExpectType(c, 0, {DType::kInt8, DType::kUInt8}));
  QFARM_RETURN_IF_ERROR(CheckScale(c, 1, -1));
  QFARM_RETURN_IF_ERROR(CheckZeroPoint(c, 2, c.In(0).dtype, -1));
  QFARM_RETURN_IF_ERROR(CheckScale(c, 3, -1));
  QFARM_RETURN_IF_ERROR(CheckZeroPoint(c, 4, c.In(0).dtype, -1));
  if (c.node.AttrInt("channels_last", 0) != 0) {
    return c.Err("attribute 'channels_last'", "only NCHW (0) is supported");
  }
  QFARM_ASSIGN_OR_RETURN(Shape out, PoolShape(c, c.In(0).shape));
  return One(c, c.In(0).dtype, out);
}

StatusOr<std::vector<ValueInfo>> InferQLinearGlobalAveragePool(const Ctx& c) {
  QFARM_RETURN_IF_ERROR(Arity(c, 4, 5, 1, 1));
  QFARM_RETURN_IF_ERROR(ExpectType(c, 0, {DType::kInt8, DType::kUInt8}));
  QFARM_RETURN_IF_ERROR(CheckScale(c, 1, -1));
  QFARM_RETURN_IF_ERROR(CheckZeroPoint(c, 2, c.In(0).dtype, -1));
  QFARM_RETURN_IF_ERROR(CheckScale(c, 3, -1));
  QFARM_RETURN_IF_ERROR(CheckZeroPoint(c, 4, c.In(0).dtype, -1));
  const Shape& x = c.In(0).shape;
  if (x.size() < 3) return c.Err(c.Field(0), "expected rank >= 3, got " + ShapeToString(x));
  const int64_t channels_last = c.node.AttrInt("channels_last", 0);
  Shape out(x.size(), 1);
  out[0] = x[0];
  if (channels_last) out.back() = x.back(); else out[1] = x[1];
  return One(c, c.In(0).dtype, out);
}

StatusOr<std::vector<ValueInfo>> InferMaxPool(const Ctx& c) {
  QFARM_RETURN_IF_ERROR(Arity(c, 1, 1, 1, 1));
  QFARM_RETURN_IF_ERROR(ExpectType(c, 0, {DType::kInt8, DType::kUInt8, DType::kFloat32}));
  if (c.node.AttrInt("storage_order", 0) != 0) {
    return c.Err("attribute 'storage_order'", "only 0 is supported");
  }
  QFARM_ASSIGN_OR_RETURN(Shape out, PoolShape(c, c.In(0).shape));
  return One(c, c.In(0).dtype, out);
}

StatusOr<std::vector<ValueInfo>> InferAveragePool(const Ctx& c) {
  QFARM_RETURN_IF_ERROR(Arity(c, 1, 1, 1, 1));
  QFARM_RETURN_IF_ERROR(ExpectType(c, 0, {DType::kFloat32}));
  QFARM_ASSIGN_OR_RETURN(Shape out, PoolShape(c, c.In(0).shape));
  return One(c, DType::kFloat32, out);
}

const std::vector<DType> kNumeric = {DType::kInt8, DType::kUInt8, DType::kInt16, DType::kUInt16,
                                     DType::kInt32, DType::kInt64, DType::kFloat32,
                                     DType::kFloat16, DType::kFloat64};

StatusOr<std::vector<ValueInfo>> InferRelu(const Ctx& c) {
  QFARM_RETURN_IF_ERROR(Arity(c, 1, 1, 1, 1));
  QFARM_RETURN_IF_ERROR(ExpectType(c, 0, kNumeric));
  return One(c, c.In(0).dtype, c.In(0).shape);
}

StatusOr<std::vector<ValueInfo>> InferClip(const Ctx& c) {
  QFARM_RETURN_IF_ERROR(Arity(c, 1, 3, 1, 1));
  QFARM_RETURN_IF_ERROR(ExpectType(c, 0, kNumeric));
  for (size_t i = 1; i < 3; ++i) {
    if (!c.Has(i)) continue;
    if (c.In(i).dtype != c.In(0).dtype || NumElements(c.In(i).shape) != 1) {
      return c.Err(c.Field(i), "must be a scalar of the input's type " +
                                   std::string(DTypeName(c.In(0).dtype)));
    }
  }
  return One(c, c.In(0).dtype, c.In(0).shape);
}

StatusOr<std::vector<ValueInfo>> InferFloatUnary(const Ctx& c) {
  QFARM_RETURN_IF_ERROR(Arity(c, 1, 1, 1, 1));
  QFARM_RETURN_IF_ERROR(ExpectType(c, 0, {DType::kFloat32}));
  return One(c, DType::kFloat32, c.In(0).shape);
}

StatusOr<std::vector<ValueInfo>> InferFloatBinary(const Ctx& c) {
  QFARM_RETURN_IF_ERROR(Arity(c, 2, 2, 1, 1));
  QFARM_RETURN_IF_ERROR(ExpectType(c, 0, {DType::kFloat32}));
  QFARM_RETURN_IF_ERROR(ExpectType(c, 1, {DType::kFloat32}));
  QFARM_ASSIGN_OR_RETURN(Shape out, Broadcast(c, c.In(0).shape, c.In(1).shape));
  return One(c, DType::kFloat32, out);
}

StatusOr<std::vector<ValueInfo>> InferMatMulFloat(const Ctx& c) {
  QFARM_RETURN_IF_ERROR(Arity(c, 2, 2, 1, 1));
  QFARM_RETURN_IF_ERROR(ExpectType(c, 0, {DType::kFloat32}));
  QFARM_RETURN_IF_ERROR(ExpectType(c, 1, {DType::kFloat32}));
  QFARM_ASSIGN_OR_RETURN(Shape out, MatMulShape(c, c.In(0).shape, c.In(1).shape));
  return One(c, DType::kFloat32, out);
}

StatusOr<std::vector<ValueInfo>> InferGemm(const Ctx& c) {
  QFARM_RETURN_IF_ERROR(Arity(c, 2, 3, 1, 1));
  QFARM_RETURN_IF_ERROR(ExpectType(c, 0, {DType::kFloat32}));
  QFARM_RETURN_IF_ERROR(ExpectType(c, 1, {DType::kFloat32}));
  const Shape& a = c.In(0).shape;
  const Shape& b = c.In(1).shape;
  if (a.size() != 2 || b.size() != 2) return c.Err("inputs", "A and B must be 2-D");
  const bool ta = c.node.AttrInt("transA", 0) != 0, tb = c.node.AttrInt("transB", 0) != 0;
  const int64_t m = ta ? a[1] : a[0], k = ta ? a[0] : a[1];
  const int64_t kb = tb ? b[1] : b[0], n = tb ? b[0] : b[1];
  if (k != kb) return c.Err("inputs", "inner dimensions differ: " + ShapeToString(a) + " and " +
                                          ShapeToString(b));
  if (c.Has(2)) {
    QFARM_RETURN_IF_ERROR(ExpectType(c, 2, {DType::kFloat32}));
    QFARM_ASSIGN_OR_RETURN(Shape bc, Broadcast(c, c.In(2).shape, {m, n}));
    if (bc != Shape{m, n}) return c.Err(c.Field(2), "C does not broadcast to [M,N]");
  }
  return One(c, DType::kFloat32, {m, n});
}

}  // namespace

// Defined in op_infer_shape.cc (shape-manipulating ops).
StatusOr<std::vector<ValueInfo>> InferShapeOp(const Node& node, const std::vector<ValueInfo>& in,
                                              const std::vector<const Tensor*>& consts);
bool IsShapeOp(const std::string& op_type);

namespace {

const std::map<std::pair<std::string, std::string>, InferFn>& Table() {
  static const std::map<std::pair<std::string, std::string>, InferFn> table = {
      {{"", "QuantizeLinear"}, InferQuantizeLinear},
      {{"", "DequantizeLinear"}, InferDequantizeLinear},
      {{"", "DynamicQuantizeLinear"}, InferDynamicQuantizeLinear},
      {{"", "QLinearMatMul"}, InferQLinearMatMul},
      {{"", "MatMulInteger"}, InferMatMulInteger},
      {{"", "QLinearConv"}, InferQLinearConv},
      {{"", "ConvInteger"}, InferConvInteger},
      {{"com.microsoft", "QLinearAdd"}, InferQLinearBinary},
      {{"com.microsoft", "QLinearMul"}, InferQLinearBinary},
      {{"com.microsoft", "QLinearAveragePool"}, InferQLinearAveragePool},
      {{"com.microsoft", "QLinearGlobalAveragePool"}, InferQLinearGlobalAveragePool},
      {{"com.microsoft", "QLinearSigmoid"}, InferQLinearUnary},
      {{"com.microsoft", "QLinearLeakyRelu"}, InferQLinearUnary},
      {{"", "MaxPool"}, InferMaxPool},
      {{"", "Relu"}, InferRelu},
      {{"", "Clip"}, InferClip},
      {{"", "Conv"}, InferConvFloat},
      {{"", "MatMul"}, InferMatMulFloat},
      {{"", "Gemm"}, InferGemm},
      {{"", "Add"}, InferFloatBinary},
      {{"", "Mul"}, InferFloatBinary},
      {{"", "AveragePool"}, InferAveragePool},
      {{"", "Sigmoid"}, InferFloatUnary},
  };
  return table;
}

std::string CanonicalDomain(const std::string& d) { return d == "ai.onnx" ? "" : d; }

}  // namespace

bool IsSupportedOp(const std::string& domain, const std::string& op_type) {
  const std::string d = CanonicalDomain(domain);
  return Table().count({d, op_type}) != 0 || (d.empty() && IsShapeOp(op_type));
}

StatusOr<std::vector<ValueInfo>> InferNode(const Node& node, const std::vector<ValueInfo>& inputs,
                                           const TensorMap& constants) {
  std::vector<const Tensor*> by_input(node.inputs.size(), nullptr);
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    if (const auto it = constants.find(node.inputs[i]); it != constants.end()) by_input[i] = &it->second;
  }
  return InferNode(node, inputs, by_input);
}

StatusOr<std::vector<ValueInfo>> InferNode(const Node& node, const std::vector<ValueInfo>& inputs,
                                           const std::vector<const Tensor*>& constants) {
  if (inputs.size() != node.inputs.size()) {
    return Internal("node '" + node.name + "' (" + node.op_type + "): inputs: " +
                    std::to_string(inputs.size()) + " infos given for " +
                    std::to_string(node.inputs.size()) + " inputs");
  }
  const std::string d = CanonicalDomain(node.domain);
  if (d.empty() && IsShapeOp(node.op_type)) {
    QFARM_RETURN_IF_ERROR(infer::CheckAttributes(Ctx{node, inputs, constants}));
    return InferShapeOp(node, inputs, constants);
  }
  auto it = Table().find({d, node.op_type});
  if (it == Table().end()) {
    return InvalidArgument("node '" + node.name + "' (" + node.op_type + "): unknown op '" +
                           (d.empty() ? "ai.onnx" : d) + "::" + node.op_type +
                           "' (qfarm supports the ops listed in model/ops.md)");
  }
  Ctx c{node, inputs, constants};
  QFARM_RETURN_IF_ERROR(infer::CheckAttributes(c));
  return it->second(c);
}

}  // namespace qfarm
