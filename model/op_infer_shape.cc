// Inference for the shape-manipulating ops (Reshape, Flatten, Transpose, Concat, Squeeze,
// Unsqueeze, Identity, Split, Cast): any element type, no arithmetic.
#include <algorithm>
#include <set>

#include "model/op_infer_ctx.h"
#include "model/validate.h"

namespace qfarm {
namespace {

using ShapeCtx = infer::Ctx;

Status Count(const ShapeCtx& c, size_t min_in, size_t max_in, size_t min_out, size_t max_out) {
  const size_t n = c.NumInputs();
  if (n < min_in || n > max_in) {
    return c.Err("inputs", "has " + std::to_string(n) + " inputs, expected " +
                               std::to_string(min_in) +
                               (min_in == max_in ? "" : ".." + std::to_string(max_in)));
  }
  const size_t o = c.node.outputs.size();
  if (o < min_out || o > max_out) {
    return c.Err("outputs", "has " + std::to_string(o) + " outputs, expected " +
                                std::to_string(min_out) +
                                (min_out == max_out ? "" : ".." + std::to_string(max_out)));
  }
  return Status::Ok();
}

StatusOr<int64_t> NormAxis(const ShapeCtx& c, const std::string& field, int64_t axis, int64_t rank) {
  const int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) {
    return c.Err(field, "axis " + std::to_string(axis) + " is out of range for rank " +
                            std::to_string(rank));
  }
  return a;
}

// Reads a 1-D int64 constant input, or the INTS attribute for older opsets.
StatusOr<std::vector<int64_t>> IntsFromInputOrAttr(const ShapeCtx& c, size_t input,
                                                   const std::string& attr, bool* present) {
  *present = false;
  if (c.node.HasAttr(attr)) {
    *present = true;
    return c.node.AttrInts(attr);
  }
  if (input < c.node.inputs.size() && !c.node.inputs[input].empty()) {
    const Tensor* t = c.Const(input);
    if (!t) return c.Err("input " + std::to_string(input), "'" + attr + "' must be a constant");
    if (t->dtype() != DType::kInt64) return c.Err("input " + std::to_string(input), "must be int64");
    *present = true;
    std::vector<int64_t> v(static_cast<size_t>(t->numel()));
    for (int64_t i = 0; i < t->numel(); ++i) v[static_cast<size_t>(i)] = t->GetInt(i);
    return v;
  }
  return std::vector<int64_t>{};
}

bool IsCastType(DType t) {
  return t == DType::kInt8 || t == DType::kUInt8 || t == DType::kInt32 || t == DType::kInt64 ||
         t == DType::kFloat32;
}

std::vector<ValueInfo> Out(const ShapeCtx& c, DType t, Shape s) {
  return {ValueInfo{c.node.outputs[0], t, std::move(s)}};
}

StatusOr<std::vector<ValueInfo>> Reshape(const ShapeCtx& c) {
  QFARM_RETURN_IF_ERROR(Count(c, 2, 2, 1, 1));
  const Tensor* t = c.Const(1);
  if (!t || t->dtype() != DType::kInt64 || t->rank() != 1) {
    return c.Err("input 1 'shape'", "must be a constant 1-D int64 tensor");
  }
  const Shape& in = c.in[0].shape;
  const bool allowzero = c.node.AttrInt("allowzero", 0) != 0;
  if (t->numel() > 64) return c.Err("input 1 'shape'", "has more than 64 dims");
  bool has_zero = false, has_minus_one = false;
  for (int64_t i = 0; i < t->numel(); ++i) {
    has_zero = has_zero || t->GetInt(i) == 0;
    has_minus_one = has_minus_one || t->GetInt(i) == -1;
  }
  if (allowzero && has_zero && has_minus_one) {
    return c.Err("input 1 'shape'", "with allowzero=1, 0 and -1 cannot both appear");
  }
  Shape out(static_cast<size_t>(t->numel()));
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < out.size(); ++i) {
    int64_t d = t->GetInt(static_cast<int64_t>(i));
    if (d == 0 && !allowzero) {
      if (i >= in.size()) return c.Err("input 1 'shape'", "0 at index " + std::to_string(i) +
                                                              " has no input dim to copy");
      d = in[i];
    }
    if (d == -1) {
      if (infer >= 0) return c.Err("input 1 'shape'", "more than one -1");
      infer = static_cast<int>(i);
      continue;
    }
    if (d < 0) return c.Err("input 1 'shape'", "negative dim " + std::to_string(d));
    out[i] = d;
    known = NumElements({known, d});
  }
  const int64_t total = NumElements(in);
  if (infer >= 0) {
    if (known == 0 || total % known != 0) {
      return c.Err("input 1 'shape'", "cannot infer -1 reshaping " + ShapeToString(in));
    }
    out[static_cast<size_t>(infer)] = total / known;
  }
  if (NumElements(out) != total) {
    return c.Err("input 1 'shape'", "cannot reshape " + ShapeToString(in) + " to " +
                                        ShapeToString(out));
  }
  return Out(c, c.in[0].dtype, out);
}

