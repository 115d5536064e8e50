// QDQ fusion (model/qdq_fusion.h). Each candidate float op is matched against its pattern; a
// match is only committed when every part holds and the fused node passes InferNode with the
// same output type and shape as the QuantizeLinear it replaces, so a fused graph is valid
// whenever the input graph was.
#include "model/qdq_fusion.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <set>

#include "model/validate.h"

namespace qfarm {
namespace {

// A DequantizeLinear feeding the pattern.
struct Dq {
  size_t node = 0;
  std::string q, scale, zero;  // zero empty when omitted
  DType type = DType::kUndefined;
  Shape shape;
  int64_t axis = 1;  // normalized to [0, rank)
};

// The QuantizeLinear consuming the float op's output.
struct Q {
  size_t node = 0;
  std::string out, scale, zero;
  DType type = DType::kUndefined;
};

struct Match {
  Node fused;
  std::vector<size_t> dropped;  // DQ/Q nodes the fused node replaces (not the float op)
  TensorMap new_inits;
};

bool Is8Bit(DType t) { return t == DType::kInt8 || t == DType::kUInt8; }

class Fuser {
 public:
  Fuser(const Graph& g, ValueInfoMap types);
  Graph Run(std::vector<FusionRecord>* records);

 private:
  const Tensor* Const(const std::string& name) const;
  int Uses(const std::string& value) const;
  bool Info(const std::string& value, const Match& m, ValueInfo* info) const;
  bool MatchDq(const std::string& value, Dq* dq) const;
  bool MatchQ(const std::string& value, Q* q) const;
  bool PerTensor(const Dq& dq) const;
  bool PerAxis(const Dq& dq, int64_t axis, int64_t channels) const;
  std::string UniqueName(const std::string& base, const Match& m) const;
  std::string ZeroPoint(const std::string& zero, DType type, const std::string& scale, Match* m) const;
  bool BiasInt32(const Node& conv, const Dq& x, const Dq& w, int64_t channels, Match* m) const;
  bool MatchConv(const Node& n, Match* m) const;
  bool MatchMatMul(const Node& n, Match* m) const;
  bool MatchAdd(const Node& n, Match* m) const;
  bool MatchAveragePool(const Node& n, Match* m) const;
  bool Verify(const Match& m, const Q& q) const;
  Graph Rebuild(const std::map<size_t, Node>& replaced, const std::set<size_t>& dropped,
                const TensorMap& new_inits) const;

