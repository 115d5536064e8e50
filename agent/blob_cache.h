// The agent's local cache of model and tensor blobs, addressed by SHA-256 and bounded in bytes:
// a fetched blob is verified against its hash before it is kept; when the cache is over its
// bound the least recently used files go (never the one just asked for). Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "common/status.h"

namespace qfarm {

class BlobCache {
 public:
  // Writes the blob's bytes to `out`, returning an error on a failed transfer.
  using Fetcher = std::function<Status(const std::string& sha256, std::string* out)>;

  BlobCache(std::string dir, int64_t max_bytes) : dir_(std::move(dir)), max_bytes_(max_bytes) {}
  // The path of the blob's file, fetched first when missing. A hash that is not 64 hex digits,
  // or bytes that do not hash to it, are errors naming the blob.
  StatusOr<std::string> Get(const std::string& sha256, const Fetcher& fetch);
  int64_t SizeBytes();

 private:
  void Evict(const std::string& keep);
  std::mutex mu_;
  std::string dir_;
  int64_t max_bytes_;
};

}  // namespace qfarm
