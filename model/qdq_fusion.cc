// QDQ fusion (model/qdq_fusion.h). A pattern fuses only when every DequantizeLinear feeding the
// float op and the float op itself have exactly one consumer, the op's consumer is a
// QuantizeLinear, and every scale and zero point is an initializer; anything else is left as it
// is and runs in float.
#include "model/qdq_fusion.h"

#include <cmath>
#include <map>
#include <set>

namespace qfarm {
namespace {

struct Uses {
  std::map<std::string, int> count;  // value → number of consuming node inputs + graph outputs
  std::map<std::string, int> producer;
};

Uses CountUses(const Graph& g) {
  Uses u;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    for (const std::string& in : g.nodes[i].inputs) {
      if (!in.empty()) ++u.count[in];
    }
    for (const std::string& out : g.nodes[i].outputs) u.producer[out] = static_cast<int>(i);
  }
  for (const ValueInfo& o : g.outputs) ++u.count[o.name];
  return u;
}

// A DequantizeLinear feeding the pattern: its node index and its three inputs.
struct DqInput {
  int node = -1;
  std::string q, scale, zero;
  int64_t axis = 1;
};

class Fuser {
 public:
  explicit Fuser(const Graph& g) : g_(g), uses_(CountUses(g)) {}

  Graph Run(std::vector<FusionRecord>* records);

 private:
  bool IsConst(const std::string& name) const { return !name.empty() && g_.initializers.count(name); }
  // The single-consumer DequantizeLinear producing `value`, with constant parameters.
  bool MatchDq(const std::string& value, DqInput* dq) const;
  // The QuantizeLinear that alone consumes `value`.
  int MatchQ(const std::string& value) const;
  std::string ZeroPointFor(const DqInput& dq);
  bool FuseNode(size_t i, FusionRecord* rec);
  bool BiasToInt32(const Node& conv, const DqInput& x, const DqInput& w, const std::string& bias,
                   std::string* out);

