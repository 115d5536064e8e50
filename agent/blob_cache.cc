#include "agent/blob_cache.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <vector>

#include "agent/hash.h"

namespace qfarm {
namespace fs = std::filesystem;
namespace {

bool IsSha256(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

StatusOr<std::string> BlobCache::Get(const std::string& sha256, const Fetcher& fetch) {
  if (!IsSha256(sha256)) return InvalidArgument("blob '" + sha256.substr(0, 80) + "': not a SHA-256");
  std::lock_guard<std::mutex> lock(mu_);
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return Unavailable(dir_ + ": cannot create the blob cache: " + ec.message());
  const fs::path path = fs::path(dir_) / sha256;
  if (fs::exists(path, ec)) {
    fs::last_write_time(path, fs::file_time_type::clock::now(), ec);  // recently used
    return path.string();
  }
  std::string bytes;
  QFARM_RETURN_IF_ERROR(fetch(sha256, &bytes));
  if (Sha256Hex(bytes) != sha256) return Unavailable("blob " + sha256 + ": the fetched bytes do not hash to it");
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) return Unavailable(tmp.string() + ": cannot write (disk full?)");
  }
  fs::rename(tmp, path, ec);
  if (ec) return Unavailable(path.string() + ": " + ec.message());
  Evict(sha256);
  return path.string();
}

void BlobCache::Evict(const std::string& keep) {
  struct Entry {
    fs::path path;
    fs::file_time_type time;
    int64_t size;
  };
  std::vector<Entry> entries;
  int64_t total = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    if (!e.is_regular_file(ec)) continue;
    const int64_t size = static_cast<int64_t>(e.file_size(ec));
    entries.push_back({e.path(), e.last_write_time(ec), size});
    total += size;
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.time < b.time; });
  for (const Entry& e : entries) {
    if (total <= max_bytes_) break;
    if (e.path.filename() == keep) continue;
    fs::remove(e.path, ec);
    if (!ec) total -= e.size;
  }
}

int64_t BlobCache::SizeBytes() {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t total = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    if (e.is_regular_file(ec)) total += static_cast<int64_t>(e.file_size(ec));
  }
  return total;
}

}  // namespace qfarm
