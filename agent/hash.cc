#include "agent/hash.h"

#include <openssl/evp.h>

namespace qfarm {

std::string TensorSha256(const Tensor& t) {
  std::string buf = std::string(DTypeName(t.dtype())) + ShapeToString(t.shape()) + ":";
  buf.append(reinterpret_cast<const char*>(t.bytes().data()), t.bytes().size());
  return Sha256Hex(buf);
}

}  // namespace qfarm