  const Graph& g_;
  Uses uses_;
  std::set<int> removed_;
  std::map<int, Node> replaced_;
  TensorMap new_inits_;
};

bool Fuser::MatchDq(const std::string& value, DqInput* dq) const {
  auto it = uses_.producer.find(value);
  if (it == uses_.producer.end() || uses_.count.at(value) != 1) return false;
  const Node& n = g_.nodes[static_cast<size_t>(it->second)];
  if (n.op_type != "DequantizeLinear" || !n.HasInput(1) || !IsConst(n.inputs[1])) return false;
  if (n.HasInput(2) && !IsConst(n.inputs[2])) return false;
  dq->node = it->second;
  dq->q = n.inputs[0];
  dq->scale = n.inputs[1];
  dq->zero = n.HasInput(2) ? n.inputs[2] : "";
  dq->axis = n.AttrInt("axis", 1);
  return true;
}

int Fuser::MatchQ(const std::string& value) const {
  auto c = uses_.count.find(value);
  if (c == uses_.count.end() || c->second != 1) return -1;
  for (size_t i = 0; i < g_.nodes.size(); ++i) {
    const Node& n = g_.nodes[i];
    if (n.op_type == "QuantizeLinear" && n.inputs[0] == value && n.HasInput(1) &&
        IsConst(n.inputs[1]) && (!n.HasInput(2) || IsConst(n.inputs[2]))) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

DType TypeOf(const Graph& g, const std::string& value, const std::string& zp) {
  if (auto it = g.initializers.find(zp); it != g.initializers.end()) return it->second.dtype();
  if (auto it = g.initializers.find(value); it != g.initializers.end()) return it->second.dtype();
  return DType::kUInt8;  // ONNX default for an omitted zero point
}

std::string Fuser::ZeroPointFor(const DqInput& dq) {
  if (!dq.zero.empty()) return dq.zero;
  const std::string name = dq.scale + "__zero";
  new_inits_[name] = Tensor(TypeOf(g_, dq.q, ""), {});
  return name;
}

// Conv bias → int32 with scale s_x·s_w[m], rounded half-even (what ONNX Runtime's quantizer
// writes); a DQ'd int32 bias is first dequantized, so a bias already at that scale is unchanged.
bool Fuser::BiasToInt32(const Node& conv, const DqInput& x, const DqInput& w,
                        const std::string& bias, std::string* out) {
  std::vector<double> real;
  DqInput bdq;
  if (MatchDq(bias, &bdq) && IsConst(bdq.q)) {
    const Tensor& b = g_.initializers.at(bdq.q);
    const Tensor& s = g_.initializers.at(bdq.scale);
    for (int64_t m = 0; m < b.numel(); ++m) {
      const int64_t z = bdq.zero.empty() ? 0 : g_.initializers.at(bdq.zero).GetInt(
                                                   g_.initializers.at(bdq.zero).numel() == 1 ? 0 : m);
      real.push_back(static_cast<double>(b.GetInt(m) - z) * s.GetDouble(s.numel() == 1 ? 0 : m));
    }
    removed_.insert(bdq.node);
  } else if (IsConst(bias) && g_.initializers.at(bias).dtype() == DType::kFloat32) {
    const Tensor& b = g_.initializers.at(bias);
    for (int64_t m = 0; m < b.numel(); ++m) real.push_back(b.GetDouble(m));
  } else {
    return false;
  }
  const Tensor& sx = g_.initializers.at(x.scale);
  const Tensor& sw = g_.initializers.at(w.scale);
  Tensor q(DType::kInt32, {static_cast<int64_t>(real.size())});
  for (size_t m = 0; m < real.size(); ++m) {
    const double scale = sx.GetDouble(0) * sw.GetDouble(sw.numel() == 1 ? 0 : static_cast<int64_t>(m));
    q.SetInt(static_cast<int64_t>(m), static_cast<int64_t>(std::nearbyint(real[m] / scale)));
  }
  *out = conv.name + ".bias_int32";
  new_inits_[*out] = std::move(q);
  return true;
}

bool Fuser::FuseNode(size_t i, FusionRecord* rec) {
  const Node& n = g_.nodes[i];
  const std::string& op = n.op_type;
  if (!n.domain.empty() || n.outputs.size() != 1) return false;
  const bool conv = op == "Conv", matmul = op == "MatMul", add = op == "Add";
  const bool pool = op == "AveragePool";
  const bool gemm = op == "Gemm" && !n.HasInput(2) && n.AttrInt("transA", 0) == 0 &&
                    n.AttrFloat("alpha", 1) == 1 && n.AttrInt("transB", 0) == 0;
  if (!conv && !matmul && !add && !pool && !gemm) return false;
  const size_t n_q_inputs = pool ? 1 : 2;
  DqInput dq[2];
  for (size_t k = 0; k < n_q_inputs; ++k) {
    if (!n.HasInput(k) || !MatchDq(n.inputs[k], &dq[k])) return false;
  }
  const int qi = MatchQ(n.outputs[0]);
  if (qi < 0) return false;
  const Node& q = g_.nodes[static_cast<size_t>(qi)];
  if (!q.HasInput(2)) return false;  // output type must be explicit
  Node fused;
  fused.name = n.name;
  fused.outputs = {q.outputs[0]};
  const std::string sy = q.inputs[1], zy = q.inputs[2];
  if (conv || matmul || gemm) {
    if (TypeOf(g_, dq[0].q, dq[0].zero) == DType::kInt32) return false;
    fused.op_type = conv ? "QLinearConv" : "QLinearMatMul";
    fused.inputs = {dq[0].q, dq[0].scale, ZeroPointFor(dq[0]), dq[1].q, dq[1].scale,
                    ZeroPointFor(dq[1]), sy, zy};
    if (conv) {
      fused.attrs = n.attrs;
      std::string bias;
      if (n.HasInput(2)) {
        if (!BiasToInt32(n, dq[0], dq[1], n.inputs[2], &bias)) return false;
        fused.inputs.push_back(bias);
      }
    }
  } else if (add) {
    if (TypeOf(g_, dq[0].q, dq[0].zero) != TypeOf(g_, dq[1].q, dq[1].zero)) return false;
    fused.op_type = "QLinearAdd";
    fused.domain = "com.microsoft";
    fused.inputs = {dq[0].q, dq[0].scale, ZeroPointFor(dq[0]), dq[1].q, dq[1].scale,
                    ZeroPointFor(dq[1]), sy, zy};
  } else {
    fused.op_type = "QLinearAveragePool";
    fused.domain = "com.microsoft";
    fused.attrs = n.attrs;
    fused.inputs = {dq[0].q, dq[0].scale, ZeroPointFor(dq[0]), sy, zy};
  }
  rec->fused_node = fused.name;
  rec->op_type = fused.op_type;
  for (size_t k = 0; k < n_q_inputs; ++k) {
    removed_.insert(dq[k].node);
    rec->source_nodes.push_back(g_.nodes[static_cast<size_t>(dq[k].node)].name);
  }
  rec->source_nodes.push_back(n.name);
  rec->source_nodes.push_back(q.name);
  removed_.insert(qi);
  replaced_[static_cast<int>(i)] = std::move(fused);
  return true;
}

Graph Fuser::Run(std::vector<FusionRecord>* records) {
  for (size_t i = 0; i < g_.nodes.size(); ++i) {
    FusionRecord rec;
    if (FuseNode(i, &rec) && records) records->push_back(std::move(rec));
  }
  Graph out = g_;
  out.nodes.clear();
  for (size_t i = 0; i < g_.nodes.size(); ++i) {
    const int idx = static_cast<int>(i);
    if (auto it = replaced_.find(idx); it != replaced_.end()) {
      out.nodes.push_back(it->second);
    } else if (!removed_.count(idx)) {
      out.nodes.push_back(g_.nodes[i]);
    }
  }
  for (auto& [name, t] : new_inits_) out.initializers[name] = t;
  // Drop initializers nothing reads any more.
  std::set<std::string> used;
  for (const Node& n : out.nodes) used.insert(n.inputs.begin(), n.inputs.end());
  for (const ValueInfo& o : out.outputs) used.insert(o.name);
  for (auto it = out.initializers.begin(); it != out.initializers.end();) {
    it = used.count(it->first) ? std::next(it) : out.initializers.erase(it);
  }
  return out;
}

}  // namespace

Graph FuseQdq(const Graph& graph, std::vector<FusionRecord>* records) {
  if (records) records->clear();
  return Fuser(graph).Run(records);
}

}  // namespace qfarm
