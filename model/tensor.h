// Tensor: a dense, row-major n-d array of one element type, owned by value.
//
// Element types use ONNX TensorProto's numbering so files round-trip without a table. In memory
// every element occupies its natural C++ type; int4/uint4 are unpacked to one int8/uint8 per
// element (packing is a file-format concern, see tensor_file.h), float16 is kept as its IEEE bit
// pattern in uint16. Not thread-safe for concurrent mutation; copying copies the data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <memory>
#include <utility>
#include <vector>

#include "common/no_init_allocator.h"
#include "common/status.h"

namespace qfarm {

enum class DType : int32_t {
  kUndefined = 0,
  kFloat32 = 1,
  kUInt8 = 2,
  kInt8 = 3,
  kUInt16 = 4,
  kInt16 = 5,
  kInt32 = 6,
  kInt64 = 7,
  kFloat16 = 10,
  kFloat64 = 11,
  kUInt4 = 21,
  kInt4 = 22,
};

using Shape = std::vector<int64_t>;

// Name as ONNX spells it ("int8", "float", ...).
std::string_view DTypeName(DType t);
// Parses an ONNX data_type number; error for types qfarm does not handle.
StatusOr<DType> DTypeFromOnnx(int32_t onnx_type);
// Bytes per element in memory (int4 → 1, float16 → 2).
size_t DTypeSize(DType t);
bool IsIntegerType(DType t);
bool IsFloatType(DType t);
// Representable range of an integer type (int4: [-8, 7], uint4: [0, 15], ...).
int64_t DTypeMin(DType t);
int64_t DTypeMax(DType t);

// Number of elements of a shape; -1 if any dim is negative; saturates at INT64_MAX.
int64_t NumElements(const Shape& shape);
std::string ShapeToString(const Shape& shape);  // "[1,3,224,224]"

float HalfToFloat(uint16_t h);
uint16_t FloatToHalf(float f);  // round to nearest even, as IEEE conversion does

class Tensor {
 public:
  Tensor() = default;
  Tensor(DType dtype, Shape shape);  // zero-filled
  // Storage left uninitialized, for kernels that write every element before anyone reads it.
  static Tensor Uninitialized(DType dtype, Shape shape);

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t numel() const { return numel_; }
  size_t rank() const { return shape_.size(); }
  int64_t dim(size_t i) const { return shape_[i]; }

  // Typed view; T must match dtype()'s storage type (int4 → int8_t, float16 → uint16_t).
  template <typename T>
  std::span<T> data() {
    return {reinterpret_cast<T*>(bytes_.data()), static_cast<size_t>(numel_)};
  }
  template <typename T>
  std::span<const T> data() const {
    return {reinterpret_cast<const T*>(bytes_.data()), static_cast<size_t>(numel_)};
  }
  std::span<const std::byte> bytes() const { return bytes_; }
  std::span<std::byte> mutable_bytes() { return bytes_; }

  // Element access through a common type, for plain-loop code that handles every dtype.
  // GetInt on a float tensor truncates; SetInt does not range-check (callers saturate first).
  int64_t GetInt(int64_t i) const;
  void SetInt(int64_t i, int64_t v);
  double GetDouble(int64_t i) const;     // float16/float32 exactly widened
  void SetDouble(int64_t i, double v);   // converted with one IEEE rounding to the dtype

  // Same dtype, shape and bytes.
  bool operator==(const Tensor& o) const;

  // Factories for tests and the model builder.
  static Tensor Scalar(DType dtype, double v);
  static Tensor FromInts(DType dtype, Shape shape, const std::vector<int64_t>& values);
  static Tensor FromDoubles(DType dtype, Shape shape, const std::vector<double>& values);

  // Reinterprets with a new shape of the same element count.
  Status Reshape(Shape shape);

 private:
  DType dtype_ = DType::kUndefined;
  Shape shape_;
  int64_t numel_ = 0;
  std::vector<std::byte, NoInitAllocator<std::byte>> bytes_;
};

}  // namespace qfarm
