// A small binary form of the IR and of tensor sets, for handing a job to a process that has no
// protobuf (the aarch64 runner under QEMU, external runners). Little-endian, length-prefixed;
// the reader checks every length against the bytes left, so a truncated or hostile file is an
// error, never a crash. Format version 1:
//   "QFIR" u32 version | graph: str name, i64 opset, values inputs, values outputs,
//   u32 n + (str name, tensor) initializers, u32 n + nodes
//   "QFTM" u32 version | u32 n + (str name, tensor)
//   str = u32 length + bytes; tensor = i32 dtype, u32 rank, i64 dims…, u64 nbytes, bytes
#pragma once

#include <string>

#include "common/status.h"
#include "model/graph.h"

namespace qfarm {

std::string SerializeGraph(const Graph& g);
StatusOr<Graph> ParseGraph(const std::string& bytes);
std::string SerializeTensors(const TensorMap& tensors);
StatusOr<TensorMap> ParseTensors(const std::string& bytes);

Status WriteFileBytes(const std::string& path, const std::string& bytes);
StatusOr<std::string> ReadFileBytes(const std::string& path, int64_t max_bytes = int64_t{4} << 30);

}  // namespace qfarm
