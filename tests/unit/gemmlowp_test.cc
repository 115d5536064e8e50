// The `tflite` profile equals gemmlowp's fixed-point functions bit for bit (libgemmlowp-dev) and
// TFLite's MultiplyByQuantizedMultiplier composition, on at least 10^6 seeded random cases each
// (seed printed), edge-heavy: INT32_MIN/MAX, powers of two, every shift 0..31, multipliers in
// (0, 1), above 1, near 1 (M rounds to 2^31) and near the 2^−31 flush.
//
// gemmlowp's header is included first, alone, on purpose: it compiles standalone with no
// GEMMLOWP_* define (it includes <cstdint>, <limits>, <cmath> itself; detect_platform.h picks
// the scalar int32 path unless SSE4.1/AVX2/NEON are enabled, which only add overloads for SIMD
// types). Checked with g++ 12 -std=c++20 -Wall -Wextra at -march=x86-64, -msse4.1, -mavx2,
// -march=native and with aarch64-linux-gnu-g++ (-I/usr/include).
#include <gemmlowp/fixedpoint/fixedpoint.h>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <random>

#include "reference/arith.h"

namespace qfarm {
namespace {

constexpr int kCases = 1'000'000;

uint32_t Seed() {
  const auto seed = static_cast<uint32_t>(::testing::UnitTest::GetInstance()->random_seed());
  std::printf("random seed %u (replay: --gtest_random_seed=%u)\n", seed, seed);
  return seed;
}

// Edge-heavy int32 source: extremes, small values, powers of two (±1), uniform.
int32_t Draw(std::mt19937& rng) {
  switch (rng() % 7) {
    case 0: return std::numeric_limits<int32_t>::min() + static_cast<int32_t>(rng() % 4);
    case 1: return std::numeric_limits<int32_t>::max() - static_cast<int32_t>(rng() % 4);
    case 2: return static_cast<int32_t>(rng() % 2001) - 1000;
    case 3: return static_cast<int32_t>((rng() % 2 ? 1 : -1) * (int64_t{1} << (rng() % 31)));
    case 4: {
      const int64_t p = int64_t{1} << (rng() % 31);
      return static_cast<int32_t>((rng() % 2 ? p : -p) + static_cast<int64_t>(rng() % 3) - 1);
    }
    default: return static_cast<int32_t>(rng());
  }
}

// Real multipliers: log-uniform over (2^−34, 2^31), uniform in (0, 1), just below 1, near 2^−31.
double DrawMultiplier(std::mt19937& rng) {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  switch (rng() % 5) {
    case 0: return std::exp2(-34.0 + 65.0 * unit(rng));
    case 1: return std::nextafter(unit(rng), 1.0);  // (0, 1)
    case 2: return 1.0 - std::ldexp(unit(rng), -30);  // M rounds to 2^31: (2^30, shift + 1)
    case 3: return std::ldexp(1.0 + unit(rng), -33 + static_cast<int>(rng() % 3));
    default: return std::exp2(-20.0 + 24.0 * unit(rng));
  }
}

TEST(Gemmlowp, SaturatingRoundingDoublingHighMul) {
  EXPECT_EQ(Srdhm(INT32_MIN, INT32_MIN), gemmlowp::SaturatingRoundingDoublingHighMul(INT32_MIN, INT32_MIN));
  const uint32_t seed = Seed();
  std::mt19937 rng(seed);
  for (int i = 0; i < kCases; ++i) {
    const int32_t a = Draw(rng), b = Draw(rng);
    ASSERT_EQ(Srdhm(a, b), gemmlowp::SaturatingRoundingDoublingHighMul(a, b))
        << "seed=" << seed << " a=" << a << " b=" << b;
  }
}

TEST(Gemmlowp, RoundingDivideByPOT) {
  const uint32_t seed = Seed();
  std::mt19937 rng(seed);
  for (int i = 0; i < kCases; ++i) {
    const int32_t x = Draw(rng);
    const int e = static_cast<int>(rng() % 32);
    const int32_t want = gemmlowp::RoundingDivideByPOT(x, e);
    ASSERT_EQ(Rdbpot(x, e), want) << "seed=" << seed << " x=" << x << " e=" << e;
    ASSERT_EQ(RoundingShiftRight(x, e, Rounding::kHalfAway), want) << "seed=" << seed << " x=" << x << " e=" << e;
  }
}

// TFLite's QuantizeMultiplier as its documentation states it (ARITHMETIC.md §2): frexp, then
// round(q·2^31) with ties away from zero, 2^31 → 2^30 with shift + 1, shift < −31 → (0, 0).
// (TFLITE_SINGLE_ROUNDING builds also cap shift at 30; the tflite profile is the double-rounding
// reference, so that cap is not part of it.)
void TfliteQuantizeMultiplier(double m, int32_t* multiplier, int* shift) {
  if (m == 0.0) {
    *multiplier = 0, *shift = 0;
    return;
  }
  const double q = std::frexp(m, shift);
  auto fixed = static_cast<int64_t>(std::round(q * static_cast<double>(int64_t{1} << 31)));
  if (fixed == (int64_t{1} << 31)) fixed /= 2, ++*shift;
  if (*shift < -31) fixed = 0, *shift = 0;
  *multiplier = static_cast<int32_t>(fixed);
}

TEST(Gemmlowp, QuantizeMultiplierEqualsTflite) {
  const uint32_t seed = Seed();
  std::mt19937 rng(seed);
  for (int i = 0; i < kCases; ++i) {
    const double m = DrawMultiplier(rng);
    int32_t want_m = 0;
    int want_shift = 0;
    TfliteQuantizeMultiplier(m, &want_m, &want_shift);
    const FixedMultiplier got = QuantizeMultiplier(m, 31);
    ASSERT_EQ(got.multiplier, want_m) << "seed=" << seed << " m=" << m;
    ASSERT_EQ(got.shift, want_shift) << "seed=" << seed << " m=" << m;
  }
}

// TFLite's MultiplyByQuantizedMultiplier (double rounding) written with gemmlowp's primitives.
int32_t TfliteMbqm(int32_t x, int32_t m, int shift) {
  const int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
  return gemmlowp::RoundingDivideByPOT(
      gemmlowp::SaturatingRoundingDoublingHighMul(static_cast<int32_t>(x * (int64_t{1} << left)), m), right);
}

TEST(Gemmlowp, TfliteProfileRequantizeEqualsMultiplyByQuantizedMultiplier) {
  const uint32_t seed = Seed();
  std::mt19937 rng(seed);
  const Profile tflite = *ParseProfile("tflite");
  int shifted_right = 0, shifted_left = 0;
  for (int i = 0; i < kCases; ++i) {
    const double m = DrawMultiplier(rng);
    const RequantParams rp = MakeRequantParamsFromMultiplier(tflite, m);
    // Keep x·2^left inside int32 so the TFLite expression itself is defined.
    const int left = rp.fixed.shift > 0 ? rp.fixed.shift : 0;
    const int32_t x = left >= 31 ? 0 : static_cast<int32_t>(Draw(rng) >> left);
    const int32_t want = TfliteMbqm(x, static_cast<int32_t>(rp.fixed.multiplier), rp.fixed.shift);
    ASSERT_EQ(Requantize(tflite, rp, x), want)
        << "seed=" << seed << " x=" << x << " m=" << m << " M=" << rp.fixed.multiplier << " shift=" << rp.fixed.shift;
    (rp.fixed.shift > 0 ? shifted_left : shifted_right) += 1;
  }
  // Both directions of the shift were exercised in quantity.
  EXPECT_GT(shifted_left, kCases / 10);
  EXPECT_GT(shifted_right, kCases / 2);
}

TEST(Gemmlowp, EveryRightShiftWithEdgeAccumulators) {
  // Exhaustive over shifts 0..31 × multipliers 2^30..2^31−1 corners × edge accumulators.
  const Profile tflite = *ParseProfile("tflite");
  const int32_t accs[] = {INT32_MIN, INT32_MIN + 1, -65536, -3, -2, -1, 0, 1, 2, 3, 65535, INT32_MAX - 1, INT32_MAX};
  const int32_t mults[] = {1 << 30, (1 << 30) + 1, 1431655765, 1992157647, INT32_MAX};
  for (int shift = -31; shift <= 0; ++shift) {
    for (int32_t m : mults) {
      RequantParams rp;
      rp.fixed = {m, shift};
      rp.fixed_single_shift = 31 - shift;
      for (int32_t x : accs) {
        ASSERT_EQ(Requantize(tflite, rp, x), TfliteMbqm(x, m, shift)) << "x=" << x << " M=" << m << " shift=" << shift;
      }
    }
  }
}

}  // namespace
}  // namespace qfarm