StatusOr<std::vector<ValueInfo>> Flatten(const ShapeCtx& c) {
  QFARM_RETURN_IF_ERROR(Count(c, 1, 1, 1, 1));
  const Shape& in = c.in[0].shape;
  const int64_t rank = static_cast<int64_t>(in.size());
  int64_t axis = c.node.AttrInt("axis", 1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis > rank) return c.Err("attribute 'axis'", "out of range for rank " +
                                                                    std::to_string(rank));
  const int64_t outer = NumElements(Shape(in.begin(), in.begin() + axis));
  const int64_t inner = NumElements(Shape(in.begin() + axis, in.end()));
  return Out(c, c.in[0].dtype, {outer, inner});
}

StatusOr<std::vector<ValueInfo>> Transpose(const ShapeCtx& c) {
  QFARM_RETURN_IF_ERROR(Count(c, 1, 1, 1, 1));
  const Shape& in = c.in[0].shape;
  std::vector<int64_t> perm = c.node.AttrInts("perm");
  if (perm.empty()) {
    for (size_t i = in.size(); i > 0; --i) perm.push_back(static_cast<int64_t>(i - 1));
  }
  std::vector<int64_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (sorted[i] != static_cast<int64_t>(i) || perm.size() != in.size()) {
      return c.Err("attribute 'perm'", "is not a permutation of the input's " +
                                           std::to_string(in.size()) + " axes");
    }
  }
  Shape out;
  for (int64_t p : perm) out.push_back(in[static_cast<size_t>(p)]);
  return Out(c, c.in[0].dtype, out);
}

StatusOr<std::vector<ValueInfo>> Concat(const ShapeCtx& c) {
  if (c.NumInputs() < 1 || c.node.outputs.size() != 1) return c.Err("inputs", "needs >= 1 input and 1 output");
  for (size_t i = 0; i < c.node.inputs.size(); ++i) {
    if (c.node.inputs[i].empty()) return c.Err("input " + std::to_string(i), "is empty");
  }
  if (!c.node.HasAttr("axis")) return c.Err("attribute 'axis'", "is required");
  const Shape& first = c.in[0].shape;
  QFARM_ASSIGN_OR_RETURN(int64_t axis, NormAxis(c, "attribute 'axis'", c.node.AttrInt("axis", 0),
                                                static_cast<int64_t>(first.size())));
  Shape out = first;
  for (size_t i = 1; i < c.in.size(); ++i) {
    const Shape& s = c.in[i].shape;
    if (c.in[i].dtype != c.in[0].dtype) return c.Err("input " + std::to_string(i), "element type differs from input 0");
    bool ok = s.size() == first.size();
    for (size_t d = 0; ok && d < s.size(); ++d) ok = d == static_cast<size_t>(axis) || s[d] == first[d];
    if (!ok) return c.Err("input " + std::to_string(i), "shape " + ShapeToString(s) +
                                                            " does not match " + ShapeToString(first));
    out[static_cast<size_t>(axis)] += s[static_cast<size_t>(axis)];
  }
  return Out(c, c.in[0].dtype, out);
}

StatusOr<std::vector<ValueInfo>> Squeeze(const ShapeCtx& c) {
  QFARM_RETURN_IF_ERROR(Count(c, 1, 2, 1, 1));
  bool present = false;
  QFARM_ASSIGN_OR_RETURN(auto axes, IntsFromInputOrAttr(c, 1, "axes", &present));
  const Shape& in = c.in[0].shape;
  std::set<int64_t> drop;
  for (int64_t a : axes) {
    QFARM_ASSIGN_OR_RETURN(int64_t n, NormAxis(c, "axes", a, static_cast<int64_t>(in.size())));
    if (in[static_cast<size_t>(n)] != 1) return c.Err("axes", "dim " + std::to_string(a) + " is not 1");
    drop.insert(n);
  }
  Shape out;
  for (size_t i = 0; i < in.size(); ++i) {
    const bool squeeze = present ? drop.count(static_cast<int64_t>(i)) != 0 : in[i] == 1;
    if (!squeeze) out.push_back(in[i]);
  }
  return Out(c, c.in[0].dtype, out);
}

StatusOr<std::vector<ValueInfo>> Unsqueeze(const ShapeCtx& c) {
  QFARM_RETURN_IF_ERROR(Count(c, 1, 2, 1, 1));
  bool present = false;
  QFARM_ASSIGN_OR_RETURN(auto axes, IntsFromInputOrAttr(c, 1, "axes", &present));
  if (!present || axes.empty()) return c.Err("axes", "are required");
  const int64_t out_rank = static_cast<int64_t>(c.in[0].shape.size() + axes.size());
  std::set<int64_t> ins;
  for (int64_t a : axes) {
    QFARM_ASSIGN_OR_RETURN(int64_t n, NormAxis(c, "axes", a, out_rank));
    if (!ins.insert(n).second) return c.Err("axes", "repeated axis " + std::to_string(a));
  }
  Shape out;
  size_t j = 0;
  for (int64_t i = 0; i < out_rank; ++i) out.push_back(ins.count(i) ? 1 : c.in[0].shape[j++]);
  return Out(c, c.in[0].dtype, out);
}