  const Graph& g_;
  ValueInfoMap types_;
  std::map<std::string, size_t> producer_;
  std::map<std::string, std::vector<size_t>> consumers_;  // value → consuming node per input slot
  std::set<std::string> graph_outputs_;
};

Fuser::Fuser(const Graph& g, ValueInfoMap types) : g_(g), types_(std::move(types)) {
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    for (const std::string& in : g.nodes[i].inputs) {
      if (!in.empty()) consumers_[in].push_back(i);
    }
    for (const std::string& out : g.nodes[i].outputs) producer_[out] = i;
  }
  for (const ValueInfo& o : g.outputs) graph_outputs_.insert(o.name);
}

const Tensor* Fuser::Const(const std::string& name) const {
  auto it = g_.initializers.find(name);
  return name.empty() || it == g_.initializers.end() ? nullptr : &it->second;
}

int Fuser::Uses(const std::string& value) const {
  auto it = consumers_.find(value);
  return (it == consumers_.end() ? 0 : static_cast<int>(it->second.size())) +
         static_cast<int>(graph_outputs_.count(value));
}

bool Fuser::Info(const std::string& value, const Match& m, ValueInfo* info) const {
  if (auto it = m.new_inits.find(value); it != m.new_inits.end()) {
    *info = {value, it->second.dtype(), it->second.shape()};
    return true;
  }
  auto it = types_.find(value);
  if (it == types_.end()) return false;
  *info = it->second;
  return true;
}

// `value` is the output of a DequantizeLinear that nothing else reads, with constant parameters.
bool Fuser::MatchDq(const std::string& value, Dq* dq) const {
  auto p = producer_.find(value);
  if (p == producer_.end() || Uses(value) != 1) return false;
  const Node& n = g_.nodes[p->second];
  if (n.op_type != "DequantizeLinear" || !n.domain.empty() || !n.HasInput(0)) return false;
  if (!n.HasInput(1) || !Const(n.inputs[1])) return false;
  if (n.HasInput(2) && !Const(n.inputs[2])) return false;
  auto t = types_.find(n.inputs[0]);
  if (t == types_.end()) return false;
  dq->node = p->second;
  dq->q = n.inputs[0];
  dq->scale = n.inputs[1];
  dq->zero = n.HasInput(2) ? n.inputs[2] : "";
  dq->type = t->second.dtype;
  dq->shape = t->second.shape;
  const int64_t rank = static_cast<int64_t>(dq->shape.size());
  dq->axis = n.AttrInt("axis", 1);
  if (dq->axis < 0) dq->axis += rank;
  return true;
}

// `value` is read only by a QuantizeLinear (as its input 0) with constant per-tensor parameters
// and an 8-bit output.
bool Fuser::MatchQ(const std::string& value, Q* q) const {
  if (Uses(value) != 1) return false;
  auto c = consumers_.find(value);
  if (c == consumers_.end()) return false;
  const Node& n = g_.nodes[c->second[0]];
  if (n.op_type != "QuantizeLinear" || !n.domain.empty() || n.inputs[0] != value) return false;
  if (!n.HasInput(1) || !Const(n.inputs[1]) || Const(n.inputs[1])->numel() != 1) return false;
  if (n.HasInput(2) && (!Const(n.inputs[2]) || Const(n.inputs[2])->numel() != 1)) return false;
  auto t = types_.find(n.outputs[0]);
  if (t == types_.end() || !Is8Bit(t->second.dtype)) return false;
  q->node = c->second[0];
  q->out = n.outputs[0];
  q->scale = n.inputs[1];
  q->zero = n.HasInput(2) ? n.inputs[2] : "";
  q->type = t->second.dtype;
  return true;
}

bool Fuser::PerTensor(const Dq& dq) const {
  return Const(dq.scale)->numel() == 1 && (dq.zero.empty() || Const(dq.zero)->numel() == 1);
}

// Per-tensor, or one scale (and zero point, or one shared zero point) per index of `axis`.
bool Fuser::PerAxis(const Dq& dq, int64_t axis, int64_t channels) const {
  if (PerTensor(dq)) return true;
  const int64_t zn = dq.zero.empty() ? 1 : Const(dq.zero)->numel();
  return dq.axis == axis && Const(dq.scale)->numel() == channels && (zn == 1 || zn == channels);
}

std::string Fuser::UniqueName(const std::string& base, const Match& m) const {
  std::string name = base;
  for (int k = 1; types_.count(name) || producer_.count(name) || m.new_inits.count(name); ++k) {
    name = base + "_" + std::to_string(k);
  }
  return name;
}

// An omitted zero point becomes an explicit scalar 0 of the quantized type (the integer ops
// need the type even where ONNX's DequantizeLinear/QuantizeLinear default it).
std::string Fuser::ZeroPoint(const std::string& zero, DType type, const std::string& scale,
                             Match* m) const {
  if (!zero.empty()) return zero;
  const std::string name = UniqueName(scale + "_zero_" + std::string(DTypeName(type)), *m);
  m->new_inits[name] = Tensor(type, {});
  return name;
}

// The Conv bias as int32 at scale s_x·s_w[m] (see qdq_fusion.h): a DQ of an int32 initializer
// already at that scale with zero point 0 is used as it is; any other DQ'd or float32 constant
// bias b is quantized the way ONNX Runtime's quantizer does (quantize_bias_static): in float32,
// q = clip(round_half_even(b / (s_x·s_w)), INT32_MIN, INT32_MAX).
bool Fuser::BiasInt32(const Node& conv, const Dq& x, const Dq& w, int64_t channels, Match* m) const {
  const std::string& bias = conv.inputs[2];
  const Tensor& sx = *Const(x.scale);
  const Tensor& sw = *Const(w.scale);
  std::vector<float> sxsw(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) {
    sxsw[static_cast<size_t>(c)] = static_cast<float>(sx.GetDouble(0)) *
                                   static_cast<float>(sw.GetDouble(sw.numel() == 1 ? 0 : c));
  }
  std::vector<float> real(static_cast<size_t>(channels));
  Dq bdq;
  if (MatchDq(bias, &bdq) && bdq.type == DType::kInt32 && Const(bdq.q) && bdq.shape == Shape{channels}) {
    const Tensor& b = *Const(bdq.q);
    const Tensor& sb = *Const(bdq.scale);
    const Tensor* zb = bdq.zero.empty() ? nullptr : Const(bdq.zero);
    if (sb.numel() != 1 && sb.numel() != channels) return false;
    bool same_scale = true;
    for (int64_t c = 0; c < channels; ++c) {
      const float s = static_cast<float>(sb.GetDouble(sb.numel() == 1 ? 0 : c));
      const int64_t z = zb ? zb->GetInt(zb->numel() == 1 ? 0 : c) : 0;
      const float want = sxsw[static_cast<size_t>(c)];
      same_scale = same_scale && z == 0 && std::fabs(s - want) <= 1e-6f * want;
      real[static_cast<size_t>(c)] = static_cast<float>(b.GetInt(c) - z) * s;  // DQ's float32 value
    }
    m->dropped.push_back(bdq.node);
    if (same_scale) {
      m->fused.inputs.push_back(bdq.q);
      return true;
    }
  } else if (const Tensor* b = Const(bias); b && b->dtype() == DType::kFloat32 && b->shape() == Shape{channels}) {
    for (int64_t c = 0; c < channels; ++c) real[static_cast<size_t>(c)] = static_cast<float>(b->GetDouble(c));
  } else {
    return false;  // a bias computed at run time has no constant int32 form
  }
  Tensor q(DType::kInt32, {channels});
  for (int64_t c = 0; c < channels; ++c) {
    const float v = real[static_cast<size_t>(c)] / sxsw[static_cast<size_t>(c)];
    if (!std::isfinite(v)) return false;
    const double r = std::nearbyint(static_cast<double>(v));  // default mode: half-even
    const double lo = std::numeric_limits<int32_t>::min(), hi = std::numeric_limits<int32_t>::max();
    q.SetInt(c, static_cast<int64_t>(r < lo ? lo : r > hi ? hi : r));
  }
  const std::string name = UniqueName(conv.name + "_bias_int32", *m);
  m->new_inits[name] = std::move(q);
  m->fused.inputs.push_back(name);
  return true;
}

bool Fuser::MatchConv(const Node& n, Match* m) const {
  Dq x, w;
  Q q;
  if (!n.HasInput(0) || !n.HasInput(1) || !MatchDq(n.inputs[0], &x) || !MatchDq(n.inputs[1], &w)) return false;
  if (!MatchQ(n.outputs[0], &q) || !Is8Bit(x.type) || !Is8Bit(w.type) || !PerTensor(x)) return false;
  if (w.shape.empty() || w.shape[0] <= 0 || !PerAxis(w, 0, w.shape[0])) return false;
  m->fused.op_type = "QLinearConv";
  m->fused.attrs = n.attrs;
  m->fused.inputs = {x.q, x.scale, ZeroPoint(x.zero, x.type, x.scale, m),
                     w.q, w.scale, ZeroPoint(w.zero, w.type, w.scale, m),
                     q.scale, ZeroPoint(q.zero, q.type, q.scale, m)};
  m->dropped = {x.node, w.node};
  if (n.HasInput(2) && !BiasInt32(n, x, w, w.shape[0], m)) return false;
  m->dropped.push_back(q.node);
  m->fused.outputs = {q.out};
  return Verify(*m, q);
}

// MatMul, and Gemm with transA=0, alpha=1, beta=1 and no C (transB=1 with a constant weight,
// which is transposed into a new initializer; its per-row parameters become per-column).
bool Fuser::MatchMatMul(const Node& n, Match* m) const {
  const bool gemm = n.op_type == "Gemm";
  const int64_t trans_b = gemm ? n.AttrInt("transB", 0) : 0;
  if (gemm && (n.HasInput(2) || n.AttrInt("transA", 0) != 0 || n.AttrFloat("alpha", 1) != 1.0f ||
               n.AttrFloat("beta", 1) != 1.0f || (trans_b != 0 && trans_b != 1))) {
    return false;
  }
  Dq x, w;
  Q q;
  if (!n.HasInput(0) || !n.HasInput(1) || !MatchDq(n.inputs[0], &x) || !MatchDq(n.inputs[1], &w)) return false;
  if (!MatchQ(n.outputs[0], &q) || !Is8Bit(x.type) || !Is8Bit(w.type) || !PerTensor(x)) return false;
  if (gemm && (x.shape.size() != 2 || w.shape.size() != 2)) return false;
  const int64_t rank = static_cast<int64_t>(w.shape.size());
  std::string weight = w.q;
  if (trans_b == 1) {
    const Tensor* wt = Const(w.q);
    if (!wt || !PerAxis(w, 0, w.shape[0])) return false;
    const int64_t rows = w.shape[0], cols = w.shape[1];  // [N, K] → [K, N]
    Tensor t(wt->dtype(), {cols, rows});
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) t.SetInt(c * rows + r, wt->GetInt(r * cols + c));
    }
    weight = UniqueName(w.q + "_transposed", *m);
    m->new_inits[weight] = std::move(t);
  } else if (!PerTensor(w) && (rank < 2 || !PerAxis(w, rank - 1, w.shape.back()))) {
    return false;
  }
  m->fused.op_type = "QLinearMatMul";
  m->fused.inputs = {x.q, x.scale, ZeroPoint(x.zero, x.type, x.scale, m),
                     weight, w.scale, ZeroPoint(w.zero, w.type, w.scale, m),
                     q.scale, ZeroPoint(q.zero, q.type, q.scale, m)};
  m->fused.outputs = {q.out};
  m->dropped = {x.node, w.node, q.node};
  return Verify(*m, q);
}

