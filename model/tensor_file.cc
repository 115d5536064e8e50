// NumPy .npy files (format versions 1.0, 2.0 and 3.0), little-endian, C order.
//
// The header is a Python dict literal; it is parsed with a small strict grammar (string keys;
// string, True/False and integer-tuple values) rather than searched for substrings, so a hostile
// header cannot smuggle a second 'shape' inside a string or leave a tuple unterminated.
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>

#include "model/tensor_file.h"

namespace qfarm {
namespace {

constexpr size_t kMaxHeaderBytes = size_t{1} << 20;
constexpr size_t kMaxRank = 32;

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  Shape shape;
};

// Recursive-descent reader of the header dict. Every failure is one line saying what and where.
class DictParser {
 public:
  explicit DictParser(const std::string& text) : s_(text) {}

  StatusOr<NpyHeader> Parse() {
    std::map<std::string, bool> seen;
    NpyHeader h;
    SkipSpace();
    if (!Eat('{')) return Bad("header dict does not start with '{'");
    while (true) {
      SkipSpace();
      if (Eat('}')) break;
      std::string key;
      QFARM_RETURN_IF_ERROR(String(&key));
      SkipSpace();
      if (!Eat(':')) return Bad("expected ':' after key '" + key + "'");
      SkipSpace();
      if (seen[key]) return Bad("key '" + key + "' appears twice");
      seen[key] = true;
      if (key == "descr") {
        if (Peek() == '[') return Bad("structured dtypes are not supported");
        QFARM_RETURN_IF_ERROR(String(&h.descr));
      } else if (key == "fortran_order") {
        QFARM_RETURN_IF_ERROR(Bool(&h.fortran_order));
      } else if (key == "shape") {
        QFARM_RETURN_IF_ERROR(Tuple(&h.shape));
      } else {
        return Bad("unexpected key '" + key + "'");
      }
      SkipSpace();
      if (Eat(',')) continue;
      SkipSpace();
      if (Eat('}')) break;
      return Bad("expected ',' or '}' after the value of '" + key + "'");
    }
    SkipSpace();
    if (p_ != s_.size()) return Bad("unexpected text after the header dict");
    for (const char* k : {"descr", "fortran_order", "shape"}) {
      if (!seen[k]) return InvalidArgument(std::string("header dict lacks '") + k + "'");
    }
    return h;
  }

 private:
  Status Bad(const std::string& what) const {
    return InvalidArgument("bad header dict at byte " + std::to_string(p_) + ": " + what);
  }
  char Peek() const { return p_ < s_.size() ? s_[p_] : '\0'; }
  bool Eat(char c) {
    if (Peek() != c || p_ >= s_.size()) return false;
    ++p_;
    return true;
  }
  void SkipSpace() {
    while (p_ < s_.size() && (s_[p_] == ' ' || s_[p_] == '\n' || s_[p_] == '\t' || s_[p_] == '\r')) {
      ++p_;
    }
  }
  Status String(std::string* out) {
    const char quote = Peek();
    if (quote != '\'' && quote != '"') return Bad("expected a quoted string");
    const size_t end = s_.find(quote, p_ + 1);
    if (end == std::string::npos) return Bad("unterminated string");
    *out = s_.substr(p_ + 1, end - p_ - 1);
    if (out->find('\\') != std::string::npos) return Bad("escapes in strings are not supported");
    p_ = end + 1;
    return Status::Ok();
  }
  Status Bool(bool* out) {
    if (s_.compare(p_, 4, "True") == 0) {
      *out = true;
      p_ += 4;
    } else if (s_.compare(p_, 5, "False") == 0) {
      *out = false;
      p_ += 5;
    } else {
      return Bad("fortran_order must be True or False");
    }
    return Status::Ok();
  }
  // "(2, 3)", "(7,)", "()"; Python 2 files may write "3L".
  Status Tuple(Shape* out) {
    if (!Eat('(')) return Bad("shape must be a tuple");
    while (true) {
      SkipSpace();
      if (Eat(')')) return Status::Ok();
      int64_t v = 0;
      size_t digits = 0;
      while (p_ < s_.size() && s_[p_] >= '0' && s_[p_] <= '9') {
        if (++digits > 18) return Bad("shape entry has too many digits");
        v = v * 10 + (s_[p_++] - '0');
      }
      if (digits == 0) return Bad("shape entries must be non-negative integers");
      Eat('L');
      if (out->size() >= kMaxRank) return Bad("shape has more than 32 dimensions");
      out->push_back(v);
      SkipSpace();
      if (Eat(')')) return Status::Ok();
      if (!Eat(',')) return Bad("expected ',' or ')' in the shape");
    }
  }

