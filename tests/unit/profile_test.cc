// Profiles: every named profile, every key and value, text round trips, and errors that name
// the bad key or value.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "reference/profile.h"

namespace qfarm {
namespace {

TEST(Profile, NamedProfilesAreArithmeticMdSection3) {
  std::vector<std::string> names;
  for (const NamedProfile& p : NamedProfiles()) names.emplace_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"onnx", "ort", "xnnpack-fp32", "xnnpack-rndnu", "tflite",
                                             "tflite-single", "neon-naive", "avx2-u8s8", "dsp-sat32"}));
  // Each profile written out field by field from ARITHMETIC.md §3 (defaults from §1).
  auto make = [](auto&& edit) { Profile p; edit(p); return p; };
  using FP = FloatPrecision;
  const std::vector<std::pair<std::string, Profile>> want = {
      {"onnx", make([](Profile& p) { p.multiplier_from = FP::kFloat32; })},
      {"ort", make([](Profile& p) { p.multiplier_from = FP::kFloat32; p.requant = Requant::kFloat32; })},
      {"xnnpack-fp32", make([](Profile& p) { p.multiplier_from = FP::kFloat32; p.requant = Requant::kFloat32; })},
      {"xnnpack-rndnu", make([](Profile& p) {
         p.multiplier_from = FP::kFloat32, p.requant = Requant::kFixedSingle, p.mult_bits = 24;
         p.rounding = Rounding::kHalfUp;
       })},
      {"tflite", make([](Profile& p) { p.requant = Requant::kFixedDouble, p.rounding = Rounding::kHalfAway; })},
      {"tflite-single", make([](Profile& p) { p.requant = Requant::kFixedSingle, p.rounding = Rounding::kHalfUp; })},
      {"neon-naive", make([](Profile& p) { p.requant = Requant::kFixedDouble, p.rounding = Rounding::kHalfUp; })},
      {"avx2-u8s8", make([](Profile& p) {
         p.multiplier_from = FP::kFloat32, p.requant = Requant::kFloat32, p.pair_sat16 = true;
         p.zp_fold = ZpFold::kFoldAfter;
       })},
      {"dsp-sat32", make([](Profile& p) {
         p.requant = Requant::kFixedDouble, p.rounding = Rounding::kHalfAway;
         p.acc_overflow = AccOverflow::kSaturate;
       })},
  };
  for (const auto& [name, profile] : want) {
    auto parsed = ParseProfile(name);
    ASSERT_TRUE(parsed.ok()) << name << ": " << parsed.status().message();
    EXPECT_EQ(*parsed, profile) << name << " parsed as " << ProfileToText(*parsed, true);
  }
  // The §3 shorthands: avx2-u8s8 = ort + pair_sat16=on,zp_fold=fold_after; dsp-sat32 = tflite +
  // acc_overflow=saturate; xnnpack-fp32 = ort.
  EXPECT_EQ(*ParseProfile("avx2-u8s8"), *ParseProfile("ort,pair_sat16=on,zp_fold=fold_after"));
  EXPECT_EQ(*ParseProfile("dsp-sat32"), *ParseProfile("tflite,acc_overflow=saturate"));
  EXPECT_EQ(*ParseProfile("xnnpack-fp32"), *ParseProfile("ort"));
  for (const NamedProfile& np : NamedProfiles()) {
    EXPECT_FALSE(np.who.empty()) << np.name;
    EXPECT_EQ(np.text.find(np.name), std::string_view::npos) << "text is expanded, not 'ort +': " << np.text;
  }
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
  EXPECT_EQ(ProfileName(*ParseProfile("tflite,acc_overflow=saturate")), "dsp-sat32");
  EXPECT_EQ(ProfileName(*ParseProfile("tflite,rounding=half_up")), "neon-naive");  // override a base key
  EXPECT_EQ(ProfileName(*ParseProfile("tflite,acc_bits=24")), std::nullopt);
  // Canonical order is §1's table order whatever order the input used.
  EXPECT_EQ(ProfileToText(*ParseProfile("rounding=floor,bias=before,acc_bits=16")),
            "acc_bits=16,bias=before,rounding=floor");
  EXPECT_EQ(ProfileToText(*ParseProfile("dsp-sat32")), "acc_overflow=saturate,requant=fixed_double,rounding=half_away");
  EXPECT_EQ(ProfileToText(*ParseProfile("avx2-u8s8")),
            "pair_sat16=on,zp_fold=fold_after,multiplier_from=float32,requant=float32");
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
      // Only this key moved: the short form is this item alone, or empty for the default value.
      const std::string short_form = ProfileToText(*p);
      EXPECT_TRUE(short_form == key + "=" + v || (short_form.empty() && *p == Profile{})) << short_form;
      EXPECT_EQ(*ParseProfile(full), *p);
    }
  }
  EXPECT_EQ(ParseProfile("acc_bits=24")->acc_bits, 24);
  EXPECT_EQ(ParseProfile("acc_bits=64")->acc_bits, 64);
  EXPECT_EQ(ParseProfile("mult_bits=15")->mult_bits, 15);
  EXPECT_EQ(ParseProfile("rounding=trunc")->rounding, Rounding::kTrunc);
  EXPECT_EQ(ParseProfile("bias=before")->bias, BiasMode::kBefore);
  EXPECT_EQ(ParseProfile("requant=fixed_single")->requant, Requant::kFixedSingle);
  EXPECT_EQ(ParseProfile("multiplier_from=float32")->multiplier_from, FloatPrecision::kFloat32);
  EXPECT_TRUE(ParseProfile("pair_sat16=on")->pair_sat16);
  for (Rounding r : {Rounding::kHalfEven, Rounding::kHalfAway, Rounding::kHalfUp, Rounding::kTrunc,
                     Rounding::kFloor, Rounding::kHalfDown}) {
    EXPECT_EQ(ParseProfile("rounding=" + std::string(RoundingName(r)))->rounding, r);
  }
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
      {"rounding=half_even,", "empty item at position 2"},
      {",rounding=half_even", "empty item at position 1"},
      {"tflite,bias", "'bias' is not key=value"},
      {"rounding=", "unknown value '' for key 'rounding'"},
      {"=half_even", "unknown key ''"},
      {"tflite,rounding=half_up,rounding=floor", "duplicate key 'rounding'"},
      {"mult_bits=32", "(expected one of 31, 24, 15)"},
      {"zp_fold=fold", "(expected one of subtract_first, fold_after)"},
      {"round=half_even", "(expected one of acc_bits, acc_overflow, pair_sat16, zp_fold, bias, "
                          "multiplier_from, requant, mult_bits, rounding)"},
      {"tflit", "(expected one of onnx, ort, xnnpack-fp32, xnnpack-rndnu, tflite, tflite-single, "
                "neon-naive, avx2-u8s8, dsp-sat32"},
  };
  for (const Case& c : cases) {
    auto p = ParseProfile(c.text);
    ASSERT_FALSE(p.ok()) << c.text;
    EXPECT_NE(p.status().message().find(c.must_contain), std::string::npos)
        << "'" << c.text << "' gave: " << p.status().message();
    EXPECT_EQ(p.status().message().find('\n'), std::string::npos);
    EXPECT_EQ(p.status().message().rfind("profile '" + c.text + "': ", 0), 0u) << p.status().message();
  }
  // The brief's example, whole (half_down is qfarm's documented sixth rule).
  EXPECT_EQ(ParseProfile("rounding=half_odd").status().message(),
            "profile 'rounding=half_odd': unknown value 'half_odd' for key 'rounding' (expected one of "
            "half_even, half_away, half_up, trunc, floor, half_down)");
}

