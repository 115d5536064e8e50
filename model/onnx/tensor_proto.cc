// TensorProto ⇄ Tensor, guarded file I/O, and the .pb/.npy tensor files (model/onnx/onnx_io.h).
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "model/onnx/onnx_internal.h"
#include "model/onnx/onnx_io.h"

namespace qfarm {
namespace onnx_internal {
namespace {

static_assert(std::endian::native == std::endian::little,
              "raw_data is little-endian; a big-endian host would need byte swapping");

bool IsInt4(int32_t onnx_type) { return onnx_type == kOnnxInt4 || onnx_type == kOnnxUInt4; }

// The 4-bit element i of packed bytes (element 0 in the low nibble), sign-extended for INT4.
int64_t Nibble(uint8_t byte, int64_t i, bool is_signed) {
  const int nib = (i % 2 == 0) ? (byte & 0xf) : (byte >> 4);
  return is_signed && nib >= 8 ? nib - 16 : nib;
}

Status CountMismatch(const std::string& what, const std::string& field, int64_t got, int64_t want) {
  return InvalidArgument(what + ": " + field + " holds " + std::to_string(got) + " values, shape needs " +
                         std::to_string(want));
}

// raw_data: little-endian bytes, int4/uint4 packed two per byte.
StatusOr<Tensor> FromRawData(const onnx::TensorProto& p, const std::string& what, DType dtype,
                             const Shape& shape, int64_t n) {
  const std::string& raw = p.raw_data();
  const bool int4 = IsInt4(p.data_type());
  const uint64_t want = int4 ? static_cast<uint64_t>((n + 1) / 2)
                             : static_cast<uint64_t>(n) * DTypeSize(dtype);  // n ≤ max_elements
  if (raw.size() != want) {
    return InvalidArgument(what + ": raw_data is " + std::to_string(raw.size()) + " bytes, " +
                           ShapeToString(shape) + " of " + std::string(DTypeName(dtype)) + " needs " +
                           std::to_string(want));
  }
  Tensor t(dtype, shape);
  if (!int4) {
    if (want != 0) std::memcpy(t.mutable_bytes().data(), raw.data(), want);
    return t;
  }
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t byte = static_cast<uint8_t>(raw[static_cast<size_t>(i / 2)]);
    t.SetInt(i, Nibble(byte, i, p.data_type() == kOnnxInt4));
  }
  return t;
}

// int32_data as ONNX stores small types: one value per entry (int8/uint8/int16/uint16), the
// float16 bit pattern per entry, or one packed byte (two elements) per entry for int4/uint4.
StatusOr<Tensor> FromInt32Data(const onnx::TensorProto& p, const std::string& what, DType dtype,
                               const Shape& shape, int64_t n) {
  const bool int4 = IsInt4(p.data_type());
  const int64_t want = int4 ? (n + 1) / 2 : n;
  if (p.int32_data_size() != want) {
    return CountMismatch(what, int4 ? "int32_data (packed int4)" : "int32_data", p.int32_data_size(), want);
  }
  // Packed int4 bytes may have been written sign-extended (−128..−1) or not (128..255).
  const int64_t lo = int4 ? -128 : dtype == DType::kFloat16 ? 0 : DTypeMin(dtype);
  const int64_t hi = int4 ? 255 : dtype == DType::kFloat16 ? 0xffff : DTypeMax(dtype);
  for (int64_t k = 0; k < want; ++k) {
    const int64_t v = p.int32_data(static_cast<int>(k));
    if (v < lo || v > hi) {
      return InvalidArgument(what + ": int32_data value " + std::to_string(v) + " at index " + std::to_string(k) +
                             " is out of range for " + std::string(DTypeName(dtype)));
    }
  }
  Tensor t(dtype, shape);
  if (dtype == DType::kFloat16) {
    auto bits = t.data<uint16_t>();
    for (int64_t i = 0; i < n; ++i) bits[static_cast<size_t>(i)] = static_cast<uint16_t>(p.int32_data(static_cast<int>(i)));
  } else if (int4) {
    for (int64_t i = 0; i < n; ++i) {
      const uint8_t byte = static_cast<uint8_t>(p.int32_data(static_cast<int>(i / 2)) & 0xff);
      t.SetInt(i, Nibble(byte, i, p.data_type() == kOnnxInt4));
    }
  } else {
    for (int64_t i = 0; i < n; ++i) t.SetInt(i, p.int32_data(static_cast<int>(i)));
  }
  return t;
}

StatusOr<Tensor> FromTypedFields(const onnx::TensorProto& p, const std::string& what, DType dtype,
                                 const Shape& shape, int64_t n) {
  switch (dtype) {
    case DType::kFloat32: {
      if (p.float_data_size() != n) return CountMismatch(what, "float_data", p.float_data_size(), n);
      Tensor t(dtype, shape);
      std::copy(p.float_data().begin(), p.float_data().end(), t.data<float>().begin());
      return t;
    }
    case DType::kFloat64: {
      if (p.double_data_size() != n) return CountMismatch(what, "double_data", p.double_data_size(), n);
      Tensor t(dtype, shape);
      std::copy(p.double_data().begin(), p.double_data().end(), t.data<double>().begin());
      return t;
    }
    case DType::kInt64: {
      if (p.int64_data_size() != n) return CountMismatch(what, "int64_data", p.int64_data_size(), n);
      Tensor t(dtype, shape);
      std::copy(p.int64_data().begin(), p.int64_data().end(), t.data<int64_t>().begin());
      return t;
    }
    case DType::kInt32: {
      if (p.int32_data_size() != n) return CountMismatch(what, "int32_data", p.int32_data_size(), n);
      Tensor t(dtype, shape);
      std::copy(p.int32_data().begin(), p.int32_data().end(), t.data<int32_t>().begin());
      return t;
    }
    default:
      return FromInt32Data(p, what, dtype, shape, n);
  }
}

}  // namespace

StatusOr<Tensor> TensorFromProto(const onnx::TensorProto& p, int64_t max_elements) {
  const std::string what = "tensor '" + p.name() + "'";
  if (p.data_location() == onnx::TensorProto::EXTERNAL || p.external_data_size() > 0) {
    return InvalidArgument(what + ": external data is not supported (embed the data in the model file)");
  }
  if (p.has_segment()) return InvalidArgument(what + ": segmented tensors are not supported");
  auto dtype = DTypeFromOnnx(p.data_type());
  if (!dtype.ok()) return InvalidArgument(what + ": data_type: " + dtype.status().message());
  Shape shape;
  for (int64_t d : p.dims()) {
    if (d < 0) return InvalidArgument(what + ": dims: negative dimension " + std::to_string(d));
    shape.push_back(d);
  }
  const int64_t n = NumElements(shape);  // saturates instead of overflowing
  if (n > max_elements) {
    return ResourceExhausted(what + ": dims " + ShapeToString(shape) + " give " +
                             (n == std::numeric_limits<int64_t>::max() ? "more than 2^63" : std::to_string(n)) +
                             " elements, over the limit of " + std::to_string(max_elements));
  }
  if (p.has_raw_data()) return FromRawData(p, what, *dtype, shape, n);
  return FromTypedFields(p, what, *dtype, shape, n);
}

void TensorToProto(const std::string& name, const Tensor& t, onnx::TensorProto* p) {
  p->set_name(name);
  p->set_data_type(static_cast<int32_t>(t.dtype()));
  for (int64_t d : t.shape()) p->add_dims(d);
  if (t.dtype() == DType::kInt4 || t.dtype() == DType::kUInt4) {
    std::string raw(static_cast<size_t>((t.numel() + 1) / 2), '\0');
    for (int64_t i = 0; i < t.numel(); ++i) {
      const auto nib = static_cast<uint8_t>(t.GetInt(i) & 0xf);
      auto& byte = raw[static_cast<size_t>(i / 2)];
      byte = static_cast<char>(static_cast<uint8_t>(byte) | (i % 2 ? nib << 4 : nib));
    }
    p->set_raw_data(raw);
    return;
  }
  p->set_raw_data(std::string(reinterpret_cast<const char*>(t.bytes().data()), t.bytes().size()));
}

StatusOr<std::string> ReadFileLimited(const std::string& path, int64_t max_bytes) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return InvalidArgument(path + ": is a directory, not a file");
  std::ifstream f(path, std::ios::binary);
  if (!f) return NotFound(path + ": cannot open file");
  f.seekg(0, std::ios::end);
  const std::streamoff size = f.tellg();
  if (size < 0) return InvalidArgument(path + ": cannot determine the file size");
  if (size > max_bytes) {
    return ResourceExhausted(path + ": file is " + std::to_string(size) + " bytes, over the limit of " +
                             std::to_string(max_bytes));
  }
  f.seekg(0);
  std::string bytes(static_cast<size_t>(size), '\0');
  f.read(bytes.data(), size);
  if (!f) return InvalidArgument(path + ": read failed");
  return bytes;
}