bool Fuser::MatchAdd(const Node& n, Match* m) const {
  Dq a, b;
  Q q;
  if (!n.HasInput(0) || !n.HasInput(1) || !MatchDq(n.inputs[0], &a) || !MatchDq(n.inputs[1], &b)) return false;
  if (!MatchQ(n.outputs[0], &q) || !PerTensor(a) || !PerTensor(b)) return false;
  if (!Is8Bit(a.type) || a.type != b.type || a.type != q.type) return false;
  m->fused.op_type = "QLinearAdd";
  m->fused.domain = "com.microsoft";
  m->fused.inputs = {a.q, a.scale, ZeroPoint(a.zero, a.type, a.scale, m),
                     b.q, b.scale, ZeroPoint(b.zero, b.type, b.scale, m),
                     q.scale, ZeroPoint(q.zero, q.type, q.scale, m)};
  m->fused.outputs = {q.out};
  m->dropped = {a.node, b.node, q.node};
  return Verify(*m, q);
}

bool Fuser::MatchAveragePool(const Node& n, Match* m) const {
  Dq x;
  Q q;
  if (!n.HasInput(0) || !MatchDq(n.inputs[0], &x) || !MatchQ(n.outputs[0], &q)) return false;
  if (!PerTensor(x) || !Is8Bit(x.type) || x.type != q.type) return false;
  m->fused.attrs = n.attrs;
  if (n.HasAttr("dilations")) {  // QLinearAveragePool has no dilations
    for (int64_t d : n.AttrInts("dilations")) {
      if (d != 1) return false;
    }
    m->fused.attrs.erase("dilations");
  }
  m->fused.op_type = "QLinearAveragePool";
  m->fused.domain = "com.microsoft";
  m->fused.inputs = {x.q, x.scale, ZeroPoint(x.zero, x.type, x.scale, m),
                     q.scale, ZeroPoint(q.zero, q.type, q.scale, m)};
  m->fused.outputs = {q.out};
  m->dropped = {x.node, q.node};
  return Verify(*m, q);
}

