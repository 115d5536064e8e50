// Attribute kinds and flag values shared by every op (see op_infer_ctx.h).
#include <cmath>
#include <map>

#include "model/op_infer_ctx.h"

namespace qfarm::infer {
namespace {

struct AttrRule {
  Attribute::Kind kind;
  bool flag = false;  // an INT that must be 0 or 1
};

const char* KindName(Attribute::Kind k) {
  switch (k) {
    case Attribute::Kind::kInt: return "an int";
    case Attribute::Kind::kFloat: return "a float";
    case Attribute::Kind::kString: return "a string";
    case Attribute::Kind::kInts: return "a list of ints";
    case Attribute::Kind::kFloats: return "a list of floats";
    case Attribute::Kind::kTensor: return "a tensor";
  }
  return "unknown";
}

const std::map<std::string, AttrRule>& Rules() {
  using K = Attribute::Kind;
  static const std::map<std::string, AttrRule> rules = {
      {"kernel_shape", {K::kInts}}, {"pads", {K::kInts}},      {"strides", {K::kInts}},
      {"dilations", {K::kInts}},    {"perm", {K::kInts}},      {"axes", {K::kInts}},
      {"split", {K::kInts}},        {"axis", {K::kInt}},       {"group", {K::kInt}},
      {"to", {K::kInt}},            {"num_outputs", {K::kInt}}, {"storage_order", {K::kInt}},
      {"ceil_mode", {K::kInt, true}}, {"count_include_pad", {K::kInt, true}},
      {"channels_last", {K::kInt, true}}, {"transA", {K::kInt, true}},
      {"transB", {K::kInt, true}},  {"allowzero", {K::kInt, true}},
      {"saturate", {K::kInt, true}}, {"alpha", {K::kFloat}}, {"beta", {K::kFloat}},
      {"min", {K::kFloat}},         {"max", {K::kFloat}},      {"auto_pad", {K::kString}},
  };
  return rules;
}

}  // namespace

Status CheckAttributes(const Ctx& c) {
  for (const auto& [name, a] : c.node.attrs) {
    auto it = Rules().find(name);
    if (it == Rules().end()) continue;
    const std::string field = "attribute '" + name + "'";
    if (a.kind != it->second.kind) {
      return c.Err(field, std::string("must be ") + KindName(it->second.kind) + ", got " +
                              KindName(a.kind));
    }
    if (it->second.flag && a.i != 0 && a.i != 1) {
      return c.Err(field, "must be 0 or 1, got " + std::to_string(a.i));
    }
    if (a.kind == Attribute::Kind::kFloat && !std::isfinite(a.f)) {
      return c.Err(field, "must be finite, got " + std::to_string(a.f));
    }
  }
  return Status::Ok();
}

}  // namespace qfarm::infer
