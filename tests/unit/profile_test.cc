// Profiles: every named profile, every key and value, text round trips, and errors that name
// the bad key or value.
#include <gtest/gtest.h>

#include "reference/profile.h"

namespace qfarm {
namespace {

TEST(Profile, NamedProfilesAreArithmeticMdSection3) {
  std::vector<std::string> names;
  for (const NamedProfile& p : NamedProfiles()) names.emplace_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"onnx", "ort", "xnnpack-fp32", "xnnpack-rndnu", "tflite",
                                             "tflite-single", "neon-naive", "avx2-u8s8", "dsp-sat32"}));
  const Profile avx2 = *ParseProfile("avx2-u8s8");
  Profile want = *ParseProfile("ort");
  want.pair_sat16 = true;
  want.zp_fold = ZpFold::kFoldAfter;
  EXPECT_EQ(avx2, want);
  Profile dsp = *ParseProfile("tflite");
  dsp.acc_overflow = AccOverflow::kSaturate;
  EXPECT_EQ(*ParseProfile("dsp-sat32"), dsp);
  EXPECT_EQ(*ParseProfile("xnnpack-fp32"), *ParseProfile("ort"));
  const Profile rndnu = *ParseProfile("xnnpack-rndnu");
  EXPECT_EQ(rndnu.mult_bits, 24);
  EXPECT_EQ(rndnu.requant, Requant::kFixedSingle);
  EXPECT_EQ(rndnu.rounding, Rounding::kHalfUp);
  EXPECT_EQ(rndnu.multiplier_from, FloatPrecision::kFloat32);
}

TEST(Profile, DefaultsAndTextRoundTrip) {
  const Profile d;
  EXPECT_EQ(ProfileToText(d), "");
  EXPECT_EQ(ProfileToText(d, true),
            "acc_bits=32,acc_overflow=wrap,pair_sat16=off,zp_fold=subtract_first,bias=after,"
            "multiplier_from=float64,requant=float64,mult_bits=31,rounding=half_even");
  for (const NamedProfile& np : NamedProfiles()) {
    const Profile p = *ParseProfile(np.name);
    EXPECT_EQ(*ParseProfile(ProfileToText(p)), p) << np.name;
    EXPECT_EQ(*ParseProfile(ProfileToText(p, true)), p) << np.name;
    EXPECT_EQ(*ParseProfile(np.text), p) << np.name;
  }
  EXPECT_EQ(ProfileName(*ParseProfile("requant=fixed_double,rounding=half_away")), "tflite");
}

TEST(Profile, EveryValueOfEveryKeyParses) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> keys = {
      {"acc_bits", {"16", "24", "32", "40", "48", "64"}},
      {"acc_overflow", {"wrap", "saturate"}},
      {"pair_sat16", {"off", "on"}},
      {"zp_fold", {"subtract_first", "fold_after"}},
      {"bias", {"after", "before"}},
      {"multiplier_from", {"float32", "float64"}},
      {"requant", {"float32", "float64", "fixed_double", "fixed_single"}},
      {"mult_bits", {"31", "24", "15"}},
      {"rounding", {"half_even", "half_away", "half_up", "trunc", "floor", "half_down"}}};
  for (const auto& [key, values] : keys) {
    for (const std::string& v : values) {
      auto p = ParseProfile(key + "=" + v);
      ASSERT_TRUE(p.ok()) << key << "=" << v << ": " << p.status().message();
      const std::string full = ProfileToText(*p, true);
      EXPECT_NE(full.find(key + "=" + v), std::string::npos) << full;
    }
  }
  EXPECT_EQ(ParseProfile("acc_bits=24")->acc_bits, 24);
  EXPECT_EQ(ParseProfile("tflite,acc_overflow=saturate")->acc_overflow, AccOverflow::kSaturate);
}

TEST(Profile, ErrorsNameTheBadKeyOrValue) {
  struct Case { std::string text, must_contain; };
  const Case cases[] = {
      {"rounding=half_odd", "unknown value 'half_odd' for key 'rounding'"},
      {"rounding=half_odd", "half_even, half_away, half_up, trunc, floor, half_down"},
      {"round=half_even", "unknown key 'round'"},
      {"acc_bits=33", "unknown value '33' for key 'acc_bits'"},
      {"rounding=half_even,rounding=floor", "duplicate key 'rounding'"},
      {"tflite,,rounding=floor", "empty item"},
      {"tflit", "unknown profile name 'tflit'"},
      {"onnx,requant", "'requant' is not key=value"},
      {"", "empty profile"},
  };
  for (const Case& c : cases) {
    auto p = ParseProfile(c.text);
    ASSERT_FALSE(p.ok()) << c.text;
    EXPECT_NE(p.status().message().find(c.must_contain), std::string::npos)
        << "'" << c.text << "' gave: " << p.status().message();
    EXPECT_EQ(p.status().message().find('\n'), std::string::npos);
  }
}

}  // namespace
}  // namespace qfarm
