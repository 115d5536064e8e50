// The emulator gives identical bytes on x86 and on aarch64: qfarm-golden's output (every value of
// every built-in model under every named profile) from the native build and from the aarch64
// build run under qemu-aarch64-static must be equal line for line.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <sstream>

#include "model/builtin.h"
#include "reference/profile.h"
#include "tests/support/test_util.h"

namespace qfarm {
namespace {

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string line; std::getline(ss, line);) out.push_back(line);
  return out;
}

TEST(CrossArch, EmulatorBytesEqualOnX86AndAarch64UnderQemu) {
  const std::string qemu = QFARM_QEMU_AARCH64;
  const std::string arm = QFARM_GOLDEN_AARCH64;
  if (qemu.empty() || qemu.find("NOTFOUND") != std::string::npos) GTEST_SKIP() << "qemu-aarch64-static is not installed";
  if (!std::filesystem::exists(arm)) GTEST_SKIP() << "no aarch64 build (g++-aarch64-linux-gnu missing)";
  const auto native = qfarm::testing::Run(QFARM_GOLDEN_NATIVE);
  const auto emulated = qfarm::testing::Run(qemu + " -cpu max " + arm);
  ASSERT_EQ(native.exit_code, 0) << native.err;
  ASSERT_EQ(emulated.exit_code, 0) << emulated.err;
  const auto a = Lines(native.out), b = Lines(emulated.out);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]) << "first difference at line " << i;
  // Every built-in model × every named profile is covered.
  std::set<std::string> seen;
  for (const std::string& line : a) seen.insert(line.substr(0, line.find(' ', line.find(' ') + 1)));
  for (const BuiltinModel& m : BuiltinSuite()) {
    for (const NamedProfile& p : NamedProfiles()) {
      EXPECT_TRUE(seen.count(m.name + " " + std::string(p.name))) << m.name << " " << p.name;
    }
  }
  // The aarch64 binary really is an aarch64 executable (ELF e_machine 183).
  const std::string elf = qfarm::testing::ReadAll(arm).substr(0, 20);
  ASSERT_EQ(elf.size(), 20u);
  EXPECT_EQ(static_cast<unsigned char>(elf[18]), 183);
}

}  // namespace
}  // namespace qfarm
