// The agent's blob cache: fetched once, verified against the SHA-256, bounded by LRU eviction.
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "agent/blob_cache.h"
#include "agent/hash.h"
#include "tests/support/test_util.h"

namespace qfarm {
namespace {

TEST(BlobCache, FetchesOnceVerifiesAndEvictsTheLeastRecentlyUsed) {
  qfarm::testing::TempDir dir;
  BlobCache cache(dir.File("cache"), 2500);
  int fetches = 0;
  std::map<std::string, std::string> remote;
  for (char c : {'a', 'b', 'c'}) {
    const std::string bytes(1000, c);
    remote[Sha256Hex(bytes)] = bytes;
  }
  auto fetch = [&](const std::string& sha, std::string* out) {
    ++fetches;
    *out = remote.at(sha);
    return Status::Ok();
  };
  const std::string a = Sha256Hex(std::string(1000, 'a')), b = Sha256Hex(std::string(1000, 'b')),
                    c = Sha256Hex(std::string(1000, 'c'));
  auto pa = cache.Get(a, fetch);
  ASSERT_TRUE(pa.ok()) << pa.status().message();
  EXPECT_EQ(qfarm::testing::ReadAll(*pa), std::string(1000, 'a'));
  ASSERT_TRUE(cache.Get(b, fetch).ok());
  ASSERT_TRUE(cache.Get(a, fetch).ok());  // a hit, and now more recent than b
  EXPECT_EQ(fetches, 2);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(cache.Get(c, fetch).ok());  // over 2500 bytes: b goes
  EXPECT_LE(cache.SizeBytes(), 2500);
  EXPECT_TRUE(std::filesystem::exists(dir.File("cache/" + a)));
  EXPECT_FALSE(std::filesystem::exists(dir.File("cache/" + b)));
  EXPECT_TRUE(std::filesystem::exists(dir.File("cache/" + c)));
}

TEST(BlobCache, RefusesBytesThatDoNotHashToTheNameAndNamesThatAreNotHashes) {
  qfarm::testing::TempDir dir;
  BlobCache cache(dir.File("cache"), 1 << 20);
  auto liar = [](const std::string&, std::string* out) {
    *out = "not what you asked for";
    return Status::Ok();
  };
  const std::string sha = Sha256Hex("the real bytes");
  auto r = cache.Get(sha, liar);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("do not hash to it"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir.File("cache/" + sha)));
  for (const std::string& bad : std::vector<std::string>{"../../etc/passwd", std::string(64, 'G'), ""}) {
    auto p = cache.Get(bad, liar);
    ASSERT_FALSE(p.ok()) << bad;
    EXPECT_NE(p.status().message().find("not a SHA-256"), std::string::npos);
  }
}

}  // namespace
}  // namespace qfarm
