// Arithmetic profiles: every choice that makes two correct-looking integer implementations of the
// same quantized op disagree (shared/ARITHMETIC.md §1, §3; docs/arithmetic.md for op-level rules).
//
// A profile is plain data. Its text form "key=value,..." names only the keys that differ from the
// defaults (ProfileToText), or every key (ProfileToText(p, /*all_keys=*/true), used in result
// fingerprints). ParseProfile accepts a named profile ("tflite"), a text form, or a name followed
// by overrides ("tflite,acc_overflow=saturate"); its errors name the bad key or value.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace qfarm {

// kHalfDown (ties toward −∞) extends ARITHMETIC.md's list: the divergence report uses it with
// kHalfUp to find the elements whose pre-rounding value was an exact tie (docs/arithmetic.md).
enum class Rounding { kHalfEven, kHalfAway, kHalfUp, kTrunc, kFloor, kHalfDown };
enum class AccOverflow { kWrap, kSaturate };
enum class ZpFold { kSubtractFirst, kFoldAfter };
enum class BiasMode { kAfter, kBefore };
enum class FloatPrecision { kFloat32, kFloat64 };
enum class Requant { kFloat32, kFloat64, kFixedDouble, kFixedSingle };

struct Profile {
  int acc_bits = 32;  // 16, 24, 32, 40, 48, 64
  AccOverflow acc_overflow = AccOverflow::kWrap;
  bool pair_sat16 = false;
  ZpFold zp_fold = ZpFold::kSubtractFirst;
  BiasMode bias = BiasMode::kAfter;
  FloatPrecision multiplier_from = FloatPrecision::kFloat64;
  Requant requant = Requant::kFloat64;
  int mult_bits = 31;  // 31, 24, 15
  Rounding rounding = Rounding::kHalfEven;

  bool operator==(const Profile&) const = default;
};

struct NamedProfile {
  std::string_view name;
  std::string_view text;  // as in ARITHMETIC.md §3, fully expanded (no "ort +" shorthand)
  std::string_view who;   // who computes this way
};

// The named profiles of ARITHMETIC.md §3, in that table's order.
std::span<const NamedProfile> NamedProfiles();

StatusOr<Profile> ParseProfile(std::string_view name_or_text);
// `base` with the "key=value,..." items of `overrides` applied (each key at most once).
StatusOr<Profile> OverrideProfile(const Profile& base, std::string_view overrides);
std::string ProfileToText(const Profile& p, bool all_keys = false);
// The first named profile equal to p, if any.
std::optional<std::string_view> ProfileName(const Profile& p);

std::string_view RoundingName(Rounding r);

// The text form's vocabulary: every key in canonical order with all its values (the first value
// of each is not necessarily the default). Used to enumerate candidate profiles.
struct ProfileKey {
  std::string_view key;
  std::vector<std::string_view> values;
};
const std::vector<ProfileKey>& ProfileVocabulary();

}  // namespace qfarm