// The fused node must infer to exactly the type and shape the QuantizeLinear produced.
bool Fuser::Verify(const Match& m, const Q& q) const {
  std::vector<ValueInfo> ins;
  TensorMap consts;
  for (const std::string& in : m.fused.inputs) {
    ValueInfo info;
    if (!Info(in, m, &info)) return false;
    ins.push_back(info);
    if (auto it = m.new_inits.find(in); it != m.new_inits.end()) consts[in] = it->second;
    else if (const Tensor* t = Const(in)) consts[in] = *t;
  }
  auto outs = InferNode(m.fused, ins, consts);
  if (!outs.ok() || outs->size() != 1) return false;
  const ValueInfo& want = types_.at(q.out);
  return (*outs)[0].dtype == want.dtype && (*outs)[0].shape == want.shape;
}

Graph Fuser::Run(std::vector<FusionRecord>* records) {
  std::map<size_t, Node> replaced;
  std::set<size_t> dropped;
  TensorMap new_inits;
  for (size_t i = 0; i < g_.nodes.size(); ++i) {
    const Node& n = g_.nodes[i];
    if (!n.domain.empty() || n.outputs.size() != 1) continue;
    Match m;
    m.fused.name = n.name;
    bool ok = false;
    if (n.op_type == "Conv") ok = MatchConv(n, &m);
    else if (n.op_type == "MatMul" || n.op_type == "Gemm") ok = MatchMatMul(n, &m);
    else if (n.op_type == "Add") ok = MatchAdd(n, &m);
    else if (n.op_type == "AveragePool") ok = MatchAveragePool(n, &m);
    if (!ok) continue;
    FusionRecord rec{n.name, m.fused.op_type, {}};
    for (size_t d : m.dropped) {
      if (d != m.dropped.back()) rec.source_nodes.push_back(g_.nodes[d].name);
    }
    rec.source_nodes.push_back(n.name);
    rec.source_nodes.push_back(g_.nodes[m.dropped.back()].name);  // the QuantizeLinear
    if (records) records->push_back(std::move(rec));
    dropped.insert(m.dropped.begin(), m.dropped.end());
    for (auto& [name, t] : m.new_inits) new_inits[name] = std::move(t);
    replaced[i] = std::move(m.fused);
  }
  return Rebuild(replaced, dropped, new_inits);
}

