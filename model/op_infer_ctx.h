// What a per-op inference function sees of its node (internal to model/op_infer*.cc): the
// node, its inputs' types and shapes, the constant values among them, and the one-line error
// form "node '<name>' (<op>): <field>: <what>".
#pragma once

#include <string>
#include <vector>

#include "model/graph.h"

namespace qfarm::infer {

struct Ctx {
  const Node& node;
  const std::vector<ValueInfo>& in;
  const std::vector<const Tensor*>& consts;  // by input position; nullptr where not constant

  Status Err(const std::string& field, const std::string& what) const {
    return InvalidArgument("node '" + node.name + "' (" + node.op_type + "): " + field + ": " + what);
  }
  bool Has(size_t i) const { return i < in.size() && node.HasInput(i); }
  const ValueInfo& In(size_t i) const { return in[i]; }
  std::string Field(size_t i) const {
    return "input " + std::to_string(i) + " '" + (i < node.inputs.size() ? node.inputs[i] : "") + "'";
  }
  const Tensor* Const(size_t i) const { return Has(i) && i < consts.size() ? consts[i] : nullptr; }
  // Inputs given, not counting trailing omitted ones.
  size_t NumInputs() const {
    size_t n = node.inputs.size();
    while (n > 0 && node.inputs[n - 1].empty()) --n;
    return n;
  }
};

}  // namespace qfarm::infer

namespace qfarm::infer {

// Kinds of the attributes qfarm reads (an INTS `strides`, a STRING `auto_pad`, ...) and the
// 0/1 flags (ceil_mode, transA, ...): a hostile model that gives `strides` as a float or
// `ceil_mode` = 7 is rejected here, before any per-op logic reads a defaulted field.
// Attributes qfarm does not read are ignored. Defined in op_attrs.cc.
Status CheckAttributes(const Ctx& c);

}  // namespace qfarm::infer
