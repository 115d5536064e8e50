// ONNX ModelProto/TensorProto ⇄ IR (model/onnx/onnx_io.h).
#include "model/onnx/onnx_io.h"

#include <cstring>
#include <fstream>
#include <map>
#include <set>

#include <onnx/onnx_pb.h>

namespace qfarm {
namespace {

constexpr int32_t kOnnxUInt4 = 21, kOnnxInt4 = 22;
constexpr int64_t kMaxFileBytes = int64_t{2} << 30;

StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return NotFound(path + ": cannot open file");
  f.seekg(0, std::ios::end);
  const std::streamoff size = f.tellg();
  if (size < 0) return InvalidArgument(path + ": cannot read file");
  if (size > kMaxFileBytes) {
    return ResourceExhausted(path + ": file is " + std::to_string(size) + " bytes, over the limit of " +
                             std::to_string(kMaxFileBytes));
  }
  f.seekg(0);
  std::string bytes(static_cast<size_t>(size), '\0');
  f.read(bytes.data(), size);
  if (!f) return InvalidArgument(path + ": read failed");
  return bytes;
}

// Typed-field element count must equal numel.
Status CheckCount(const std::string& what, int64_t got, int64_t want) {
  if (got == want) return Status::Ok();
  return InvalidArgument(what + " holds " + std::to_string(got) + " values, shape needs " +
                         std::to_string(want));
}

StatusOr<Tensor> TensorFromProto(const onnx::TensorProto& p, int64_t max_elements) {
  const std::string what = "tensor '" + p.name() + "'";
  if (p.data_location() == onnx::TensorProto::EXTERNAL || p.external_data_size() > 0) {
    return InvalidArgument(what + ": external data is not supported (embed the data in the file)");
  }
  auto dtype = DTypeFromOnnx(p.data_type());
  if (!dtype.ok()) return InvalidArgument(what + ": " + dtype.status().message());
  Shape shape;
  for (int64_t d : p.dims()) {
    if (d < 0) return InvalidArgument(what + ": negative dimension " + std::to_string(d));
    shape.push_back(d);
  }
  const int64_t n = NumElements(shape);
  if (n > max_elements) {
    return ResourceExhausted(what + ": " + ShapeToString(shape) + " has " + std::to_string(n) +
                             " elements, over the limit of " + std::to_string(max_elements));
  }
  Tensor t(*dtype, shape);
  const bool int4 = p.data_type() == kOnnxInt4 || p.data_type() == kOnnxUInt4;
  if (p.has_raw_data()) {
    const std::string& raw = p.raw_data();
    const size_t want = int4 ? static_cast<size_t>((n + 1) / 2) : static_cast<size_t>(n) * DTypeSize(*dtype);
    if (raw.size() != want) {
      return InvalidArgument(what + ": raw_data is " + std::to_string(raw.size()) + " bytes, " +
                             ShapeToString(shape) + " of " + std::string(DTypeName(*dtype)) +
                             " needs " + std::to_string(want));
    }
    if (!int4) {
      if (want) std::memcpy(t.mutable_bytes().data(), raw.data(), want);
      return t;
    }
    for (int64_t i = 0; i < n; ++i) {
      const uint8_t byte = static_cast<uint8_t>(raw[static_cast<size_t>(i / 2)]);
      const int nib = (i % 2 == 0) ? (byte & 0xf) : (byte >> 4);
      t.SetInt(i, p.data_type() == kOnnxInt4 && nib >= 8 ? nib - 16 : nib);
    }
    return t;
  }
  switch (*dtype) {
    case DType::kFloat32:
      QFARM_RETURN_IF_ERROR(CheckCount(what + ": float_data", p.float_data_size(), n));
      for (int64_t i = 0; i < n; ++i) t.SetDouble(i, p.float_data(static_cast<int>(i)));
      return t;
    case DType::kFloat64:
      QFARM_RETURN_IF_ERROR(CheckCount(what + ": double_data", p.double_data_size(), n));
      for (int64_t i = 0; i < n; ++i) t.SetDouble(i, p.double_data(static_cast<int>(i)));
      return t;
    case DType::kInt64:
      QFARM_RETURN_IF_ERROR(CheckCount(what + ": int64_data", p.int64_data_size(), n));
      for (int64_t i = 0; i < n; ++i) t.SetInt(i, p.int64_data(static_cast<int>(i)));
      return t;
    case DType::kFloat16: {
      QFARM_RETURN_IF_ERROR(CheckCount(what + ": int32_data", p.int32_data_size(), n));
      auto bits = t.data<uint16_t>();
      for (int64_t i = 0; i < n; ++i) bits[static_cast<size_t>(i)] = static_cast<uint16_t>(p.int32_data(static_cast<int>(i)));
      return t;
    }
    default: break;
  }
  if (int4) {  // one packed byte per int32 entry
    QFARM_RETURN_IF_ERROR(CheckCount(what + ": int32_data (packed int4)", p.int32_data_size(), (n + 1) / 2));
    for (int64_t i = 0; i < n; ++i) {
      const int byte = p.int32_data(static_cast<int>(i / 2)) & 0xff;
      const int nib = (i % 2 == 0) ? (byte & 0xf) : (byte >> 4);
      t.SetInt(i, p.data_type() == kOnnxInt4 && nib >= 8 ? nib - 16 : nib);
    }
    return t;
  }
  QFARM_RETURN_IF_ERROR(CheckCount(what + ": int32_data", p.int32_data_size(), n));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t v = p.int32_data(static_cast<int>(i));
    if (v < DTypeMin(*dtype) || v > DTypeMax(*dtype)) {
      return InvalidArgument(what + ": value " + std::to_string(v) + " at index " + std::to_string(i) +
                             " is out of range for " + std::string(DTypeName(*dtype)));
    }
    t.SetInt(i, v);
  }
  return t;
}

