#include "model/ir_file.h"

#include <cstring>
#include <fstream>

namespace qfarm {
namespace {

class Writer {
 public:
  template <typename T>
  void Pod(T v) { out_.append(reinterpret_cast<const char*>(&v), sizeof(T)); }
  void Str(const std::string& s) { Pod<uint32_t>(static_cast<uint32_t>(s.size())); out_ += s; }
  void Value(const ValueInfo& v) {
    Str(v.name);
    Pod<int32_t>(static_cast<int32_t>(v.dtype));
    Pod<uint32_t>(static_cast<uint32_t>(v.shape.size()));
    for (int64_t d : v.shape) Pod<int64_t>(d);
  }
  void TensorData(const Tensor& t) {
    Pod<int32_t>(static_cast<int32_t>(t.dtype()));
    Pod<uint32_t>(static_cast<uint32_t>(t.rank()));
    for (int64_t d : t.shape()) Pod<int64_t>(d);
    Pod<uint64_t>(t.bytes().size());
    out_.append(reinterpret_cast<const char*>(t.bytes().data()), t.bytes().size());
  }
  std::string& out() { return out_; }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(const std::string& b) : b_(b) {}
  template <typename T>
  bool Pod(T* v) {
    if (b_.size() - pos_ < sizeof(T)) return false;
    std::memcpy(v, b_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool Str(std::string* s) {
    uint32_t n;
    if (!Pod(&n) || b_.size() - pos_ < n) return false;
    s->assign(b_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  bool ReadShape(qfarm::Shape* shape) {
    uint32_t rank;
    if (!Pod(&rank) || rank > 16) return false;
    shape->resize(rank);
    for (int64_t& d : *shape) if (!Pod(&d) || d < -1) return false;
    return true;
  }
  bool Value(ValueInfo* v) {
    int32_t t;
    if (!Str(&v->name) || !Pod(&t) || !ReadShape(&v->shape)) return false;
    auto dt = DTypeFromOnnx(t);
    if (!dt.ok() && t != 0) return false;
    v->dtype = dt.ok() ? *dt : DType::kUndefined;
    return true;
  }
  bool TensorData(Tensor* t) {
    int32_t dtype;
    qfarm::Shape shape;
    uint64_t nbytes;
    if (!Pod(&dtype) || !ReadShape(&shape) || !Pod(&nbytes)) return false;
    auto dt = DTypeFromOnnx(dtype);
    const int64_t n = NumElements(shape);
    if (!dt.ok() || n < 0 || n > (int64_t{1} << 28)) return false;
    if (nbytes != static_cast<uint64_t>(n) * DTypeSize(*dt) || b_.size() - pos_ < nbytes) return false;
    *t = Tensor(*dt, shape);
    if (nbytes) std::memcpy(t->mutable_bytes().data(), b_.data() + pos_, nbytes);
    pos_ += nbytes;
    return true;
  }
  bool Count(uint32_t* n, uint32_t max) { return Pod(n) && *n <= max; }
  bool AtEnd() const { return pos_ == b_.size(); }

 private:
  const std::string& b_;
  size_t pos_ = 0;
};

void WriteAttr(Writer& w, const std::string& key, const Attribute& a) {
  w.Str(key);
  w.Pod<uint8_t>(static_cast<uint8_t>(a.kind));
  switch (a.kind) {
    case Attribute::Kind::kInt: w.Pod<int64_t>(a.i); break;
    case Attribute::Kind::kFloat: w.Pod<float>(a.f); break;
    case Attribute::Kind::kString: w.Str(a.s); break;
    case Attribute::Kind::kInts:
      w.Pod<uint32_t>(static_cast<uint32_t>(a.ints.size()));
      for (int64_t v : a.ints) w.Pod<int64_t>(v);
      break;
    case Attribute::Kind::kFloats:
      w.Pod<uint32_t>(static_cast<uint32_t>(a.floats.size()));
      for (float v : a.floats) w.Pod<float>(v);
      break;
    case Attribute::Kind::kTensor: w.TensorData(a.t); break;
  }
}

bool ReadAttr(Reader& r, Node* n) {
  std::string key;
  uint8_t kind;
  if (!r.Str(&key) || !r.Pod(&kind) || kind > 5) return false;
  Attribute a;
  a.kind = static_cast<Attribute::Kind>(kind);
  uint32_t count;
  switch (a.kind) {
    case Attribute::Kind::kInt: if (!r.Pod(&a.i)) return false; break;
    case Attribute::Kind::kFloat: if (!r.Pod(&a.f)) return false; break;
    case Attribute::Kind::kString: if (!r.Str(&a.s)) return false; break;
    case Attribute::Kind::kInts:
      if (!r.Count(&count, 1 << 20)) return false;
      a.ints.resize(count);
      for (int64_t& v : a.ints) if (!r.Pod(&v)) return false;
      break;
    case Attribute::Kind::kFloats:
      if (!r.Count(&count, 1 << 20)) return false;
      a.floats.resize(count);
      for (float& v : a.floats) if (!r.Pod(&v)) return false;
      break;
    case Attribute::Kind::kTensor: if (!r.TensorData(&a.t)) return false; break;
  }
  n->attrs[key] = std::move(a);
  return true;
}

bool ReadStrings(Reader& r, std::vector<std::string>* v) {
  uint32_t n;
  if (!r.Count(&n, 1 << 16)) return false;
  v->resize(n);
  for (std::string& s : *v) if (!r.Str(&s)) return false;
  return true;
}

void WriteStrings(Writer& w, const std::vector<std::string>& v) {
  w.Pod<uint32_t>(static_cast<uint32_t>(v.size()));
  for (const std::string& s : v) w.Str(s);
}

bool ReadGraphBody(Reader& r, Graph* g) {
  uint32_t n;
  if (!r.Str(&g->name) || !r.Pod(&g->opset)) return false;
  for (auto* list : {&g->inputs, &g->outputs}) {
    if (!r.Count(&n, 1 << 16)) return false;
    list->resize(n);
    for (ValueInfo& v : *list) if (!r.Value(&v)) return false;
  }
  if (!r.Count(&n, 1 << 20)) return false;
  for (uint32_t i = 0; i < n; ++i) {
    std::string name;
    Tensor t;
    if (!r.Str(&name) || !r.TensorData(&t)) return false;
    g->initializers[name] = std::move(t);
  }
  if (!r.Count(&n, 1 << 20)) return false;
  g->nodes.resize(n);
  for (Node& node : g->nodes) {
    uint32_t attrs;
    if (!r.Str(&node.name) || !r.Str(&node.op_type) || !r.Str(&node.domain) ||
        !ReadStrings(r, &node.inputs) || !ReadStrings(r, &node.outputs) || !r.Count(&attrs, 1 << 10)) {
      return false;
    }
    for (uint32_t a = 0; a < attrs; ++a) if (!ReadAttr(r, &node)) return false;
  }
  return r.AtEnd();
}

}  // namespace

std::string SerializeGraph(const Graph& g) {
  Writer w;
  w.out() = "QFIR";
  w.Pod<uint32_t>(1);
  w.Str(g.name);
  w.Pod<int64_t>(g.opset);
  for (const auto* list : {&g.inputs, &g.outputs}) {
    w.Pod<uint32_t>(static_cast<uint32_t>(list->size()));
    for (const ValueInfo& v : *list) w.Value(v);
  }
  w.Pod<uint32_t>(static_cast<uint32_t>(g.initializers.size()));
  for (const auto& [name, t] : g.initializers) { w.Str(name); w.TensorData(t); }
  w.Pod<uint32_t>(static_cast<uint32_t>(g.nodes.size()));
  for (const Node& n : g.nodes) {
    w.Str(n.name);
    w.Str(n.op_type);
    w.Str(n.domain);
    WriteStrings(w, n.inputs);
    WriteStrings(w, n.outputs);
    w.Pod<uint32_t>(static_cast<uint32_t>(n.attrs.size()));
    for (const auto& [k, a] : n.attrs) WriteAttr(w, k, a);
  }
  return w.out();
}

StatusOr<Graph> ParseGraph(const std::string& bytes) {
  if (bytes.size() < 8 || bytes.compare(0, 4, "QFIR") != 0) return InvalidArgument("not a qfarm IR file (no QFIR magic)");
  Reader r(bytes);
  uint32_t magic, version;
  r.Pod(&magic);
  if (!r.Pod(&version) || version != 1) return InvalidArgument("unsupported qfarm IR version");
  Graph g;
  if (!ReadGraphBody(r, &g)) return InvalidArgument("truncated or malformed qfarm IR file");
  return g;
}

std::string SerializeTensors(const TensorMap& tensors) {
  Writer w;
  w.out() = "QFTM";
  w.Pod<uint32_t>(1);
  w.Pod<uint32_t>(static_cast<uint32_t>(tensors.size()));
  for (const auto& [name, t] : tensors) { w.Str(name); w.TensorData(t); }
  return w.out();
}

StatusOr<TensorMap> ParseTensors(const std::string& bytes) {
  if (bytes.size() < 12 || bytes.compare(0, 4, "QFTM") != 0) return InvalidArgument("not a qfarm tensor file (no QFTM magic)");
  Reader r(bytes);
  uint32_t magic, version, n;
  r.Pod(&magic);
  if (!r.Pod(&version) || version != 1 || !r.Count(&n, 1 << 20)) return InvalidArgument("malformed qfarm tensor file");
  TensorMap out;
  for (uint32_t i = 0; i < n; ++i) {
    std::string name;
    Tensor t;
    if (!r.Str(&name) || !r.TensorData(&t)) return InvalidArgument("truncated or malformed qfarm tensor file");
    out[name] = std::move(t);
  }
  if (!r.AtEnd()) return InvalidArgument("trailing bytes in qfarm tensor file");
  return out;
}

Status WriteFileBytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) return InvalidArgument(path + ": cannot write");
  return Status::Ok();
}

StatusOr<std::string> ReadFileBytes(const std::string& path, int64_t max_bytes) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return NotFound(path + ": cannot open");
  f.seekg(0, std::ios::end);
  const std::streamoff size = f.tellg();
  if (size < 0 || size > max_bytes) return ResourceExhausted(path + ": file too large");
  f.seekg(0);
  std::string bytes(static_cast<size_t>(size), '\0');
  f.read(bytes.data(), size);
  if (!f) return InvalidArgument(path + ": read failed");
  return bytes;
}

}  // namespace qfarm