Status WriteFileAtomic(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return InvalidArgument(path + ": cannot create file");
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    f.close();
    if (!f) {
      std::filesystem::remove(tmp);
      return InvalidArgument(path + ": write failed");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    return InvalidArgument(path + ": cannot replace the file: " + ec.message());
  }
  return Status::Ok();
}

}  // namespace onnx_internal

StatusOr<NamedTensor> ReadTensorProtoFile(const std::string& path, int64_t max_elements) {
  QFARM_ASSIGN_OR_RETURN(std::string bytes, onnx_internal::ReadFileLimited(path));
  if (bytes.empty()) return InvalidArgument(path + ": empty file, not a TensorProto");
  onnx::TensorProto p;
  if (!p.ParseFromString(bytes)) return InvalidArgument(path + ": not a valid TensorProto (protobuf parse failed)");
  auto t = onnx_internal::TensorFromProto(p, max_elements);
  if (!t.ok()) return t.status().WithContext(path);
  return NamedTensor{p.name(), std::move(*t)};
}

Status WriteTensorProtoFile(const std::string& path, const std::string& name, const Tensor& t) {
  onnx::TensorProto p;
  onnx_internal::TensorToProto(name, t, &p);
  std::string bytes;
  if (!p.SerializeToString(&bytes)) return Internal(path + ": cannot serialize tensor '" + name + "'");
  return onnx_internal::WriteFileAtomic(path, bytes);
}

StatusOr<NamedTensor> ReadTensorFile(const std::string& path, int64_t max_elements) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  if (ext == ".npy") {
    QFARM_ASSIGN_OR_RETURN(Tensor t, ReadNpy(path, max_elements));
    return NamedTensor{"", std::move(t)};
  }
  if (ext == ".pb") return ReadTensorProtoFile(path, max_elements);
  return InvalidArgument(path + ": unknown tensor file type '" + ext + "' (expected .pb or .npy)");
}

}  // namespace qfarm