void TensorToProto(const std::string& name, const Tensor& t, onnx::TensorProto* p) {
  p->set_name(name);
  p->set_data_type(static_cast<int32_t>(t.dtype()));
  for (int64_t d : t.shape()) p->add_dims(d);
  if (t.dtype() == DType::kInt4 || t.dtype() == DType::kUInt4) {
    std::string raw(static_cast<size_t>((t.numel() + 1) / 2), '\0');
    for (int64_t i = 0; i < t.numel(); ++i) {
      const uint8_t nib = static_cast<uint8_t>(t.GetInt(i) & 0xf);
      raw[static_cast<size_t>(i / 2)] = static_cast<char>(raw[static_cast<size_t>(i / 2)] | (i % 2 ? nib << 4 : nib));
    }
    p->set_raw_data(raw);
    return;
  }
  p->set_raw_data(std::string(reinterpret_cast<const char*>(t.bytes().data()), t.bytes().size()));
}

StatusOr<ValueInfo> ValueInfoFromProto(const onnx::ValueInfoProto& v) {
  ValueInfo info;
  info.name = v.name();
  if (!v.type().has_tensor_type()) return InvalidArgument("value '" + v.name() + "': not a tensor");
  const auto& tt = v.type().tensor_type();
  auto dtype = DTypeFromOnnx(tt.elem_type());
  if (!dtype.ok()) return InvalidArgument("value '" + v.name() + "': " + dtype.status().message());
  info.dtype = *dtype;
  for (const auto& d : tt.shape().dim()) info.shape.push_back(d.has_dim_value() ? d.dim_value() : -1);
  return info;
}

void ValueInfoToProto(const ValueInfo& v, onnx::ValueInfoProto* p) {
  p->set_name(v.name);
  auto* tt = p->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(static_cast<int32_t>(v.dtype));
  for (int64_t d : v.shape) {
    if (d >= 0) tt->mutable_shape()->add_dim()->set_dim_value(d); else tt->mutable_shape()->add_dim()->set_dim_param("N");
  }
}

