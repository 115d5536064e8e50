// SHA-256 of bytes as lowercase hex, through OpenSSL's libcrypto (link OpenSSL::Crypto).
#pragma once

#include <openssl/evp.h>

#include <string>
#include <string_view>

namespace qfarm {

inline std::string Sha256Hex(std::string_view bytes) {
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

}  // namespace qfarm
