// libFuzzer target: tensor files (docs/fuzzing.md).
//
// The first byte picks the reader: even → .npy (ParseNpy, model/tensor_file.h), odd → ONNX
// TensorProto .pb (protobuf parse + TensorFromProto, the bytes-level core of
// ReadTensorProtoFile). The rest of the input is the file. Both run with the readers' default
// element limit: an input of a few KiB must never make them allocate more than it can back.
// A tensor that reads must be self-consistent (byte size = elements × element size).
#include <cstddef>
#include <cstdint>
#include <string>

#include "model/onnx/onnx_internal.h"
#include "model/tensor_file.h"

namespace {

void Check(const qfarm::Tensor& t) {
  const int64_t n = qfarm::NumElements(t.shape());
  if (n != t.numel()) __builtin_trap();
  if (t.bytes().size() != static_cast<size_t>(n) * qfarm::DTypeSize(t.dtype())) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((data[0] & 1) == 0) {
    auto t = qfarm::ParseNpy(bytes);
    if (t.ok()) Check(*t);
  } else {
    onnx::TensorProto p;
    if (!p.ParseFromString(bytes)) return 0;
    auto t = qfarm::onnx_internal::TensorFromProto(p, int64_t{1} << 28);
    if (t.ok()) Check(*t);
  }
  return 0;
}