StatusOr<std::vector<ValueInfo>> Identity(const ShapeCtx& c) {
  QFARM_RETURN_IF_ERROR(Count(c, 1, 1, 1, 1));
  return Out(c, c.in[0].dtype, c.in[0].shape);
}

StatusOr<std::vector<ValueInfo>> Split(const ShapeCtx& c) {
  QFARM_RETURN_IF_ERROR(Count(c, 1, 2, 1, 1024));
  const Shape& in = c.in[0].shape;
  QFARM_ASSIGN_OR_RETURN(int64_t axis, NormAxis(c, "attribute 'axis'", c.node.AttrInt("axis", 0),
                                                static_cast<int64_t>(in.size())));
  bool present = false;
  QFARM_ASSIGN_OR_RETURN(auto split, IntsFromInputOrAttr(c, 1, "split", &present));
  const int64_t n = static_cast<int64_t>(c.node.outputs.size());
  const int64_t dim = in[static_cast<size_t>(axis)];
  const bool by_count = c.node.HasAttr("num_outputs");  // opset 18: the last chunk may be smaller
  if (by_count && c.node.AttrInt("num_outputs", 0) != n) {
    return c.Err("attribute 'num_outputs'", "is " + std::to_string(c.node.AttrInt("num_outputs", 0)) +
                                               " but the node has " + std::to_string(n) + " outputs");
  }
  if (by_count && present) return c.Err("attribute 'num_outputs'", "cannot be given with 'split'");
  if (!present && by_count) {
    const int64_t chunk = (dim + n - 1) / n;
    if (dim - chunk * (n - 1) < 0) {
      return c.Err("attribute 'num_outputs'", "dim " + std::to_string(dim) + " cannot be split into " +
                                                  std::to_string(n) + " chunks of ceil(dim / n)");
    }
    split.assign(static_cast<size_t>(n), chunk);
    split.back() = dim - chunk * (n - 1);
  } else if (!present) {
    if (dim % n != 0) return c.Err("outputs", "dim " + std::to_string(dim) +
                                                  " does not split evenly into " + std::to_string(n));
    split.assign(static_cast<size_t>(n), dim / n);
  }
  int64_t total = 0;
  for (int64_t s : split) {
    if (s < 0 || s > dim) return c.Err("split", "size " + std::to_string(s) + " is outside [0, " +
                                                    std::to_string(dim) + "]");
    total += s;
  }
  if (static_cast<int64_t>(split.size()) != n || total != dim) {
    return c.Err("split", "sizes do not match " + std::to_string(n) + " outputs summing to " +
                              std::to_string(dim));
  }
  std::vector<ValueInfo> outs;
  for (int64_t i = 0; i < n; ++i) {
    Shape s = in;
    s[static_cast<size_t>(axis)] = split[static_cast<size_t>(i)];
    outs.push_back({c.node.outputs[static_cast<size_t>(i)], c.in[0].dtype, s});
  }
  return outs;
}

StatusOr<std::vector<ValueInfo>> Cast(const ShapeCtx& c) {
  QFARM_RETURN_IF_ERROR(Count(c, 1, 1, 1, 1));
  if (!c.node.HasAttr("to")) return c.Err("attribute 'to'", "is required");
  const int64_t to = c.node.AttrInt("to", 0);
  if (!IsCastType(static_cast<DType>(to)) || to != static_cast<int32_t>(to)) {
    return c.Err("attribute 'to'", "type " + std::to_string(to) +
                                       " is not one of int8, uint8, int32, int64, float");
  }
  if (!IsCastType(c.in[0].dtype)) {
    return c.Err("input 0 '" + c.node.inputs[0] + "'", "Cast from " +
                     std::string(DTypeName(c.in[0].dtype)) + " is not supported (int8, uint8, "
                     "int32, int64, float)");
  }
  return Out(c, static_cast<DType>(to), c.in[0].shape);
}

}  // namespace

bool IsShapeOp(const std::string& op) {
  static const std::set<std::string> ops = {"Reshape", "Flatten", "Transpose", "Concat", "Squeeze",
                                            "Unsqueeze", "Identity", "Split", "Cast"};
  return ops.count(op) != 0;
}

StatusOr<std::vector<ValueInfo>> InferShapeOp(const Node& node, const std::vector<ValueInfo>& in,
                                              const std::vector<const Tensor*>& consts) {
  ShapeCtx c{node, in, consts};
  if (in.empty()) return c.Err("inputs", "has no inputs");
  const std::string& op = node.op_type;
  if (op == "Reshape") return Reshape(c);
  if (op == "Flatten") return Flatten(c);
  if (op == "Transpose") return Transpose(c);
  if (op == "Concat") return Concat(c);
  if (op == "Squeeze") return Squeeze(c);
  if (op == "Unsqueeze") return Unsqueeze(c);
  if (op == "Split") return Split(c);
  if (op == "Cast") return Cast(c);
  return Identity(c);
}

}  // namespace qfarm
