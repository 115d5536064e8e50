// ONNX ModelProto ⇄ IR (model/onnx/onnx_io.h). TensorProto conversion is in tensor_proto.cc.
#include "model/onnx/onnx_io.h"

#include <functional>
#include <limits>
#include <map>
#include <queue>
#include <set>

#include <onnx/onnx_pb.h>

#include "model/onnx/onnx_internal.h"

namespace qfarm {
namespace {

using onnx_internal::TensorFromProto;
using onnx_internal::TensorToProto;

constexpr int64_t kMinOpset = 10, kMaxOpset = 19;

std::string Where(const Node& n) { return "node '" + n.name + "' (" + n.op_type + ")"; }

// ai.onnx must be declared once with a version in [10, 19]; com.microsoft and ai.onnx.ml (which
// converters declare routinely) are accepted; any other domain is refused by name.
Status CheckOpsets(const onnx::ModelProto& m, int64_t* opset) {
  *opset = -1;
  for (const auto& o : m.opset_import()) {
    if (o.domain().empty() || o.domain() == "ai.onnx") {
      if (*opset >= 0) return InvalidArgument("opset_import: ai.onnx is declared twice");
      if (o.version() < kMinOpset || o.version() > kMaxOpset) {
        return InvalidArgument("opset_import: ai.onnx version " + std::to_string(o.version()) +
                               " is not supported (qfarm reads opsets " + std::to_string(kMinOpset) +
                               " to " + std::to_string(kMaxOpset) + ")");
      }
      *opset = o.version();
    } else if (o.domain() != "com.microsoft" && o.domain() != "ai.onnx.ml") {
      return InvalidArgument("opset_import: domain '" + o.domain() + "' is not supported");
    }
  }
  if (*opset < 0) return InvalidArgument("opset_import: no ai.onnx opset is declared");
  return Status::Ok();
}

StatusOr<ValueInfo> ValueInfoFromProto(const onnx::ValueInfoProto& v, const std::string& role) {
  const std::string what = role + " '" + v.name() + "'";
  if (v.name().empty()) return InvalidArgument(role + " without a name");
  if (!v.type().has_tensor_type()) return InvalidArgument(what + ": type: not a tensor type");
  const auto& tt = v.type().tensor_type();
  auto dtype = DTypeFromOnnx(tt.elem_type());
  if (!dtype.ok()) return InvalidArgument(what + ": elem_type: " + dtype.status().message());
  ValueInfo info{v.name(), *dtype, {}};
  for (const auto& d : tt.shape().dim()) {
    if (d.has_dim_value() && d.dim_value() < 0) {
      return InvalidArgument(what + ": shape: negative dimension " + std::to_string(d.dim_value()));
    }
    info.shape.push_back(d.has_dim_value() ? d.dim_value() : -1);  // dim_param or unset → dynamic
  }
  return info;
}

void ValueInfoToProto(const ValueInfo& v, onnx::ValueInfoProto* p) {
  p->set_name(v.name);
  auto* tt = p->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(static_cast<int32_t>(v.dtype));
  auto* shape = tt->mutable_shape();
  for (size_t i = 0; i < v.shape.size(); ++i) {
    if (v.shape[i] >= 0) {
      shape->add_dim()->set_dim_value(v.shape[i]);
    } else {
      shape->add_dim()->set_dim_param(v.name + "_dim" + std::to_string(i));
    }
  }
}

// IR version 1 attributes carry no type; infer it from the field in use, as ONNX's checker does.
onnx::AttributeProto::AttributeType KindOf(const onnx::AttributeProto& a) {
  if (a.type() != onnx::AttributeProto::UNDEFINED) return a.type();
  if (a.has_f()) return onnx::AttributeProto::FLOAT;
  if (a.has_i()) return onnx::AttributeProto::INT;
  if (a.has_s()) return onnx::AttributeProto::STRING;
  if (a.has_t()) return onnx::AttributeProto::TENSOR;
  if (a.floats_size() > 0) return onnx::AttributeProto::FLOATS;
  if (a.ints_size() > 0) return onnx::AttributeProto::INTS;
  return onnx::AttributeProto::UNDEFINED;
}

StatusOr<Attribute> AttributeFromProto(const onnx::AttributeProto& a, int64_t max_elements) {
  const std::string what = "attribute '" + a.name() + "'";
  if (!a.ref_attr_name().empty()) return InvalidArgument(what + ": ref_attr_name is only valid inside functions");
  switch (KindOf(a)) {
    case onnx::AttributeProto::INT: return Attribute::Int(a.i());
    case onnx::AttributeProto::FLOAT: return Attribute::Float(a.f());
    case onnx::AttributeProto::STRING: return Attribute::String(a.s());
    case onnx::AttributeProto::INTS: return Attribute::Ints({a.ints().begin(), a.ints().end()});
    case onnx::AttributeProto::FLOATS: return Attribute::Floats({a.floats().begin(), a.floats().end()});
    case onnx::AttributeProto::TENSOR: {
      auto t = TensorFromProto(a.t(), max_elements);
      if (!t.ok()) return t.status().WithContext(what);
      return Attribute::FromTensor(std::move(*t));
    }
    default:
      return InvalidArgument(what + ": attribute type " +
                             onnx::AttributeProto::AttributeType_Name(a.type()) + " (" +
                             std::to_string(a.type()) + ") is not supported");
  }
}

void AttributeToProto(const std::string& name, const Attribute& a, onnx::AttributeProto* p) {
  p->set_name(name);
  switch (a.kind) {
    case Attribute::Kind::kInt: p->set_type(onnx::AttributeProto::INT); p->set_i(a.i); break;
    case Attribute::Kind::kFloat: p->set_type(onnx::AttributeProto::FLOAT); p->set_f(a.f); break;
    case Attribute::Kind::kString: p->set_type(onnx::AttributeProto::STRING); p->set_s(a.s); break;
    case Attribute::Kind::kInts:
      p->set_type(onnx::AttributeProto::INTS);
      for (int64_t v : a.ints) p->add_ints(v);
      break;
    case Attribute::Kind::kFloats:
      p->set_type(onnx::AttributeProto::FLOATS);
      for (float v : a.floats) p->add_floats(v);
      break;
    case Attribute::Kind::kTensor:
      p->set_type(onnx::AttributeProto::TENSOR);
      TensorToProto("", a.t, p->mutable_t());
      break;
  }
}

StatusOr<Node> NodeFromProto(const onnx::NodeProto& np, const std::string& name, int64_t max_elements) {
  Node n;
  n.op_type = np.op_type();
  n.domain = np.domain() == "ai.onnx" ? "" : np.domain();
  n.name = name;
  if (n.op_type.empty()) return InvalidArgument("node '" + name + "': op_type is empty");
  n.inputs.assign(np.input().begin(), np.input().end());
  n.outputs.assign(np.output().begin(), np.output().end());
  for (const auto& a : np.attribute()) {
    if (n.attrs.count(a.name())) {
      return InvalidArgument(Where(n) + ": attribute '" + a.name() + "' is given twice");
    }
    auto attr = AttributeFromProto(a, max_elements);
    if (!attr.ok()) return attr.status().WithContext(Where(n));
    n.attrs[a.name()] = std::move(*attr);
  }
  return n;
}

// The value of a Constant node (value, value_float, value_floats, value_int, value_ints).
StatusOr<Tensor> ConstantValue(const Node& n) {
  if (n.attrs.size() != 1) {
    return InvalidArgument(Where(n) + ": attributes: needs exactly one value attribute, has " +
                           std::to_string(n.attrs.size()));
  }
  const std::string& key = n.attrs.begin()->first;  // not a structured binding: lambdas capture it (clang 14)
  const Attribute& a = n.attrs.begin()->second;
  const auto kind_is = [&](Attribute::Kind k) { return a.kind == k; };
  if (key == "value" && kind_is(Attribute::Kind::kTensor)) return a.t;
  if (key == "value_float" && kind_is(Attribute::Kind::kFloat)) return Tensor::Scalar(DType::kFloat32, a.f);
  if (key == "value_int" && kind_is(Attribute::Kind::kInt)) return Tensor::FromInts(DType::kInt64, {}, {a.i});
  if (key == "value_ints" && kind_is(Attribute::Kind::kInts)) {
    return Tensor::FromInts(DType::kInt64, {static_cast<int64_t>(a.ints.size())}, a.ints);
  }
  if (key == "value_floats" && kind_is(Attribute::Kind::kFloats)) {
    return Tensor::FromDoubles(DType::kFloat32, {static_cast<int64_t>(a.floats.size())},
                               {a.floats.begin(), a.floats.end()});
  }
  return InvalidArgument(Where(n) + ": attribute '" + key + "': not a supported Constant value " +
                         "(value, value_float, value_floats, value_int, value_ints)");
}

// Names every node: its own name, else "<op>_<index in the file>"; a generated name that collides
// with another node's gets "_<k>" appended. Duplicate names given in the file are an error.
Status NameNodes(const onnx::GraphProto& gp, std::vector<std::string>* names) {
  std::set<std::string> taken;
  for (const auto& np : gp.node()) {
    if (np.name().empty()) continue;
    if (!taken.insert(np.name()).second) {
      return InvalidArgument("node '" + np.name() + "' (" + np.op_type() + "): name: used by two nodes");
    }
  }
  for (int i = 0; i < gp.node_size(); ++i) {
    const auto& np = gp.node(i);
    if (!np.name().empty()) {
      names->push_back(np.name());
      continue;
    }
    std::string name = np.op_type() + "_" + std::to_string(i);
    for (int k = 1; taken.count(name); ++k) name = np.op_type() + "_" + std::to_string(i) + "_" + std::to_string(k);
    taken.insert(name);
    names->push_back(name);
  }
  return Status::Ok();
}

// Index of the producer of every node output; an output defined twice (by two nodes, or by a
// node and an initializer or graph input) is an error naming the second definition.
StatusOr<std::map<std::string, size_t>> Producers(const Graph& g) {
  std::map<std::string, size_t> producer;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    for (const std::string& out : g.nodes[i].outputs) {
      if (out.empty()) continue;
      std::string other;
      if (auto it = producer.find(out); it != producer.end()) other = "node '" + g.nodes[it->second].name + "'";
      if (g.initializers.count(out)) other = "an initializer";
      for (const ValueInfo& v : g.inputs) {
        if (v.name == out) other = "a graph input";
      }
      if (!other.empty()) {
        return InvalidArgument(Where(g.nodes[i]) + ": output '" + out + "': already defined by " + other);
      }
      producer[out] = i;
    }
  }
  return producer;
}

// A node on the cycle that blocks `start`: follow unsorted producers until one repeats.
Status CycleError(const Graph& g, const std::map<std::string, size_t>& producer,
                  const std::vector<bool>& done, size_t start) {
  std::vector<bool> seen(g.nodes.size(), false);
  size_t cur = start;
  std::string via;
  while (!seen[cur]) {
    seen[cur] = true;
    for (const std::string& in : g.nodes[cur].inputs) {
      auto it = producer.find(in);
      if (!in.empty() && it != producer.end() && !done[it->second]) {
        cur = it->second;
        via = in;
        break;
      }
    }
  }
  return InvalidArgument(Where(g.nodes[cur]) + ": output '" + via +
                         "' is part of a cycle (the graph is not a DAG)");
}

// Stable topological sort (Kahn's algorithm, smallest original index first): a graph already in
// order is unchanged. Inputs defined nowhere are left for Validate() to report.
Status SortTopologically(Graph& g) {
  QFARM_ASSIGN_OR_RETURN(auto producer, Producers(g));
  const size_t n = g.nodes.size();
  std::vector<size_t> pending(n, 0);
  std::vector<std::vector<size_t>> consumers(n);
  for (size_t i = 0; i < n; ++i) {
    for (const std::string& in : g.nodes[i].inputs) {
      auto it = producer.find(in);
      if (in.empty() || it == producer.end()) continue;
      ++pending[i];
      consumers[it->second].push_back(i);
    }
  }
  std::priority_queue<size_t, std::vector<size_t>, std::greater<size_t>> ready;
  for (size_t i = 0; i < n; ++i) {
    if (pending[i] == 0) ready.push(i);
  }
  std::vector<bool> done(n, false);
  std::vector<Node> sorted;
  sorted.reserve(n);
  while (!ready.empty()) {
    const size_t i = ready.top();
    ready.pop();
    done[i] = true;
    sorted.push_back(std::move(g.nodes[i]));
    for (size_t c : consumers[i]) {
      if (--pending[c] == 0) ready.push(c);
    }
  }
  if (sorted.size() < n) {
    size_t first = 0;
    while (done[first]) ++first;
    // g.nodes[first] was not moved from (it never became ready), nor were its producers.
    return CycleError(g, producer, done, first);
  }
  g.nodes = std::move(sorted);
  return Status::Ok();
}

Status ConvertInitializers(const onnx::GraphProto& gp, const ModelLimits& limits, Graph* g) {
  for (const auto& t : gp.initializer()) {
    if (t.name().empty()) return InvalidArgument("initializer without a name");
    if (g->initializers.count(t.name())) return InvalidArgument("initializer '" + t.name() + "': defined twice");
    auto tensor = TensorFromProto(t, limits.max_tensor_elements);
    if (!tensor.ok()) return tensor.status();
    g->initializers[t.name()] = std::move(*tensor);
  }
  if (gp.sparse_initializer_size() > 0) {
    return InvalidArgument("sparse_initializer '" + gp.sparse_initializer(0).values().name() +
                           "': sparse initializers are not supported");
  }
  return Status::Ok();
}

Status ConvertNodes(const onnx::GraphProto& gp, const ModelLimits& limits, Graph* g) {
  if (gp.node_size() > limits.max_nodes) {
    return ResourceExhausted("graph has " + std::to_string(gp.node_size()) + " nodes, over the limit of " +
                             std::to_string(limits.max_nodes));
  }
  std::vector<std::string> names;
  QFARM_RETURN_IF_ERROR(NameNodes(gp, &names));
  for (int i = 0; i < gp.node_size(); ++i) {
    QFARM_ASSIGN_OR_RETURN(Node n, NodeFromProto(gp.node(i), names[static_cast<size_t>(i)],
                                                 limits.max_tensor_elements));
    if (n.op_type != "Constant" || !n.domain.empty()) {
      g->nodes.push_back(std::move(n));
      continue;
    }
    if (n.outputs.size() != 1 || n.outputs[0].empty() || !n.inputs.empty()) {
      return InvalidArgument(Where(n) + ": outputs: needs no inputs and exactly one named output");
    }
    if (g->initializers.count(n.outputs[0])) {
      return InvalidArgument(Where(n) + ": output '" + n.outputs[0] + "': already defined by an initializer");
    }
    QFARM_ASSIGN_OR_RETURN(Tensor t, ConstantValue(n));
    g->initializers[n.outputs[0]] = std::move(t);
  }
  return Status::Ok();
}

StatusOr<Graph> GraphFromProto(const onnx::ModelProto& m, const ModelLimits& limits) {
  Graph g;
  QFARM_RETURN_IF_ERROR(CheckOpsets(m, &g.opset));
  const onnx::GraphProto& gp = m.graph();
  g.name = gp.name();
  QFARM_RETURN_IF_ERROR(ConvertInitializers(gp, limits, &g));
  for (const auto& v : gp.input()) {
    if (g.initializers.count(v.name())) continue;  // IR < 4 lists initializers as inputs too
    QFARM_ASSIGN_OR_RETURN(ValueInfo info, ValueInfoFromProto(v, "graph input"));
    g.inputs.push_back(std::move(info));
  }
  for (const auto& v : gp.output()) {
    QFARM_ASSIGN_OR_RETURN(ValueInfo info, ValueInfoFromProto(v, "graph output"));
    g.outputs.push_back(std::move(info));
  }
  QFARM_RETURN_IF_ERROR(ConvertNodes(gp, limits, &g));
  QFARM_RETURN_IF_ERROR(SortTopologically(g));
  QFARM_RETURN_IF_ERROR(Validate(g, limits).status());
  return g;
}

}  // namespace

