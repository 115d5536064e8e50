// The `tflite` profile equals gemmlowp's fixed-point functions bit for bit (libgemmlowp-dev),
// on at least 10^6 random cases each, seeded from the test framework (seed printed on failure).
#include <gtest/gtest.h>

#include <gemmlowp/fixedpoint/fixedpoint.h>

#include <limits>
#include <random>

#include "reference/arith.h"

namespace qfarm {
namespace {

constexpr int kCases = 1'000'000;

// Edge-heavy int32 source: extremes, small values, powers of two, uniform.
int32_t Draw(std::mt19937& rng) {
  switch (rng() % 6) {
    case 0: return std::numeric_limits<int32_t>::min() + static_cast<int32_t>(rng() % 4);
    case 1: return std::numeric_limits<int32_t>::max() - static_cast<int32_t>(rng() % 4);
    case 2: return static_cast<int32_t>(rng() % 2001) - 1000;
    case 3: return static_cast<int32_t>((rng() % 2 ? 1 : -1) * (int64_t{1} << (rng() % 31)));
    default: return static_cast<int32_t>(rng());
  }
}

TEST(Gemmlowp, SaturatingRoundingDoublingHighMul) {
  const uint32_t seed = ::testing::UnitTest::GetInstance()->random_seed();
  std::mt19937 rng(seed);
  for (int i = 0; i < kCases; ++i) {
    const int32_t a = Draw(rng), b = Draw(rng);
    ASSERT_EQ(Srdhm(a, b), gemmlowp::SaturatingRoundingDoublingHighMul(a, b))
        << "seed=" << seed << " a=" << a << " b=" << b;
  }
}

TEST(Gemmlowp, RoundingDivideByPOT) {
  const uint32_t seed = ::testing::UnitTest::GetInstance()->random_seed();
  std::mt19937 rng(seed);
  for (int i = 0; i < kCases; ++i) {
    const int32_t x = Draw(rng);
    const int e = static_cast<int>(rng() % 32);
    ASSERT_EQ(Rdbpot(x, e), gemmlowp::RoundingDivideByPOT(x, e)) << "seed=" << seed << " x=" << x << " e=" << e;
    ASSERT_EQ(RoundingShiftRight(x, e, Rounding::kHalfAway), gemmlowp::RoundingDivideByPOT(x, e))
        << "seed=" << seed << " x=" << x << " e=" << e;
  }
}

// TFLite's MultiplyByQuantizedMultiplier written with gemmlowp's primitives.
int32_t TfliteMbqm(int32_t x, int32_t m, int shift) {
  const int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
  return gemmlowp::RoundingDivideByPOT(
      gemmlowp::SaturatingRoundingDoublingHighMul(static_cast<int32_t>(x * (int64_t{1} << left)), m), right);
}

TEST(Gemmlowp, TfliteProfileRequantizeEqualsMultiplyByQuantizedMultiplier) {
  const uint32_t seed = ::testing::UnitTest::GetInstance()->random_seed();
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> log_m(-20.0, 4.0);
  const Profile tflite = *ParseProfile("tflite");
  int checked = 0;
  for (int i = 0; i < kCases; ++i) {
    const double m = std::exp2(log_m(rng));
    const RequantParams rp = MakeRequantParamsFromMultiplier(tflite, m);
    // Keep x·2^left inside int32 so the TFLite expression itself is defined.
    const int left = rp.fixed.shift > 0 ? rp.fixed.shift : 0;
    const int32_t x = static_cast<int32_t>(Draw(rng) >> left);
    const int32_t want = TfliteMbqm(x, static_cast<int32_t>(rp.fixed.multiplier), rp.fixed.shift);
    ASSERT_EQ(Requantize(tflite, rp, x), want) << "seed=" << seed << " x=" << x << " m=" << m;
    // The multiplier represents m to 31 bits: |M·2^(shift−31) − m| ≤ 2^(shift−32).
    const double rep = std::ldexp(static_cast<double>(rp.fixed.multiplier), rp.fixed.shift - 31);
    ASSERT_LE(std::fabs(rep - m), std::ldexp(1.0, rp.fixed.shift - 32)) << "m=" << m;
    ++checked;
  }
  EXPECT_EQ(checked, kCases);
}

}  // namespace
}  // namespace qfarm
