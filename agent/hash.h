// SHA-256 of bytes and of tensors (dtype, shape and data), through OpenSSL's libcrypto.
#pragma once

#include <string>
#include <string_view>

#include "common/sha256.h"  // Sha256Hex
#include "model/tensor.h"

namespace qfarm {

// Hash of a tensor's element type, shape and bytes: equal hashes mean equal tensors.
std::string TensorSha256(const Tensor& t);

}  // namespace qfarm
