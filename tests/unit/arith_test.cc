// Each profile axis at its edges, against values computed independently here: exact rational
// or 128-bit integer arithmetic written from ARITHMETIC.md's wording, never by calling the
// function under test. Random sweeps print their seed.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "reference/arith.h"

namespace qfarm {
namespace {

using i128 = __int128;

// Exact rounding of num/den (den > 0) by choosing between the two nearest integers by distance.
int64_t ExpectRound(i128 num, i128 den, Rounding r) {
  i128 lo = num / den;
  if (lo * den > num) lo -= 1;  // floor
  const i128 hi = lo + 1;
  const i128 d_lo = num - lo * den, d_hi = hi * den - num;  // distances × den
  if (d_lo == 0) return static_cast<int64_t>(lo);
  switch (r) {
    case Rounding::kFloor: return static_cast<int64_t>(lo);
    case Rounding::kTrunc: return static_cast<int64_t>(num < 0 ? hi : lo);
    default: break;
  }
  if (d_lo < d_hi) return static_cast<int64_t>(lo);
  if (d_hi < d_lo) return static_cast<int64_t>(hi);
  switch (r) {  // exact tie
    case Rounding::kHalfUp: return static_cast<int64_t>(hi);
    case Rounding::kHalfDown: return static_cast<int64_t>(lo);
    case Rounding::kHalfAway: return static_cast<int64_t>(num > 0 ? hi : lo);
    default: return static_cast<int64_t>((lo % 2 == 0) ? lo : hi);  // half-even
  }
}

const Rounding kAllRoundings[] = {Rounding::kHalfEven, Rounding::kHalfAway, Rounding::kHalfUp,
                                  Rounding::kTrunc, Rounding::kFloor, Rounding::kHalfDown};

TEST(Rounding, TiesOfEachSignForEveryRule) {
  // Table written from the rule names: value → {half_even, half_away, half_up, trunc, floor}.
  struct Row { double v; int64_t want[5]; };
  const Row rows[] = {
      {0.5, {0, 1, 1, 0, 0}},     {-0.5, {0, -1, 0, 0, -1}},  {1.5, {2, 2, 2, 1, 1}},
      {-1.5, {-2, -2, -1, -1, -2}}, {2.5, {2, 3, 3, 2, 2}},   {-2.5, {-2, -3, -2, -2, -3}},
      {0.25, {0, 0, 0, 0, 0}},    {-0.75, {-1, -1, -1, 0, -1}}, {3.0, {3, 3, 3, 3, 3}},
  };
  for (const Row& row : rows) {
    for (int r = 0; r < 5; ++r) {
      EXPECT_EQ(RoundToInt(row.v, kAllRoundings[r]), row.want[r])
          << "v=" << row.v << " rule=" << RoundingName(kAllRoundings[r]);
      EXPECT_EQ(ExpectRound(static_cast<i128>(row.v * 4), 4, kAllRoundings[r]), row.want[r]);
    }
  }
}

TEST(Rounding, HalfDownIsTiesTowardMinusInfinity) {
  EXPECT_EQ(RoundToInt(0.5, Rounding::kHalfDown), 0);
  EXPECT_EQ(RoundToInt(-0.5, Rounding::kHalfDown), -1);
  EXPECT_EQ(RoundToInt(2.5, Rounding::kHalfDown), 2);
  EXPECT_EQ(RoundToInt(2.75, Rounding::kHalfDown), 3);
  EXPECT_EQ(RoundingShiftRight(5, 1, Rounding::kHalfDown), 2);
  EXPECT_EQ(RoundingDivide(-3, 2, Rounding::kHalfDown), -2);
}

TEST(Rounding, LargeMagnitudesSaturateAndNanIsZero) {
  EXPECT_EQ(RoundToInt(1e30, Rounding::kHalfEven), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(RoundToInt(-1e30, Rounding::kHalfEven), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(RoundToInt(std::nan(""), Rounding::kHalfUp), 0);
  EXPECT_EQ(RoundToInt(4503599627370495.5, Rounding::kHalfEven), 4503599627370496);  // 2^52−0.5
}

TEST(Rounding, ShiftAndDivideMatchExactRationalsOnRandomSweeps) {
  const uint32_t seed = ::testing::UnitTest::GetInstance()->random_seed();
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 200000; ++i) {
    const int64_t x = static_cast<int64_t>(rng()) >> (rng() % 63);
    const int e = static_cast<int>(rng() % 63);
    const int64_t den = static_cast<int64_t>(rng() % 1000) + 1;
    const Rounding r = kAllRoundings[rng() % 6];
    ASSERT_EQ(RoundingShiftRight(x, e, r), ExpectRound(x, i128{1} << e, r))
        << "seed=" << seed << " x=" << x << " e=" << e << " rule=" << RoundingName(r);
    ASSERT_EQ(RoundingDivide(x, den, r), ExpectRound(x, den, r))
        << "seed=" << seed << " x=" << x << " den=" << den << " rule=" << RoundingName(r);
  }
}

TEST(Accumulator, WrapAndSaturateAtEveryWidth) {
  for (int bits : {16, 24, 32, 40, 48, 64}) {
    const i128 max = (i128{1} << (bits - 1)) - 1, min = -max - 1;
    Profile wrap, sat;
    wrap.acc_bits = sat.acc_bits = bits;
    sat.acc_overflow = AccOverflow::kSaturate;
    EXPECT_EQ(AccumulateAdd(wrap, static_cast<int64_t>(max), 1), static_cast<int64_t>(min)) << bits;
    EXPECT_EQ(AccumulateAdd(sat, static_cast<int64_t>(max), 1), static_cast<int64_t>(max)) << bits;
    EXPECT_EQ(AccumulateAdd(wrap, static_cast<int64_t>(min), -1), static_cast<int64_t>(max)) << bits;
    EXPECT_EQ(AccumulateAdd(sat, static_cast<int64_t>(min), -1), static_cast<int64_t>(min)) << bits;
    EXPECT_EQ(AccumulateAdd(wrap, 5, 7), 12);
  }
  EXPECT_EQ(WrapToBits(0x18000, 16), -32768);
  EXPECT_EQ(SaturateToBits(70000, 16), 32767);
}

TEST(DotProduct, PairSat16IsVpmaddubsw) {
  Profile p;
  p.pair_sat16 = true;
  p.zp_fold = ZpFold::kFoldAfter;
  const std::vector<int32_t> x_u8 = {255, 255}, w = {127, 127};
  EXPECT_EQ(DotAccumulate(p, x_u8, w, 0, 0, DType::kUInt8, nullptr), 32767);  // not 64770
  Profile exact;
  EXPECT_EQ(DotAccumulate(exact, x_u8, w, 0, 0, DType::kUInt8, nullptr), 64770);
  // int8 activations: offset to uint8, saturate the pair, then subtract 128·Σw exactly.
  const std::vector<int32_t> x_s8 = {127, 127};
  const int64_t pair = std::min<int64_t>(255 * 127 * 2, 32767);
  EXPECT_EQ(DotAccumulate(p, x_s8, w, 0, 0, DType::kInt8, nullptr), pair - 128 * 254);
  EXPECT_EQ(DotAccumulate(exact, x_s8, w, 0, 0, DType::kInt8, nullptr), 127 * 127 * 2);
  // An odd trailing element pairs with zero.
  const std::vector<int32_t> x3 = {255, 255, 255}, w3 = {127, 127, 127};
  EXPECT_EQ(DotAccumulate(p, x3, w3, 0, 0, DType::kUInt8, nullptr), 32767 + 255 * 127);
}

TEST(DotProduct, ZeroPointFoldEqualUnderWrapDifferentUnderSaturation) {
  const uint32_t seed = ::testing::UnitTest::GetInstance()->random_seed();
  std::mt19937 rng(seed);
  Profile sub, fold;
  fold.zp_fold = ZpFold::kFoldAfter;
  for (int t = 0; t < 2000; ++t) {
    const size_t k = 1 + rng() % 70;
    std::vector<int32_t> x(k), w(k);
    for (size_t i = 0; i < k; ++i) {
      x[i] = static_cast<int32_t>(rng() % 256);
      w[i] = static_cast<int32_t>(rng() % 256) - 128;
    }
    const int32_t zx = static_cast<int32_t>(rng() % 256), zw = static_cast<int32_t>(rng() % 256) - 128;
    int64_t exact = 0;
    for (size_t i = 0; i < k; ++i) exact += (int64_t{x[i]} - zx) * (int64_t{w[i]} - zw);
    ASSERT_EQ(DotAccumulate(sub, x, w, zx, zw, DType::kUInt8, nullptr), exact) << "seed=" << seed;
    ASSERT_EQ(DotAccumulate(fold, x, w, zx, zw, DType::kUInt8, nullptr), exact) << "seed=" << seed;
  }
  // 16-bit saturating accumulator: subtract_first sees only zeros; fold_after saturates.
  Profile sub16 = sub, fold16 = fold;
  sub16.acc_bits = fold16.acc_bits = 16;
  sub16.acc_overflow = fold16.acc_overflow = AccOverflow::kSaturate;
  const std::vector<int32_t> x = {255, 255}, w = {127, 127};
  EXPECT_EQ(DotAccumulate(sub16, x, w, 255, 0, DType::kUInt8, nullptr), 0);
  // By hand: 32385, then min(64770, 32767) = 32767, then − 255·254 → −32003.
  EXPECT_EQ(DotAccumulate(fold16, x, w, 255, 0, DType::kUInt8, nullptr), 32767 - 255 * 254);
}

TEST(DotProduct, BiasBeforeOrAfterUnderSaturation) {
  Profile before, after;
  before.acc_bits = after.acc_bits = 16;
  before.acc_overflow = after.acc_overflow = AccOverflow::kSaturate;
  before.bias = BiasMode::kBefore;
  const std::vector<int32_t> x = {100, -100}, w = {50, 50};  // +5000 then −5000
  const int32_t bias = 30000;
  EXPECT_EQ(DotAccumulate(before, x, w, 0, 0, DType::kInt8, &bias), 32767 - 5000);
  EXPECT_EQ(DotAccumulate(after, x, w, 0, 0, DType::kInt8, &bias), 30000);
}

TEST(FixedPoint, TfliteQuantizeMultiplierVectors) {
  struct V { double m; int64_t mult; int shift; };
  const V vectors[] = {{0.5, int64_t{1} << 30, 0},
                       {1.0 / 3, 1431655765, -1},
                       {0.0072474273, 1992157647, -7},
                       {0.9999999999, int64_t{1} << 30, 1}};
  for (const V& v : vectors) {
    const FixedMultiplier f = QuantizeMultiplier(v.m, 31);
    EXPECT_EQ(f.multiplier, v.mult) << v.m;
    EXPECT_EQ(f.shift, v.shift) << v.m;
  }
  EXPECT_EQ(QuantizeMultiplier(1e-12, 31).multiplier, 0);  // shift < −31 flushes
}

TEST(FixedPoint, SingleVersusDoubleRoundingVectors) {
  Profile dbl, single;
  dbl.requant = Requant::kFixedDouble;
  dbl.rounding = Rounding::kHalfAway;
  single.requant = Requant::kFixedSingle;
  single.rounding = Rounding::kHalfUp;
  RequantParams rp;
  rp.fixed = {int64_t{1} << 30, -1};
  rp.fixed_single_shift = 31 - rp.fixed.shift;
  EXPECT_EQ(Requantize(dbl, rp, 1), 1);
  EXPECT_EQ(Requantize(single, rp, 1), 0);
  EXPECT_EQ(Requantize(dbl, rp, -2), -1);
  EXPECT_EQ(Requantize(single, rp, -2), 0);
  // NEON SRSHL without gemmlowp's fixup: x = −3, e = 1 gives −1 (half_up) vs −2 (half_away).
  EXPECT_EQ(RoundingShiftRight(-3, 1, Rounding::kHalfUp), -1);
  EXPECT_EQ(Rdbpot(-3, 1), -2);
}

TEST(FixedPoint, SrdhmIsSqrdmulhIncludingIntMin) {
  constexpr int32_t kMin = std::numeric_limits<int32_t>::min();
  EXPECT_EQ(Srdhm(kMin, kMin), std::numeric_limits<int32_t>::max());
  const uint32_t seed = ::testing::UnitTest::GetInstance()->random_seed();
  std::mt19937 rng(seed);
  for (int i = 0; i < 100000; ++i) {
    const int32_t a = static_cast<int32_t>(rng()), b = static_cast<int32_t>(rng());
    if (a == kMin && b == kMin) continue;
    // SQRDMULH: (2ab + 2^31) >> 32, an arithmetic (floor) shift.
    const int64_t want = static_cast<int64_t>(ExpectRound(2 * i128{a} * b + (i128{1} << 31), i128{1} << 32,
                                                          Rounding::kFloor));
    ASSERT_EQ(Srdhm(a, b), want) << "seed=" << seed << " a=" << a << " b=" << b;
  }
}

TEST(Requant, Float32BoundaryAt2To24) {
  Profile f32, f64;
  f32.requant = Requant::kFloat32;
  f64.requant = Requant::kFloat64;
  const RequantParams one = MakeRequantParamsFromMultiplier(f32, 1.0);
  const int64_t two24 = int64_t{1} << 24;
  EXPECT_EQ(Requantize(f32, one, two24 + 1), two24);      // 2^24+1 is not a float: ties to even
  EXPECT_EQ(Requantize(f64, one, two24 + 1), two24 + 1);
  EXPECT_EQ(Requantize(f32, one, two24 + 3), two24 + 4);  // 2^24+3 → 2^24+4 (even mantissa)
  EXPECT_EQ(Requantize(f32, one, two24 - 1), two24 - 1);  // still exact below the boundary
}

TEST(Requant, ReducedPrecisionMultipliers) {
  Profile rndnu;
  rndnu.requant = Requant::kFixedSingle;
  rndnu.mult_bits = 24;
  rndnu.rounding = Rounding::kHalfUp;
  const RequantParams rp = MakeRequantParamsFromMultiplier(rndnu, 0.75);
  EXPECT_EQ(rp.fixed.multiplier, 0xC00000);  // 1.5 · 2^23: the float significand with hidden bit
  EXPECT_EQ(rp.fixed_single_shift, 24);       // t = 150 − biased exponent 126
  EXPECT_EQ(Requantize(rndnu, rp, 1000), 750);
  EXPECT_EQ(Requantize(rndnu, rp, 2), 2);     // 1.5 rounds half up
  EXPECT_EQ(Requantize(rndnu, rp, -2), -1);   // −1.5 rounds half up (toward +∞)
  const FixedMultiplier m15 = QuantizeMultiplier(1.0 / 3, 15);
  EXPECT_EQ(m15.multiplier, 21845);  // round(2/3 · 2^15) = round(21845.33)
  EXPECT_EQ(m15.shift, -1);
}

TEST(Requant, MultiplierFromFloat32OrFloat64) {
  Profile p32, p64;
  p32.multiplier_from = FloatPrecision::kFloat32;
  const float sx = 0.1f, sw = 0.3f, sy = 0.7f;
  const float prod = sx * sw;
  EXPECT_EQ(MakeRequantParams(p32, sx, sw, sy).multiplier, static_cast<double>(prod / sy));
  EXPECT_EQ(MakeRequantParams(p64, sx, sw, sy).multiplier, (double{sx} * double{sw}) / double{sy});
  EXPECT_NE(MakeRequantParams(p32, sx, sw, sy).multiplier, MakeRequantParams(p64, sx, sw, sy).multiplier);
}

TEST(Output, SaturateThenClamp) {
  EXPECT_EQ(FinishOutput(200, 10, DType::kInt8, -128, 100), 100);
  EXPECT_EQ(FinishOutput(-300, 0, DType::kUInt8, 5, 255), 5);
  EXPECT_EQ(FinishOutput(7, -3, DType::kInt4, -8, 7), 4);
  EXPECT_EQ(FinishOutput(9, 0, DType::kInt4, -8, 7), 7);
  EXPECT_EQ(FinishOutput(std::numeric_limits<int64_t>::max(), 5, DType::kInt32, INT64_MIN, INT64_MAX),
            std::numeric_limits<int32_t>::max());
}

TEST(Quantize, OnnxQuantizeLinearRoundsHalfEvenWithTrueDivision) {
  EXPECT_EQ(QuantizeValue(0.25, 0.5f, 0, DType::kInt8, Rounding::kHalfEven), 0);   // 0.5 → 0
  EXPECT_EQ(QuantizeValue(0.75, 0.5f, 0, DType::kInt8, Rounding::kHalfEven), 2);   // 1.5 → 2
  EXPECT_EQ(QuantizeValue(-0.75, 0.5f, 10, DType::kInt8, Rounding::kHalfEven), 8);
  EXPECT_EQ(QuantizeValue(1000.0, 1.0f, 0, DType::kInt8, Rounding::kHalfEven), 127);
  EXPECT_EQ(QuantizeValue(-1.0, 1.0f, 0, DType::kUInt8, Rounding::kHalfEven), 0);
}

}  // namespace
}  // namespace qfarm
