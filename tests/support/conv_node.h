// One QLinearConv or ConvInteger node with its input list, as the kernel testers build them.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "model/graph.h"
#include "model/tensor.h"

namespace qfarm::kernels {

struct ConvAttrs {
  int64_t group = 1;
  std::array<int64_t, 2> strides{1, 1};
  int64_t dilation = 1;
  std::array<int64_t, 4> pads{0, 0, 0, 0};  // top, left, bottom, right
};

// ConvInteger reads x, w, zx, zw; QLinearConv all but bias, and bias when it is not null.
struct ConvOperands {
  const Tensor *x, *sx, *zx, *w, *sw, *zw, *sy, *zy, *bias;
};

// The node (output "y") and, in *in, its inputs in the node's order.
inline Node MakeConvNode(bool integer, const ConvAttrs& a, const ConvOperands& o, std::vector<const Tensor*>* in) {
  Node n;
  n.name = "conv";
  n.op_type = integer ? "ConvInteger" : "QLinearConv";
  n.outputs = {"y"};
  n.attrs["group"] = Attribute::Int(a.group);
  n.attrs["strides"] = Attribute::Ints({a.strides[0], a.strides[1]});
  n.attrs["dilations"] = Attribute::Ints({a.dilation, a.dilation});
  n.attrs["pads"] = Attribute::Ints({a.pads[0], a.pads[1], a.pads[2], a.pads[3]});
  if (integer) {
    n.inputs = {"x", "w", "zx", "zw"};
    *in = {o.x, o.w, o.zx, o.zw};
    return n;
  }
  n.inputs = {"x", "sx", "zx", "w", "sw", "zw", "sy", "zy"};
  *in = {o.x, o.sx, o.zx, o.w, o.sw, o.zw, o.sy, o.zy};
  if (o.bias) {
    n.inputs.push_back("b");
    in->push_back(o.bias);
  }
  return n;
}

}  // namespace qfarm::kernels