TEST(Profile, OverridesApplyToABaseAndNameTheirErrors) {
  const Profile tflite = *ParseProfile("tflite");
  EXPECT_EQ(*OverrideProfile(tflite, "acc_overflow=saturate"), *ParseProfile("dsp-sat32"));
  EXPECT_EQ(*OverrideProfile(tflite, "rounding=half_up"), *ParseProfile("neon-naive"));
  EXPECT_EQ(*OverrideProfile(*ParseProfile("ort"), "pair_sat16=on,zp_fold=fold_after"), *ParseProfile("avx2-u8s8"));
  struct Case { std::string text, must_contain; };
  const Case cases[] = {
      {"rounding=half_up,rounding=floor", "duplicate key 'rounding'"},
      {"rounding=half_up,", "empty item"},
      {"acc_bits=7", "unknown value '7' for key 'acc_bits' (expected one of 16, 24, 32, 40, 48, 64)"},
      {"tflite", "'tflite' is not key=value"},
      {"width=8", "unknown key 'width'"},
  };
  for (const Case& c : cases) {
    auto p = OverrideProfile(tflite, c.text);
    ASSERT_FALSE(p.ok()) << c.text;
    EXPECT_NE(p.status().message().find(c.must_contain), std::string::npos) << p.status().message();
    EXPECT_NE(p.status().message().find("'" + c.text + "'"), std::string::npos) << p.status().message();
  }
}

TEST(Profile, VocabularyIsSection1InTableOrder) {
  std::vector<std::string> keys;
  size_t combinations = 1;
  for (const ProfileKey& k : ProfileVocabulary()) {
    keys.emplace_back(k.key);
    combinations *= k.values.size();
    for (std::string_view v : k.values) {
      EXPECT_TRUE(ParseProfile(std::string(k.key) + "=" + std::string(v)).ok()) << k.key << "=" << v;
    }
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"acc_bits", "acc_overflow", "pair_sat16", "zp_fold", "bias",
                                            "multiplier_from", "requant", "mult_bits", "rounding"}));
  EXPECT_EQ(combinations, size_t{6} * 2 * 2 * 2 * 2 * 2 * 4 * 3 * 6);  // §1 plus half_down: 27,648
}

}  // namespace
}  // namespace qfarm