  const std::string& s_;
  size_t p_ = 0;
};

// '<f4' → float. 1-byte types may use any byte-order mark; wider ones must be little-endian.
StatusOr<DType> DTypeOfDescr(const std::string& descr) {
  std::string d = descr;
  char order = '|';
  if (!d.empty() && (d[0] == '<' || d[0] == '>' || d[0] == '|' || d[0] == '=')) {
    order = d[0];
    d = d.substr(1);
  }
  static const std::map<std::string, DType> kinds = {
      {"i1", DType::kInt8},    {"u1", DType::kUInt8},    {"i2", DType::kInt16},
      {"u2", DType::kUInt16},  {"i4", DType::kInt32},    {"i8", DType::kInt64},
      {"f2", DType::kFloat16}, {"f4", DType::kFloat32},  {"f8", DType::kFloat64}};
  if (d == "b1" || d == "?") return InvalidArgument("bool arrays ('" + descr + "') are not supported");
  auto it = kinds.find(d);
  if (it == kinds.end()) return InvalidArgument("unsupported dtype '" + descr + "'");
  if (DTypeSize(it->second) > 1 && order != '<') {
    return InvalidArgument("dtype '" + descr + "' is not little-endian ('<')");
  }
  return it->second;
}

const char* DescrOf(DType t) {
  switch (t) {
    case DType::kInt4: case DType::kInt8: return "|i1";
    case DType::kUInt4: case DType::kUInt8: return "|u1";
    case DType::kInt16: return "<i2";
    case DType::kUInt16: return "<u2";
    case DType::kInt32: return "<i4";
    case DType::kInt64: return "<i8";
    case DType::kFloat16: return "<f2";
    case DType::kFloat32: return "<f4";
    case DType::kFloat64: return "<f8";
    default: return nullptr;
  }
}

uint32_t LittleEndian(const std::string& b, size_t at, size_t n) {
  uint32_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= static_cast<uint32_t>(static_cast<unsigned char>(b[at + i])) << (8 * i);
  return v;
}

// The preamble: magic, version, header length. Returns the header's offset and length.
Status ParsePreamble(const std::string& bytes, size_t* offset, size_t* header_len) {
  if (bytes.size() < 10 || std::memcmp(bytes.data(), "\x93NUMPY", 6) != 0) {
    return InvalidArgument("not a .npy file (missing \\x93NUMPY magic)");
  }
  const int major = static_cast<unsigned char>(bytes[6]);
  if (major == 1) {
    *header_len = LittleEndian(bytes, 8, 2);
    *offset = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return InvalidArgument("truncated header");
    *header_len = LittleEndian(bytes, 8, 4);
    *offset = 12;
  } else {
    return InvalidArgument("unsupported .npy format version " + std::to_string(major));
  }
  if (*header_len > bytes.size() - *offset) {
    return InvalidArgument("header length exceeds the file (" + std::to_string(*header_len) +
                           " bytes declared, " + std::to_string(bytes.size() - *offset) + " left)");
  }
  if (*header_len > kMaxHeaderBytes) return InvalidArgument("header is longer than 1 MiB");
  return Status::Ok();
}

}  // namespace