// The fused graph in the original order, then without DequantizeLinear/QuantizeLinear nodes
// whose outputs nothing reads (repeated: a dead DQ can leave its Q dead) and unused initializers.
Graph Fuser::Rebuild(const std::map<size_t, Node>& replaced, const std::set<size_t>& dropped,
                     const TensorMap& new_inits) const {
  Graph out = g_;
  out.nodes.clear();
  for (size_t i = 0; i < g_.nodes.size(); ++i) {
    if (auto it = replaced.find(i); it != replaced.end()) out.nodes.push_back(it->second);
    else if (!dropped.count(i)) out.nodes.push_back(g_.nodes[i]);
  }
  for (const auto& [name, t] : new_inits) out.initializers[name] = t;
  for (bool changed = true; changed;) {
    std::set<std::string> used(graph_outputs_);
    for (const Node& n : out.nodes) used.insert(n.inputs.begin(), n.inputs.end());
    changed = false;
    std::vector<Node> kept;
    for (Node& n : out.nodes) {
      const bool qdq = n.domain.empty() && (n.op_type == "DequantizeLinear" || n.op_type == "QuantizeLinear");
      bool live = !qdq;
      for (const std::string& o : n.outputs) live = live || used.count(o);
      if (live) kept.push_back(std::move(n));
      else changed = true;
    }
    out.nodes = std::move(kept);
  }
  std::set<std::string> used(graph_outputs_);
  for (const Node& n : out.nodes) used.insert(n.inputs.begin(), n.inputs.end());
  for (auto it = out.initializers.begin(); it != out.initializers.end();) {
    it = used.count(it->first) ? std::next(it) : out.initializers.erase(it);
  }
  return out;
}

}  // namespace

Graph FuseQdq(const Graph& graph, std::vector<FusionRecord>* records) {
  if (records) records->clear();
  auto types = Validate(graph);
  if (!types.ok()) return graph;  // fusion needs every value's type; an invalid graph is left as is
  return Fuser(graph, std::move(*types)).Run(records);
}

}  // namespace qfarm
