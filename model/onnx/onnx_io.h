// ONNX I/O through libonnx-dev's protobuf schema: model import/export and TensorProto files.
//
// LoadOnnxModel reads opsets 10–19 (ai.onnx) and com.microsoft contrib ops, converts to the IR,
// names unnamed nodes, sorts nodes topologically and validates (model/validate.h). Every error is
// one line naming the file, then the node and field. Thread-compatible.
#pragma once

#include <string>

#include "common/status.h"
#include "model/graph.h"
#include "model/tensor_file.h"
#include "model/validate.h"

namespace qfarm {

StatusOr<Graph> LoadOnnxModel(const std::string& path, const ModelLimits& limits = {});
StatusOr<Graph> ParseOnnxModel(const std::string& bytes, const std::string& label,
                               const ModelLimits& limits = {});
Status SaveOnnxModel(const Graph& graph, const std::string& path);
StatusOr<std::string> SerializeOnnxModel(const Graph& graph);

// TensorProto .pb files.
StatusOr<NamedTensor> ReadTensorProtoFile(const std::string& path,
                                          int64_t max_elements = int64_t{1} << 28);
Status WriteTensorProtoFile(const std::string& path, const std::string& name, const Tensor& t);

// Reads .pb or .npy by extension.
StatusOr<NamedTensor> ReadTensorFile(const std::string& path,
                                     int64_t max_elements = int64_t{1} << 28);

}  // namespace qfarm