StatusOr<Attribute> AttributeFromProto(const onnx::AttributeProto& a, int64_t max_elements) {
  switch (a.type()) {
    case onnx::AttributeProto::INT: return Attribute::Int(a.i());
    case onnx::AttributeProto::FLOAT: return Attribute::Float(a.f());
    case onnx::AttributeProto::STRING: return Attribute::String(a.s());
    case onnx::AttributeProto::INTS: return Attribute::Ints({a.ints().begin(), a.ints().end()});
    case onnx::AttributeProto::FLOATS: return Attribute::Floats({a.floats().begin(), a.floats().end()});
    case onnx::AttributeProto::TENSOR: {
      QFARM_ASSIGN_OR_RETURN(Tensor t, TensorFromProto(a.t(), max_elements));
      return Attribute::FromTensor(std::move(t));
    }
    default:
      return InvalidArgument("attribute '" + a.name() + "': unsupported attribute type " +
                             std::to_string(a.type()));
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

Status CheckOpsets(const onnx::ModelProto& m, int64_t* opset) {
  *opset = -1;
  for (const auto& o : m.opset_import()) {
    if (o.domain().empty() || o.domain() == "ai.onnx") {
      if (o.version() < 10 || o.version() > 19) {
        return InvalidArgument("opset_import: ai.onnx version " + std::to_string(o.version()) +
                               " is not supported (qfarm reads opsets 10 to 19)");
      }
      *opset = o.version();
    } else if (o.domain() != "com.microsoft" && o.domain() != "ai.onnx.ml") {
      return InvalidArgument("opset_import: domain '" + o.domain() + "' is not supported");
    }
  }
  if (*opset < 0) return InvalidArgument("opset_import: no ai.onnx opset is declared");
  return Status::Ok();
}

// Stable topological order (Kahn's algorithm by original index); error names a node on a cycle.
Status SortTopologically(Graph& g) {
  std::set<std::string> ready;
  for (const auto& [name, t] : g.initializers) ready.insert(name);
  for (const ValueInfo& v : g.inputs) ready.insert(v.name);
  std::vector<Node> sorted;
  std::vector<bool> done(g.nodes.size(), false);
  bool progress = true;
  while (sorted.size() < g.nodes.size() && progress) {
    progress = false;
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      if (done[i]) continue;
      bool ok = true;
      for (const std::string& in : g.nodes[i].inputs) ok = ok && (in.empty() || ready.count(in));
      if (!ok) continue;
      done[i] = progress = true;
      for (const std::string& out : g.nodes[i].outputs) ready.insert(out);
      sorted.push_back(g.nodes[i]);
    }
  }
  if (sorted.size() < g.nodes.size()) {
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      if (done[i]) continue;
      const Node& n = g.nodes[i];
      for (const std::string& in : n.inputs) {
        if (!in.empty() && !ready.count(in)) {
          return InvalidArgument("node '" + n.name + "' (" + n.op_type + "): input '" + in +
                                 "' is never defined, or the graph has a cycle through it");
        }
      }
    }
  }
  g.nodes = std::move(sorted);
  return Status::Ok();
}

StatusOr<Node> NodeFromProto(const onnx::NodeProto& np, size_t index, int64_t max_elements) {
  Node n;
  n.op_type = np.op_type();
  n.domain = np.domain() == "ai.onnx" ? "" : np.domain();
  n.name = np.name().empty() ? np.op_type() + "_" + std::to_string(index) : np.name();
  n.inputs.assign(np.input().begin(), np.input().end());
  n.outputs.assign(np.output().begin(), np.output().end());
  for (const auto& a : np.attribute()) {
    auto attr = AttributeFromProto(a, max_elements);
    if (!attr.ok()) return attr.status().WithContext("node '" + n.name + "' (" + n.op_type + ")");
    n.attrs[a.name()] = std::move(*attr);
  }
  return n;
}

// A Constant node becomes an initializer.
StatusOr<Tensor> ConstantValue(const Node& n) {
  if (n.HasAttr("value")) return n.attrs.at("value").t;
  if (n.HasAttr("value_float")) return Tensor::Scalar(DType::kFloat32, n.AttrFloat("value_float", 0));
  if (n.HasAttr("value_int")) return Tensor::FromInts(DType::kInt64, {}, {n.AttrInt("value_int", 0)});
  if (n.HasAttr("value_ints")) {
    const auto v = n.AttrInts("value_ints");
    return Tensor::FromInts(DType::kInt64, {static_cast<int64_t>(v.size())}, v);
  }
  if (n.HasAttr("value_floats")) {
    const auto& f = n.attrs.at("value_floats").floats;
    return Tensor::FromDoubles(DType::kFloat32, {static_cast<int64_t>(f.size())}, {f.begin(), f.end()});
  }
  return InvalidArgument("node '" + n.name + "' (Constant): no supported value attribute");
}

