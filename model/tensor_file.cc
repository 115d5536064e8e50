// NumPy .npy files (format versions 1.0, 2.0 and 3.0), little-endian, C order.
#include <cstring>
#include <fstream>
#include <sstream>

#include "model/tensor_file.h"

namespace qfarm {
namespace {

struct Descr {
  const char* text;
  DType dtype;
};
constexpr Descr kDescrs[] = {{"|i1", DType::kInt8},    {"|u1", DType::kUInt8},
                             {"<i2", DType::kInt16},   {"<u2", DType::kUInt16},
                             {"<i4", DType::kInt32},   {"<i8", DType::kInt64},
                             {"<f2", DType::kFloat16}, {"<f4", DType::kFloat32},
                             {"<f8", DType::kFloat64}, {"i1", DType::kInt8},
                             {"u1", DType::kUInt8}};

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

// Value of `key` in the header dict, e.g. 'descr': '<f4' → "<f4" (quotes stripped).
bool DictValue(const std::string& header, const std::string& key, std::string* value) {
  const size_t k = header.find("'" + key + "'");
  if (k == std::string::npos) return false;
  size_t p = header.find(':', k);
  if (p == std::string::npos) return false;
  ++p;
  while (p < header.size() && header[p] == ' ') ++p;
  if (p >= header.size()) return false;
  if (header[p] == '\'') {
    const size_t end = header.find('\'', p + 1);
    if (end == std::string::npos) return false;
    *value = header.substr(p + 1, end - p - 1);
  } else if (header[p] == '(') {
    const size_t end = header.find(')', p);
    if (end == std::string::npos) return false;
    *value = header.substr(p + 1, end - p - 1);
  } else {
    const size_t end = header.find_first_of(",}", p);
    if (end == std::string::npos) return false;
    *value = header.substr(p, end - p);
  }
  return true;
}

StatusOr<Shape> ParseShape(const std::string& text) {
  Shape shape;
  std::string item;
  std::stringstream ss(text);
  while (std::getline(ss, item, ',')) {
    size_t b = item.find_first_not_of(' ');
    if (b == std::string::npos) continue;  // trailing comma of a 1-tuple
    item = item.substr(b, item.find_last_not_of(' ') - b + 1);
    if (item.empty() || item.size() > 12 || item.find_first_not_of("0123456789") != std::string::npos) {
      return InvalidArgument("bad shape entry '" + item + "'");
    }
    shape.push_back(std::stoll(item));
  }
  return shape;
}

}  // namespace

StatusOr<Tensor> ParseNpy(const std::string& bytes, int64_t max_elements) {
  if (bytes.size() < 10 || std::memcmp(bytes.data(), "\x93NUMPY", 6) != 0) {
    return InvalidArgument("not a .npy file (missing \\x93NUMPY magic)");
  }
  const int major = static_cast<unsigned char>(bytes[6]);
  size_t header_len, offset;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<size_t>(static_cast<unsigned char>(bytes[9])) << 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return InvalidArgument("truncated header");
    header_len = 0;
    for (int i = 0; i < 4; ++i) header_len |= static_cast<size_t>(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
    offset = 12;
  } else {
    return InvalidArgument("unsupported .npy format version " + std::to_string(major));
  }
  if (header_len > bytes.size() - offset) return InvalidArgument("header length exceeds the file");
  const std::string header = bytes.substr(offset, header_len);
  std::string descr, fortran, shape_text;
  if (!DictValue(header, "descr", &descr) || !DictValue(header, "fortran_order", &fortran) ||
      !DictValue(header, "shape", &shape_text)) {
    return InvalidArgument("header dict lacks descr, fortran_order or shape");
  }
  if (fortran.find("False") == std::string::npos) return InvalidArgument("fortran_order arrays are not supported");
  DType dtype = DType::kUndefined;
  for (const Descr& d : kDescrs) {
    if (descr == d.text) dtype = d.dtype;
  }
  if (dtype == DType::kUndefined) return InvalidArgument("unsupported dtype '" + descr + "'");
  QFARM_ASSIGN_OR_RETURN(Shape shape, ParseShape(shape_text));
  const int64_t n = NumElements(shape);
  if (n < 0 || n > max_elements) {
    return ResourceExhausted("shape " + ShapeToString(shape) + " exceeds the limit of " +
                             std::to_string(max_elements) + " elements");
  }
  const size_t data_bytes = static_cast<size_t>(n) * DTypeSize(dtype);
  const size_t data_offset = offset + header_len;
  if (bytes.size() - data_offset != data_bytes) {
    return InvalidArgument("data is " + std::to_string(bytes.size() - data_offset) +
                           " bytes, shape " + ShapeToString(shape) + " needs " +
                           std::to_string(data_bytes));
  }
  Tensor t(dtype, shape);
  if (data_bytes) std::memcpy(t.mutable_bytes().data(), bytes.data() + data_offset, data_bytes);
  return t;
}

StatusOr<Tensor> ReadNpy(const std::string& path, int64_t max_elements) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return NotFound(path + ": cannot open");
  f.seekg(0, std::ios::end);
  const std::streamoff size = f.tellg();
  const int64_t max_bytes = max_elements * 8 + (int64_t{1} << 20);
  if (size > max_bytes) return ResourceExhausted(path + ": npy: file is larger than the limit");
  f.seekg(0);
  std::string bytes(static_cast<size_t>(size), '\0');
  f.read(bytes.data(), size);
  auto t = ParseNpy(bytes, max_elements);
  if (!t.ok()) return t.status().WithContext(path + ": npy");
  return t;
}

Status WriteNpy(const std::string& path, const Tensor& t) {
  const char* descr = DescrOf(t.dtype());
  if (!descr) return InvalidArgument(path + ": npy: cannot write element type " + std::string(DTypeName(t.dtype())));
  std::string shape = "(";
  for (size_t i = 0; i < t.rank(); ++i) shape += std::to_string(t.dim(i)) + (t.rank() == 1 || i + 1 < t.rank() ? "," : "");
  shape += ")";
  std::string header = "{'descr': '" + std::string(descr) + "', 'fortran_order': False, 'shape': " + shape + ", }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::ofstream f(path, std::ios::binary);
  if (!f) return InvalidArgument(path + ": cannot open for writing");
  const unsigned char preamble[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                                      static_cast<unsigned char>(header.size() & 0xff),
                                      static_cast<unsigned char>(header.size() >> 8)};
  f.write(reinterpret_cast<const char*>(preamble), 10);
  f.write(header.data(), static_cast<std::streamsize>(header.size()));
  f.write(reinterpret_cast<const char*>(t.bytes().data()), static_cast<std::streamsize>(t.bytes().size()));
  if (!f) return InvalidArgument(path + ": write failed");
  return Status::Ok();
}

}  // namespace qfarm
