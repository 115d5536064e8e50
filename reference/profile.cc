#include "reference/profile.h"

#include <array>
#include <vector>

namespace qfarm {
namespace {

constexpr std::array<NamedProfile, 9> kNamed = {{
    {"onnx", "multiplier_from=float32,requant=float64,rounding=half_even",
     "ONNX spec numpy reference"},
    {"ort", "multiplier_from=float32,requant=float32,rounding=half_even",
     "ONNX Runtime CPU (MLAS)"},
    {"xnnpack-fp32", "multiplier_from=float32,requant=float32,rounding=half_even",
     "XNNPACK qs8/qc8w default (fp32 requantization)"},
    {"xnnpack-rndnu",
     "multiplier_from=float32,requant=fixed_single,mult_bits=24,rounding=half_up",
     "XNNPACK qu8 on ARM (rndnu)"},
    {"tflite", "requant=fixed_double,rounding=half_away", "TFLite reference kernels"},
    {"tflite-single", "requant=fixed_single,rounding=half_up",
     "ruy, TFLM/CMSIS-NN single rounding"},
    {"neon-naive", "requant=fixed_double,rounding=half_up", "NEON SQRDMULH+SRSHL without fixup"},
    {"avx2-u8s8",
     "pair_sat16=on,zp_fold=fold_after,multiplier_from=float32,requant=float32,"
     "rounding=half_even",
     "AVX2/AVX-512 without VNNI (pmaddubsw)"},
    {"dsp-sat32", "acc_overflow=saturate,requant=fixed_double,rounding=half_away",
     "saturating DSP MACs (Hexagon :sat)"},
}};

// One key of the text form: its name, the allowed spellings, and how to read/write it.
struct KeySpec {
  std::string_view key;
  std::vector<std::string_view> values;
  void (*set)(Profile&, size_t index);
  size_t (*get)(const Profile&);
};

const std::vector<KeySpec>& Keys() {
  static const std::vector<KeySpec> keys = {
      {"acc_bits", {"16", "24", "32", "40", "48", "64"},
       [](Profile& p, size_t i) { p.acc_bits = std::array{16, 24, 32, 40, 48, 64}[i]; },
       [](const Profile& p) -> size_t {
         const std::array bits{16, 24, 32, 40, 48, 64};
         for (size_t i = 0; i < bits.size(); ++i) if (bits[i] == p.acc_bits) return i;
         return 2;
       }},
      {"acc_overflow", {"wrap", "saturate"},
       [](Profile& p, size_t i) { p.acc_overflow = static_cast<AccOverflow>(i); },
       [](const Profile& p) { return static_cast<size_t>(p.acc_overflow); }},
      {"pair_sat16", {"off", "on"}, [](Profile& p, size_t i) { p.pair_sat16 = i == 1; },
       [](const Profile& p) -> size_t { return p.pair_sat16 ? 1 : 0; }},
      {"zp_fold", {"subtract_first", "fold_after"},
       [](Profile& p, size_t i) { p.zp_fold = static_cast<ZpFold>(i); },
       [](const Profile& p) { return static_cast<size_t>(p.zp_fold); }},
      {"bias", {"after", "before"},
       [](Profile& p, size_t i) { p.bias = static_cast<BiasMode>(i); },
       [](const Profile& p) { return static_cast<size_t>(p.bias); }},
      {"multiplier_from", {"float32", "float64"},
       [](Profile& p, size_t i) { p.multiplier_from = static_cast<FloatPrecision>(i); },
       [](const Profile& p) { return static_cast<size_t>(p.multiplier_from); }},
      {"requant", {"float32", "float64", "fixed_double", "fixed_single"},
       [](Profile& p, size_t i) { p.requant = static_cast<Requant>(i); },
       [](const Profile& p) { return static_cast<size_t>(p.requant); }},
      {"mult_bits", {"31", "24", "15"},
       [](Profile& p, size_t i) { p.mult_bits = std::array{31, 24, 15}[i]; },
       [](const Profile& p) -> size_t { return p.mult_bits == 24 ? 1 : p.mult_bits == 15 ? 2 : 0; }},
      {"rounding", {"half_even", "half_away", "half_up", "trunc", "floor", "half_down"},
       [](Profile& p, size_t i) { p.rounding = static_cast<Rounding>(i); },
       [](const Profile& p) { return static_cast<size_t>(p.rounding); }},
  };
  return keys;
}

std::string Join(const std::vector<std::string_view>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) s += ", ";
    s += v[i];
  }
  return s;
}

std::string KeyList() {
  std::vector<std::string_view> names;
  for (const KeySpec& k : Keys()) names.push_back(k.key);
  return Join(names);
}