StatusOr<Graph> ParseOnnxModel(const std::string& bytes, const std::string& label,
                               const ModelLimits& limits) {
  if (bytes.empty()) return InvalidArgument(label + ": empty file, not an ONNX model");
  if (static_cast<uint64_t>(bytes.size()) > static_cast<uint64_t>(onnx_internal::kMaxFileBytes)) {
    return ResourceExhausted(label + ": " + std::to_string(bytes.size()) + " bytes, over the limit of " +
                             std::to_string(onnx_internal::kMaxFileBytes));
  }
  onnx::ModelProto m;
  if (!m.ParseFromString(bytes)) return InvalidArgument(label + ": not a valid ONNX model (protobuf parse failed)");
  if (!m.has_graph()) return InvalidArgument(label + ": not a valid ONNX model (ModelProto has no graph)");
  auto g = GraphFromProto(m, limits);
  if (!g.ok()) return g.status().WithContext(label);
  return g;
}

StatusOr<Graph> LoadOnnxModel(const std::string& path, const ModelLimits& limits) {
  QFARM_ASSIGN_OR_RETURN(std::string bytes, onnx_internal::ReadFileLimited(path));
  return ParseOnnxModel(bytes, path, limits);
}

StatusOr<std::string> SerializeOnnxModel(const Graph& g) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.set_producer_name("qfarm");
  auto* op = m.add_opset_import();
  op->set_domain("");
  op->set_version(g.opset);
  bool ms = false;
  for (const Node& n : g.nodes) ms = ms || n.domain == "com.microsoft";
  if (ms) {
    auto* o = m.add_opset_import();
    o->set_domain("com.microsoft");
    o->set_version(1);
  }
  auto* gp = m.mutable_graph();
  gp->set_name(g.name);
  for (const auto& [name, t] : g.initializers) TensorToProto(name, t, gp->add_initializer());
  for (const ValueInfo& v : g.inputs) ValueInfoToProto(v, gp->add_input());
  for (const ValueInfo& v : g.outputs) ValueInfoToProto(v, gp->add_output());
  for (const Node& n : g.nodes) {
    auto* np = gp->add_node();
    np->set_name(n.name);
    np->set_op_type(n.op_type);
    np->set_domain(n.domain);
    for (const auto& i : n.inputs) np->add_input(i);
    for (const auto& o : n.outputs) np->add_output(o);
    for (const auto& [k, a] : n.attrs) AttributeToProto(k, a, np->add_attribute());
  }
  std::string out;
  if (m.ByteSizeLong() > static_cast<size_t>(onnx_internal::kMaxFileBytes) || !m.SerializeToString(&out)) {
    return ResourceExhausted("model '" + g.name + "': cannot serialize (over protobuf's 2 GiB limit?)");
  }
  return out;
}

Status SaveOnnxModel(const Graph& graph, const std::string& path) {
  auto bytes = SerializeOnnxModel(graph);
  if (!bytes.ok()) return bytes.status().WithContext(path);
  return onnx_internal::WriteFileAtomic(path, *bytes);
}

}  // namespace qfarm
