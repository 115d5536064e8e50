#include "agent/attribution.h"

#include <set>

#include "reference/ops.h"

namespace qfarm {
namespace {

// "key=value" items of a profile's full text form.
std::vector<std::pair<std::string, std::string>> Items(const Profile& p) {
  std::vector<std::pair<std::string, std::string>> items;
  const std::string text = ProfileToText(p, true);
  for (size_t start = 0; start < text.size();) {
    const size_t end = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, end - start);
    const size_t eq = item.find('=');
    items.emplace_back(item.substr(0, eq), item.substr(eq + 1));
    start = end + 1;
  }
  return items;
}

std::vector<Profile> Candidates(const Profile& declared) {
  std::vector<std::string> singles;  // "key=value" changes
  for (const ProfileKey& axis : ProfileVocabulary()) {
    for (std::string_view v : axis.values) singles.push_back(std::string(axis.key) + "=" + std::string(v));
  }
  std::vector<Profile> out;
  std::set<std::string> seen = {ProfileToText(declared, true)};
  auto add = [&](const std::string& overrides) {
    auto p = OverrideProfile(declared, overrides);
    if (p.ok() && seen.insert(ProfileToText(*p, true)).second) out.push_back(*p);
  };
  for (const std::string& s : singles) add(s);
  for (const NamedProfile& np : NamedProfiles()) {
    auto p = ParseProfile(np.name);
    if (p.ok() && seen.insert(ProfileToText(*p, true)).second) out.push_back(*p);
  }
  for (size_t i = 0; i < singles.size(); ++i) {
    for (size_t j = i + 1; j < singles.size(); ++j) {
      if (singles[i].substr(0, singles[i].find('=')) == singles[j].substr(0, singles[j].find('='))) continue;
      add(singles[i] + "," + singles[j]);
    }
  }
  return out;
}

}  // namespace

std::vector<std::string> DifferingKeys(const Profile& a, const Profile& b) {
  std::vector<std::string> keys;
  const auto ia = Items(a), ib = Items(b);
  for (size_t i = 0; i < ia.size(); ++i) {
    if (ia[i].second != ib[i].second) keys.push_back(ia[i].first);
  }
  return keys;
}

std::string Attribution::Describe() const {
  if (!explained) return "not explained by any known profile (" + std::to_string(candidates_tried) + " candidates tried)";
  std::string keys;
  for (const std::string& k : differing_keys) keys += (keys.empty() ? "" : ", ") + k;
  return "reproduced by " + ProfileToText(profile) + " (differs from the declared profile in: " + keys + ")";
}

StatusOr<Attribution> AttributeNode(const Node& node, const std::vector<const Tensor*>& emulator_inputs,
                                    const Tensor& device_output, const Profile& declared) {
  Attribution a;
  for (const Profile& candidate : Candidates(declared)) {
    ++a.candidates_tried;
    auto out = RunReferenceNode(node, candidate, emulator_inputs);
    if (!out.ok() || out->empty()) continue;
    if ((*out)[0] == device_output) {
      a.explained = true;
      a.profile = candidate;
      a.differing_keys = DifferingKeys(candidate, declared);
      return a;
    }
  }
  return a;
}

}  // namespace qfarm
