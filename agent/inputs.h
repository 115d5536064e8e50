// Job inputs: tensor files matched to graph inputs, and seeded generation of the rest.
// Every generated tensor is a pure function of (seed, input name, dtype, shape), so a printed
// seed reproduces a run on any machine.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "model/graph.h"
#include "model/tensor_file.h"

namespace qfarm {

// Matches files to values: a file whose TensorProto name is a graph input or initializer goes
// there; unnamed files (.npy, or .pb without a name) fill the graph inputs in order, skipping
// those already given. Errors name the file.
StatusOr<TensorMap> MatchInputFiles(const Graph& graph, const std::vector<NamedTensor>& files,
                                    const std::vector<std::string>& paths);

// Generates every graph input missing from `given`: floats uniform in [-1, 1), integers over
// their type's full range. Unknown dims (-1) become 1.
TensorMap GenerateMissingInputs(const Graph& graph, const TensorMap& given, uint64_t seed);

// Reads tensor files (.pb or .npy), matches them (MatchInputFiles), checks each where it lands —
// a graph input against its declaration, an initializer override for type, shape and the values
// validation checks, errors naming the file — and generates the rest from `seed`.
StatusOr<TensorMap> LoadInputFiles(const Graph& graph, const std::vector<std::string>& paths, uint64_t seed);

}  // namespace qfarm
