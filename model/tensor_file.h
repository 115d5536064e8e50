// Tensor files: ONNX TensorProto (.pb; raw_data and the typed fields) and NumPy (.npy, v1-3).
//
// Element types: int4/uint4 (packed two per byte, element 0 in the low nibble, as ONNX), int8,
// uint8, int16, uint16, int32, int64, float16, float, double. Reading a truncated, oversized or
// inconsistent file is an error naming the file and what is wrong; never a crash.
// The .npy reader/writer is in model/ (no protobuf); the .pb one in model/onnx/.
#pragma once

#include <string>

#include "common/status.h"
#include "model/tensor.h"

namespace qfarm {

struct NamedTensor {
  std::string name;  // TensorProto name; empty for .npy
  Tensor tensor;
};

// .npy. NumPy has no int4: such tensors are written as int8/uint8 (one element per byte).
StatusOr<Tensor> ReadNpy(const std::string& path, int64_t max_elements = int64_t{1} << 28);
Status WriteNpy(const std::string& path, const Tensor& t);
StatusOr<Tensor> ParseNpy(const std::string& bytes, int64_t max_elements = int64_t{1} << 28);

}  // namespace qfarm
