// Shared checks of the per-tensor quantization inputs of kernels/add.cc and kernels/pool.cc.
// Anything unusual (per-channel, missing, non-finite, mismatched types) is left to the reference
// op, which reports it with the node's name.
#pragma once

#include <cmath>
#include <optional>

#include "model/tensor.h"

namespace qfarm::kernels {

struct QuantPair {
  float scale;
  int32_t zero;
};

// Input pair (scale, zero point) of a tensor of type t; nullopt when the kernel should not run.
inline std::optional<QuantPair> ReadPerTensor(const Tensor* scale, const Tensor* zero, DType t) {
  if (!scale || scale->numel() != 1 || scale->dtype() != DType::kFloat32) return std::nullopt;
  const double s = scale->GetDouble(0);
  if (!(s > 0) || !std::isfinite(s)) return std::nullopt;
  if (zero && (zero->numel() != 1 || zero->dtype() != t)) return std::nullopt;
  return QuantPair{static_cast<float>(s), zero ? static_cast<int32_t>(zero->GetInt(0)) : 0};
}

inline bool Is8Bit(DType t) { return t == DType::kInt8 || t == DType::kUInt8; }

}  // namespace qfarm::kernels
