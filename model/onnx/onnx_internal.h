// Internal to model/onnx/: TensorProto ⇄ Tensor conversion and guarded file I/O shared by the
// model importer/exporter (onnx_io.cc) and the TensorProto file functions (tensor_proto.cc).
//
// Every error is one line naming the tensor ("tensor 'w': raw_data is 3 bytes, ...") or the file;
// callers prefix the file label. Nothing here allocates more than the limits allow before the
// sizes declared by the file have been checked against the data the file actually holds.
#pragma once

#include <cstdint>
#include <string>

#include <onnx/onnx_pb.h>

#include "common/status.h"
#include "model/tensor.h"

namespace qfarm::onnx_internal {

// ONNX 1.12's enum has no 4-bit types: data_type 21 (UINT4) and 22 (INT4) are handled by number.
constexpr int32_t kOnnxUInt4 = 21;
constexpr int32_t kOnnxInt4 = 22;

// Files over this many bytes are refused before they are read (protobuf's own message limit).
constexpr int64_t kMaxFileBytes = (int64_t{2} << 30) - 1;

// Reads a whole file; NotFound if it cannot be opened, ResourceExhausted over `max_bytes`.
StatusOr<std::string> ReadFileLimited(const std::string& path, int64_t max_bytes = kMaxFileBytes);

// Writes `bytes` to a temporary file beside `path`, then renames it over `path`: a reader never
// sees a half-written file, and a failed write leaves no file behind.
Status WriteFileAtomic(const std::string& path, const std::string& bytes);

// TensorProto → Tensor. Handles raw_data and the typed fields (float_data, int32_data for
// int4/uint4 (one packed byte per entry), int8/uint8/int16/uint16/float16, int64_data,
// double_data). Errors: unsupported data type, negative dims, more than `max_elements`
// elements, external or segmented data, data length ≠ what the shape needs, typed values out of
// range for the element type.
StatusOr<Tensor> TensorFromProto(const onnx::TensorProto& p, int64_t max_elements);

// Tensor → TensorProto with raw_data (int4/uint4 packed, element 0 in the low nibble).
void TensorToProto(const std::string& name, const Tensor& t, onnx::TensorProto* p);

}  // namespace qfarm::onnx_internal