StatusOr<Graph> GraphFromProto(const onnx::ModelProto& m, const ModelLimits& limits) {
  Graph g;
  QFARM_RETURN_IF_ERROR(CheckOpsets(m, &g.opset));
  const onnx::GraphProto& gp = m.graph();
  g.name = gp.name();
  for (const auto& t : gp.initializer()) {
    QFARM_ASSIGN_OR_RETURN(Tensor tensor, TensorFromProto(t, limits.max_tensor_elements));
    g.initializers[t.name()] = std::move(tensor);
  }
  for (const auto& v : gp.input()) {
    if (g.initializers.count(v.name())) continue;
    QFARM_ASSIGN_OR_RETURN(ValueInfo info, ValueInfoFromProto(v));
    g.inputs.push_back(std::move(info));
  }
  for (const auto& v : gp.output()) {
    QFARM_ASSIGN_OR_RETURN(ValueInfo info, ValueInfoFromProto(v));
    g.outputs.push_back(std::move(info));
  }
  for (int i = 0; i < gp.node_size(); ++i) {
    QFARM_ASSIGN_OR_RETURN(Node n, NodeFromProto(gp.node(i), static_cast<size_t>(i), limits.max_tensor_elements));
    if (n.op_type == "Constant" && n.domain.empty()) {
      if (n.outputs.size() != 1) return InvalidArgument("node '" + n.name + "' (Constant): needs one output");
      QFARM_ASSIGN_OR_RETURN(Tensor t, ConstantValue(n));
      g.initializers[n.outputs[0]] = std::move(t);
      continue;
    }
    g.nodes.push_back(std::move(n));
  }
  QFARM_RETURN_IF_ERROR(SortTopologically(g));
  QFARM_RETURN_IF_ERROR(Validate(g, limits).status());
  return g;
}

}  // namespace

StatusOr<Graph> ParseOnnxModel(const std::string& bytes, const std::string& label,
                               const ModelLimits& limits) {
  onnx::ModelProto m;
  if (bytes.empty()) return InvalidArgument(label + ": empty file, not an ONNX model");
  if (!m.ParseFromString(bytes)) {
    return InvalidArgument(label + ": not a valid ONNX model (protobuf parse failed: truncated or not ONNX)");
  }
  if (!m.has_graph()) return InvalidArgument(label + ": not a valid ONNX model (no graph)");
  auto g = GraphFromProto(m, limits);
  if (!g.ok()) return g.status().WithContext(label);
  return g;
}

StatusOr<Graph> LoadOnnxModel(const std::string& path, const ModelLimits& limits) {
  QFARM_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
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
  if (!m.SerializeToString(&out)) return Internal("cannot serialize model '" + g.name + "'");
  return out;
}

Status SaveOnnxModel(const Graph& graph, const std::string& path) {
  QFARM_ASSIGN_OR_RETURN(std::string bytes, SerializeOnnxModel(graph));
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) return InvalidArgument(path + ": cannot write");
  return Status::Ok();
}

StatusOr<NamedTensor> ReadTensorProtoFile(const std::string& path, int64_t max_elements) {
  QFARM_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  onnx::TensorProto p;
  if (bytes.empty() || !p.ParseFromString(bytes)) {
    return InvalidArgument(path + ": not a valid TensorProto (protobuf parse failed)");
  }
  auto t = TensorFromProto(p, max_elements);
  if (!t.ok()) return t.status().WithContext(path);
  return NamedTensor{p.name(), std::move(*t)};
}

Status WriteTensorProtoFile(const std::string& path, const std::string& name, const Tensor& t) {
  onnx::TensorProto p;
  TensorToProto(name, t, &p);
  std::ofstream f(path, std::ios::binary);
  if (!f || !p.SerializeToOstream(&f)) return InvalidArgument(path + ": cannot write");
  return Status::Ok();
}

StatusOr<NamedTensor> ReadTensorFile(const std::string& path, int64_t max_elements) {
  const auto ends_with = [&](const std::string& s) {
    return path.size() >= s.size() && path.compare(path.size() - s.size(), s.size(), s) == 0;
  };
  if (ends_with(".npy")) {
    QFARM_ASSIGN_OR_RETURN(Tensor t, ReadNpy(path, max_elements));
    return NamedTensor{"", std::move(t)};
  }
  if (ends_with(".pb")) return ReadTensorProtoFile(path, max_elements);
  return InvalidArgument(path + ": unknown tensor file type (expected .pb or .npy)");
}

}  // namespace qfarm
