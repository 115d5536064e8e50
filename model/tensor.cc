#include "model/tensor.h"

#include <bit>
#include <cmath>
#include <limits>

namespace qfarm {

std::string_view DTypeName(DType t) {
  switch (t) {
    case DType::kFloat32: return "float";
    case DType::kUInt8: return "uint8";
    case DType::kInt8: return "int8";
    case DType::kUInt16: return "uint16";
    case DType::kInt16: return "int16";
    case DType::kInt32: return "int32";
    case DType::kInt64: return "int64";
    case DType::kFloat16: return "float16";
    case DType::kFloat64: return "double";
    case DType::kUInt4: return "uint4";
    case DType::kInt4: return "int4";
    case DType::kUndefined: break;
  }
  return "undefined";
}

StatusOr<DType> DTypeFromOnnx(int32_t onnx_type) {
  switch (onnx_type) {
    case 1: case 2: case 3: case 4: case 5: case 6: case 7: case 10: case 11: case 21: case 22:
      return static_cast<DType>(onnx_type);
    default:
      return InvalidArgument("unsupported element type " + std::to_string(onnx_type));
  }
}

size_t DTypeSize(DType t) {
  switch (t) {
    case DType::kUInt8: case DType::kInt8: case DType::kUInt4: case DType::kInt4: return 1;
    case DType::kUInt16: case DType::kInt16: case DType::kFloat16: return 2;
    case DType::kInt32: case DType::kFloat32: return 4;
    case DType::kInt64: case DType::kFloat64: return 8;
    case DType::kUndefined: break;
  }
  return 0;
}

bool IsFloatType(DType t) {
  return t == DType::kFloat32 || t == DType::kFloat16 || t == DType::kFloat64;
}
bool IsIntegerType(DType t) { return t != DType::kUndefined && !IsFloatType(t); }

int64_t DTypeMin(DType t) {
  switch (t) {
    case DType::kInt4: return -8;
    case DType::kInt8: return -128;
    case DType::kInt16: return -32768;
    case DType::kInt32: return std::numeric_limits<int32_t>::min();
    case DType::kInt64: return std::numeric_limits<int64_t>::min();
    default: return 0;
  }
}

int64_t DTypeMax(DType t) {
  switch (t) {
    case DType::kInt4: return 7;
    case DType::kUInt4: return 15;
    case DType::kInt8: return 127;
    case DType::kUInt8: return 255;
    case DType::kInt16: return 32767;
    case DType::kUInt16: return 65535;
    case DType::kInt32: return std::numeric_limits<int32_t>::max();
    case DType::kInt64: return std::numeric_limits<int64_t>::max();
    default: return 0;
  }
}

int64_t NumElements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return -1;
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d) {
      return std::numeric_limits<int64_t>::max();
    }
    n *= d;
  }
  return n;
}

std::string ShapeToString(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h >> 15) << 31;
  const uint32_t exp = (h >> 10) & 0x1f;
  const uint32_t mant = h & 0x3ff;
  if (exp == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));
  if (exp == 0) {
    // Subnormal or zero: mant · 2^-24, exact in float.
    const float v = std::ldexp(static_cast<float>(mant), -24);
    return sign ? -v : v;
  }
  return std::bit_cast<float>(sign | ((exp + 112) << 23) | (mant << 13));
}

namespace {

// IEEE binary16 from a double with one rounding (nearest, ties to even). Scaling by powers of two
// is exact in double, so the only rounding is nearbyint's (default mode: half-even).
uint16_t DoubleToHalf(double v) {
  const uint16_t sign = std::signbit(v) ? 0x8000 : 0;
  const double a = std::fabs(v);
  if (std::isnan(v)) return sign | 0x7e00;
  if (a >= 65520.0) return sign | 0x7c00;  // 65520 is the tie between 65504 and 2^16: even is inf
  if (a < 0x1p-14) {
    // Subnormal (or zero): a multiple of 2^-24; 1024 · 2^-24 becomes the smallest normal.
    return sign | static_cast<uint16_t>(std::nearbyint(a * 0x1p24));
  }
  int e = 0;
  const double m = std::frexp(a, &e);  // a = m · 2^e, m in [0.5, 1)
  const auto q = static_cast<uint32_t>(std::nearbyint(std::ldexp(m, 11)));  // [1024, 2048]
  // A carry (q == 2048) moves into the exponent field, as it should.
  const uint32_t bits = (static_cast<uint32_t>(e - 1 + 15) << 10) + (q - 1024);
  return sign | static_cast<uint16_t>(bits);
}

}  // namespace

uint16_t FloatToHalf(float f) { return DoubleToHalf(static_cast<double>(f)); }

Tensor::Tensor(DType dtype, Shape shape)
    : dtype_(dtype), shape_(std::move(shape)), numel_(NumElements(shape_)) {
  if (numel_ < 0) numel_ = 0;
  bytes_.assign(static_cast<size_t>(numel_) * DTypeSize(dtype_), std::byte{0});
}

Tensor Tensor::Uninitialized(DType dtype, Shape shape) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.numel_ = std::max<int64_t>(0, NumElements(t.shape_));
  t.bytes_.resize(static_cast<size_t>(t.numel_) * DTypeSize(dtype));
  return t;
}

