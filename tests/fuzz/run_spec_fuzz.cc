// libFuzzer target: YAML run specs (docs/fuzzing.md). ParseRunSpec on the bytes as text; a spec
// that parses is expanded to the blob list the client uploads (SpecFiles). Errors are fine.
#include <cstddef>
#include <cstdint>
#include <string>

#include "controller/run_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto spec = qfarm::controller::ParseRunSpec(text, "fuzz.yaml");
  if (!spec.ok()) return 0;
  (void)qfarm::controller::SpecFiles(*spec);
  return 0;
}
