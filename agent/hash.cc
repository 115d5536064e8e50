#include "agent/hash.h"

#include <openssl/evp.h>

namespace qfarm {

std::string Sha256Hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &len, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 0xf];
  }
  return out;
}

std::string TensorSha256(const Tensor& t) {
  std::string buf = std::string(DTypeName(t.dtype())) + ShapeToString(t.shape()) + ":";
  buf.append(reinterpret_cast<const char*>(t.bytes().data()), t.bytes().size());
  return Sha256Hex(buf);
}

}  // namespace qfarm
