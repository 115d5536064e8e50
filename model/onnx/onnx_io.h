// ONNX I/O through libonnx-dev's protobuf schema: model import/export and TensorProto files.
//
// LoadOnnxModel reads opsets 10–19 (ai.onnx) and com.microsoft contrib ops (ai.onnx.ml may be
// declared), converts to the IR, folds Constant nodes into initializers, names unnamed nodes
// "<op>_<index>" (index in the file; "_<k>" appended on a clash), sorts nodes topologically
// (stable: a sorted graph keeps its order) and validates (model/validate.h). Every error is one
// line naming the file, then the node / tensor / field, e.g. "m.onnx: node 'c1' (Conv): ...",
// "m.onnx: tensor 'w': raw_data is 3 bytes, [2,3] of int8 needs 6", "m.onnx: opset_import: ai.onnx
// version 9 is not supported". Files over 2 GiB − 1 are refused before reading; every size in the
// file (dims product, data lengths, node count) is checked against ModelLimits before anything
// is allocated from it. External data, sparse initializers, GRAPH/STRINGS attributes and bool
// tensors are refused with an error.
// SaveOnnxModel writes ir_version 8, opset_import ai.onnx = graph.opset (+ com.microsoft 1 when a
// node uses it), initializers as raw_data, dynamic dims as dim_param; any
// valid g in topological order reimports to the same graph. Writes go to a temporary file renamed into place.
// Thread-compatible.
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