std::string NameList() {
  std::vector<std::string_view> names;
  for (const NamedProfile& n : kNamed) names.push_back(n.name);
  return Join(names);
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t pos = s.find(sep, start);
    parts.push_back(s.substr(start, pos == std::string_view::npos ? pos : pos - start));
    if (pos == std::string_view::npos) return parts;
    start = pos + 1;
  }
}

const NamedProfile* FindNamed(std::string_view name) {
  for (const NamedProfile& n : kNamed) {
    if (n.name == name) return &n;
  }
  return nullptr;
}

// Applies one "key=value" item; `seen` catches duplicate keys.
Status ApplyItem(std::string_view item, Profile& p, std::vector<std::string_view>& seen) {
  const size_t eq = item.find('=');
  if (eq == std::string_view::npos) {
    return InvalidArgument("item '" + std::string(item) +
                           "' is not key=value and not a profile name (names: " + NameList() +
                           ")");
  }
  const std::string_view key = item.substr(0, eq);
  const std::string_view value = item.substr(eq + 1);
  for (const KeySpec& spec : Keys()) {
    if (spec.key != key) continue;
    for (std::string_view s : seen) {
      if (s == key) return InvalidArgument("duplicate key '" + std::string(key) + "'");
    }
    seen.push_back(spec.key);
    for (size_t i = 0; i < spec.values.size(); ++i) {
      if (spec.values[i] == value) {
        spec.set(p, i);
        return Status::Ok();
      }
    }
    return InvalidArgument("unknown value '" + std::string(value) + "' for key '" +
                           std::string(key) + "' (expected one of " + Join(spec.values) + ")");
  }
  return InvalidArgument("unknown key '" + std::string(key) + "' (expected one of " + KeyList() +
                         ")");
}

}  // namespace

std::span<const NamedProfile> NamedProfiles() { return kNamed; }

StatusOr<Profile> ParseProfile(std::string_view text) {
  const std::string label = "profile '" + std::string(text) + "'";
  if (text.empty()) return InvalidArgument(label + ": empty profile");
  std::vector<std::string_view> items = Split(text, ',');
  Profile p;
  size_t first = 0;
  if (items[0].find('=') == std::string_view::npos && !items[0].empty()) {
    const NamedProfile* named = FindNamed(items[0]);
    if (!named) {
      return InvalidArgument(label + ": unknown profile name '" + std::string(items[0]) +
                             "' (expected one of " + NameList() + ", or key=value,...)");
    }
    std::vector<std::string_view> seen_base;
    for (std::string_view item : Split(named->text, ',')) {
      QFARM_RETURN_IF_ERROR(ApplyItem(item, p, seen_base));
    }
    first = 1;
  }
  std::vector<std::string_view> seen;
  for (size_t i = first; i < items.size(); ++i) {
    if (items[i].empty()) return InvalidArgument(label + ": empty item at position " +
                                                 std::to_string(i + 1));
    Status s = ApplyItem(items[i], p, seen);
    if (!s.ok()) return s.WithContext(label);
  }
  return p;
}

StatusOr<Profile> OverrideProfile(const Profile& base, std::string_view overrides) {
  Profile p = base;
  std::vector<std::string_view> seen;
  for (std::string_view item : Split(overrides, ',')) {
    if (item.empty()) return InvalidArgument("profile overrides '" + std::string(overrides) + "': empty item");
    Status s = ApplyItem(item, p, seen);
    if (!s.ok()) return s.WithContext("profile overrides '" + std::string(overrides) + "'");
  }
  return p;
}

std::string ProfileToText(const Profile& p, bool all_keys) {
  const Profile defaults;
  std::string text;
  for (const KeySpec& spec : Keys()) {
    const size_t idx = spec.get(p);
    if (!all_keys && idx == spec.get(defaults)) continue;
    if (!text.empty()) text += ",";
    text += std::string(spec.key) + "=" + std::string(spec.values[idx]);
  }
  return text;
}

std::optional<std::string_view> ProfileName(const Profile& p) {
  for (const NamedProfile& n : kNamed) {
    StatusOr<Profile> parsed = ParseProfile(n.text);
    if (parsed.ok() && *parsed == p) return n.name;
  }
  return std::nullopt;
}

const std::vector<ProfileKey>& ProfileVocabulary() {
  static const std::vector<ProfileKey> vocabulary = [] {
    std::vector<ProfileKey> v;
    for (const KeySpec& k : Keys()) v.push_back({k.key, k.values});
    return v;
  }();
  return vocabulary;
}

std::string_view RoundingName(Rounding r) {
  return Keys().back().values[static_cast<size_t>(r)];
}

}  // namespace qfarm
