// Arithmetic fingerprinting recovers the declared profile of every host path and of the
// qemu-aarch64 device, and the variant behind each arithmetic fault of the faulty device.
#include <gtest/gtest.h>

#include <algorithm>

#include "agent/arith_probe.h"

namespace qfarm {
namespace {

ArithFingerprint Probe(const std::string& device) {
  auto dev = OpenDevice(device);
  EXPECT_TRUE(dev.ok()) << dev.status().message();
  auto f = ProbeArithmetic(**dev);
  EXPECT_TRUE(f.ok()) << f.status().message();
  return *f;
}

std::vector<std::string> Values(const ArithFingerprint& f, const std::string& key) {
  for (const auto& [k, v] : f.keys) if (k == key) return v;
  return {};
}

bool Contains(const ArithFingerprint& f, const Profile& p) {
  return std::find(f.consistent.begin(), f.consistent.end(), p) != f.consistent.end();
}

TEST(Fingerprint, HostPathsAndQemuGiveTheirDeclaredProfiles) {
  std::vector<std::string> devices;
  for (const std::string& d : ListDevices()) {
    if (d == "host" || d.rfind("host-", 0) == 0 || d == "qemu-aarch64") devices.push_back(d);
  }
  ASSERT_GE(devices.size(), 2u);
  for (const std::string& d : devices) {
    auto dev = OpenDevice(d);
    ASSERT_TRUE(dev.ok());
    const std::string declared = (*dev)->info().declared_profile;
    const ArithFingerprint f = Probe(d);
    EXPECT_TRUE(Contains(f, *ParseProfile(declared))) << d;
    EXPECT_EQ(Values(f, "acc_bits"), std::vector<std::string>{"32"}) << d;
    EXPECT_EQ(Values(f, "acc_overflow"), std::vector<std::string>{"wrap"}) << d;
    EXPECT_EQ(Values(f, "rounding"), std::vector<std::string>{"half_even"}) << d;
    EXPECT_EQ(Values(f, "requant"), std::vector<std::string>{"float32"}) << d;
    const bool sat = declared == "avx2-u8s8";
    EXPECT_EQ(Values(f, "pair_sat16"), std::vector<std::string>{sat ? "on" : "off"}) << d;
    // Among the named profiles only the declared one (ort and xnnpack-fp32 are the same text).
    for (const std::string& n : f.named) {
      EXPECT_TRUE(n == declared || (declared == "ort" && n == "xnnpack-fp32")) << d << " also matches " << n;
    }
  }
}

TEST(Fingerprint, RecoversTheVariantBehindEachArithmeticFault) {
  struct Case { std::string fault, key; std::vector<std::string> values; };
  const Case cases[] = {
      {"rounding=half_up", "rounding", {"half_up"}},
      {"rounding=half_away", "rounding", {"half_away"}},
      {"rounding=trunc", "rounding", {"trunc"}},
      {"acc_bits=16,acc_overflow=saturate", "acc_bits", {"16"}},
      {"acc_bits=24", "acc_bits", {"24"}},
      {"pair_sat16=on,zp_fold=fold_after", "zp_fold", {"fold_after"}},
      {"requant=fixed_double,rounding=half_away", "requant", {"fixed_double"}},
  };
  for (const Case& c : cases) {
    const ArithFingerprint f = Probe("faulty:profile:*:" + c.fault);
    ASSERT_FALSE(f.consistent.empty()) << c.fault;
    EXPECT_EQ(Values(f, c.key), c.values) << c.fault;
  }
  const ArithFingerprint tflite = Probe("faulty:profile:*:requant=fixed_double,rounding=half_away");
  EXPECT_NE(std::find(tflite.named.begin(), tflite.named.end(), "tflite"), tflite.named.end());
  EXPECT_EQ(Values(Probe("faulty:profile:*:acc_bits=16,acc_overflow=saturate"), "acc_overflow"),
            std::vector<std::string>{"saturate"});
}

TEST(Fingerprint, ADeviceNoProfileExplainsIsSaidToBeSo) {
  const ArithFingerprint f = Probe("faulty:bitflip:*:0:6");
  EXPECT_TRUE(f.consistent.empty());
  EXPECT_FALSE(f.ruled_out_by.empty());
}

}  // namespace
}  // namespace qfarm