StatusOr<Tensor> ParseNpy(const std::string& bytes, int64_t max_elements) {
  size_t offset = 0, header_len = 0;
  QFARM_RETURN_IF_ERROR(ParsePreamble(bytes, &offset, &header_len));
  QFARM_ASSIGN_OR_RETURN(NpyHeader h, DictParser(bytes.substr(offset, header_len)).Parse());
  if (h.fortran_order) return InvalidArgument("fortran_order arrays are not supported");
  QFARM_ASSIGN_OR_RETURN(DType dtype, DTypeOfDescr(h.descr));
  const int64_t n = NumElements(h.shape);
  bool dim_too_big = false;
  for (int64_t d : h.shape) dim_too_big = dim_too_big || d > max_elements;
  if (n < 0 || n > max_elements || dim_too_big) {
    return ResourceExhausted("shape " + ShapeToString(h.shape) + " exceeds the limit of " +
                             std::to_string(max_elements) + " elements");
  }
  const size_t esize = DTypeSize(dtype);
  if (static_cast<uint64_t>(n) > std::numeric_limits<size_t>::max() / esize) {
    return ResourceExhausted("shape " + ShapeToString(h.shape) + " is too large");
  }
  const size_t data_bytes = static_cast<size_t>(n) * esize;
  const size_t have = bytes.size() - offset - header_len;
  if (have != data_bytes) {
    return InvalidArgument("data is " + std::to_string(have) + " bytes, shape " +
                           ShapeToString(h.shape) + " of " + std::string(DTypeName(dtype)) +
                           " needs " + std::to_string(data_bytes) +
                           (have < data_bytes ? " (truncated)" : " (trailing bytes)"));
  }
  Tensor t(dtype, h.shape);
  if (data_bytes) std::memcpy(t.mutable_bytes().data(), bytes.data() + offset + header_len, data_bytes);
  return t;
}

StatusOr<Tensor> ReadNpy(const std::string& path, int64_t max_elements) {
  const std::string where = path + ": npy";
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return NotFound(where + ": " + (std::filesystem::exists(path, ec) ? "not a regular file"
                                                                       : "no such file"));
  }
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) return NotFound(where + ": cannot read the file size");
  // The data plus a header: at most 8 bytes an element and kMaxHeaderBytes of preamble.
  const uintmax_t max_elems = max_elements < 0 ? 0 : static_cast<uintmax_t>(max_elements);
  const uintmax_t max_bytes = max_elems > (UINTMAX_MAX - 64 - kMaxHeaderBytes) / 8
                                  ? UINTMAX_MAX
                                  : max_elems * 8 + kMaxHeaderBytes + 64;
  if (size > max_bytes) {
    return ResourceExhausted(where + ": file is " + std::to_string(size) +
                             " bytes, larger than the limit of " + std::to_string(max_elements) +
                             " elements allows");
  }
  std::ifstream f(path, std::ios::binary);
  if (!f) return NotFound(where + ": cannot open");
  std::string bytes(static_cast<size_t>(size), '\0');
  f.read(bytes.data(), static_cast<std::streamsize>(size));
  if (static_cast<uintmax_t>(f.gcount()) != size) return InvalidArgument(where + ": read failed");
  auto t = ParseNpy(bytes, max_elements);
  if (!t.ok()) return t.status().WithContext(where);
  return t;
}

Status WriteNpy(const std::string& path, const Tensor& t) {
  const std::string where = path + ": npy";
  const char* descr = DescrOf(t.dtype());
  if (!descr) return InvalidArgument(where + ": cannot write element type " + std::string(DTypeName(t.dtype())));
  std::string shape = "(";
  for (size_t i = 0; i < t.rank(); ++i) {
    shape += std::to_string(t.dim(i)) + (t.rank() == 1 || i + 1 < t.rank() ? "," : "");
  }
  shape += ")";
  std::string header = "{'descr': '" + std::string(descr) + "', 'fortran_order': False, 'shape': " +
                       shape + ", }";
  // Version 1.0 holds a header of up to 65535 bytes; longer ones need 2.0 (4-byte length).
  const bool v2 = header.size() + 1 + 10 + 64 > 65535;
  const size_t preamble_len = v2 ? 12 : 10;
  while ((preamble_len + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string preamble = "\x93NUMPY";
  preamble += static_cast<char>(v2 ? 2 : 1);
  preamble += '\0';
  for (size_t i = 0; i < preamble_len - 8; ++i) preamble += static_cast<char>((header.size() >> (8 * i)) & 0xff);
  // Written to a temporary name and renamed, so a failed write never leaves a plausible file.
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return InvalidArgument(where + ": cannot open for writing");
    f.write(preamble.data(), static_cast<std::streamsize>(preamble.size()));
    f.write(header.data(), static_cast<std::streamsize>(header.size()));
    f.write(reinterpret_cast<const char*>(t.bytes().data()), static_cast<std::streamsize>(t.bytes().size()));
    f.flush();
    if (!f) {
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
      return InvalidArgument(where + ": write failed");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    return InvalidArgument(where + ": cannot rename the written file into place");
  }
  return Status::Ok();
}

}  // namespace qfarm