namespace {

template <typename T>
T Load(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

template <typename T>
void Store(std::byte* p, T v) {
  std::memcpy(p, &v, sizeof(T));
}

}  // namespace

int64_t Tensor::GetInt(int64_t i) const {
  const std::byte* p = bytes_.data() + static_cast<size_t>(i) * DTypeSize(dtype_);
  switch (dtype_) {
    case DType::kInt4: case DType::kInt8: return Load<int8_t>(p);
    case DType::kUInt4: case DType::kUInt8: return Load<uint8_t>(p);
    case DType::kInt16: return Load<int16_t>(p);
    case DType::kUInt16: return Load<uint16_t>(p);
    case DType::kInt32: return Load<int32_t>(p);
    case DType::kInt64: return Load<int64_t>(p);
    case DType::kUndefined: return 0;
    case DType::kFloat32: case DType::kFloat16: case DType::kFloat64: {
      // Truncation toward zero, saturated to int64 (NaN reads as 0).
      const double d = GetDouble(i);
      if (std::isnan(d)) return 0;
      if (d >= 0x1p63) return std::numeric_limits<int64_t>::max();
      if (d < -0x1p63) return std::numeric_limits<int64_t>::min();
      return static_cast<int64_t>(d);
    }
  }
  return 0;
}

void Tensor::SetInt(int64_t i, int64_t v) {
  std::byte* p = bytes_.data() + static_cast<size_t>(i) * DTypeSize(dtype_);
  switch (dtype_) {
    case DType::kInt4: case DType::kInt8: Store(p, static_cast<int8_t>(v)); return;
    case DType::kUInt4: case DType::kUInt8: Store(p, static_cast<uint8_t>(v)); return;
    case DType::kInt16: Store(p, static_cast<int16_t>(v)); return;
    case DType::kUInt16: Store(p, static_cast<uint16_t>(v)); return;
    case DType::kInt32: Store(p, static_cast<int32_t>(v)); return;
    case DType::kInt64: Store(p, v); return;
    // Float targets: one rounding from the exact integer (int64 → float is a single IEEE step).
    case DType::kFloat32: Store(p, static_cast<float>(v)); return;
    case DType::kFloat64: Store(p, static_cast<double>(v)); return;
    case DType::kFloat16: Store(p, DoubleToHalf(static_cast<double>(v))); return;
    case DType::kUndefined: return;
  }
}

double Tensor::GetDouble(int64_t i) const {
  const std::byte* p = bytes_.data() + static_cast<size_t>(i) * DTypeSize(dtype_);
  switch (dtype_) {
    case DType::kFloat32: return Load<float>(p);
    case DType::kFloat64: return Load<double>(p);
    case DType::kFloat16: return HalfToFloat(Load<uint16_t>(p));
    case DType::kUndefined: return 0;
    default: return static_cast<double>(GetInt(i));
  }
}

void Tensor::SetDouble(int64_t i, double v) {
  std::byte* p = bytes_.data() + static_cast<size_t>(i) * DTypeSize(dtype_);
  switch (dtype_) {
    case DType::kFloat32: Store(p, static_cast<float>(v)); return;
    case DType::kFloat64: Store(p, v); return;
    case DType::kFloat16: Store(p, DoubleToHalf(v)); return;  // one rounding, not via float
    case DType::kUndefined: return;
    default: {
      // Integer targets: truncate toward zero, clamped to the type's range (NaN → 0).
      double c = std::isnan(v) ? 0.0 : std::trunc(v);
      c = std::fmax(c, static_cast<double>(DTypeMin(dtype_)));
      c = std::fmin(c, static_cast<double>(DTypeMax(dtype_)));
      SetInt(i, c >= 9.2e18 ? DTypeMax(dtype_) : static_cast<int64_t>(c));
      return;
    }
  }
}

bool Tensor::operator==(const Tensor& o) const {
  return dtype_ == o.dtype_ && shape_ == o.shape_ && bytes_ == o.bytes_;
}

Tensor Tensor::Scalar(DType dtype, double v) {
  Tensor t(dtype, {});
  t.SetDouble(0, v);
  return t;
}

Tensor Tensor::FromInts(DType dtype, Shape shape, const std::vector<int64_t>& values) {
  Tensor t(dtype, std::move(shape));
  for (int64_t i = 0; i < t.numel() && i < static_cast<int64_t>(values.size()); ++i) {
    t.SetInt(i, values[static_cast<size_t>(i)]);
  }
  return t;
}

Tensor Tensor::FromDoubles(DType dtype, Shape shape, const std::vector<double>& values) {
  Tensor t(dtype, std::move(shape));
  for (int64_t i = 0; i < t.numel() && i < static_cast<int64_t>(values.size()); ++i) {
    t.SetDouble(i, values[static_cast<size_t>(i)]);
  }
  return t;
}

Status Tensor::Reshape(Shape shape) {
  if (NumElements(shape) != numel_) {
    return InvalidArgument("cannot reshape " + ShapeToString(shape_) + " (" +
                           std::to_string(numel_) + " elements) to " + ShapeToString(shape));
  }
  shape_ = std::move(shape);
  return Status::Ok();
}

}  // namespace qfarm
