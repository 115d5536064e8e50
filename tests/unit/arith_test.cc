// Each profile axis at its edges, against values computed independently here: exact rational
// or 128-bit integer arithmetic written from ARITHMETIC.md's wording (a small soft-float for the
// float schemes), never by calling the function under test for an expectation. Random sweeps
// print their seed (--gtest_random_seed=N replays one).
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <vector>

#include "reference/arith.h"

namespace qfarm {
namespace {

using i128 = __int128;
constexpr int64_t kI32Min = std::numeric_limits<int32_t>::min();
constexpr int64_t kI32Max = std::numeric_limits<int32_t>::max();

// The framework's seed (0 unless --gtest_shuffle/--gtest_random_seed=N), printed by every sweep.
uint32_t Seed() {
  const auto seed = static_cast<uint32_t>(::testing::UnitTest::GetInstance()->random_seed());
  std::printf("random seed %u (replay: --gtest_random_seed=%u)\n", seed, seed);
  return seed;
}

// Exact rounding of num/den (den > 0) by choosing between the two nearest integers by distance.
i128 ExpectRound128(i128 num, i128 den, Rounding r) {
  i128 lo = num / den;
  if (lo * den > num) lo -= 1;  // floor
  const i128 hi = lo + 1;
  const i128 d_lo = num - lo * den, d_hi = hi * den - num;  // distances × den
  if (d_lo == 0) return lo;
  switch (r) {
    case Rounding::kFloor: return lo;
    case Rounding::kTrunc: return num < 0 ? hi : lo;
    default: break;
  }
  if (d_lo < d_hi) return lo;
  if (d_hi < d_lo) return hi;
  switch (r) {  // exact tie
    case Rounding::kHalfUp: return hi;
    case Rounding::kHalfDown: return lo;
    case Rounding::kHalfAway: return num > 0 ? hi : lo;
    default: return (lo % 2 == 0) ? lo : hi;  // half-even
  }
}
int64_t ExpectRound(i128 num, i128 den, Rounding r) {
  return static_cast<int64_t>(ExpectRound128(num, den, r));
}
i128 Pow2(int e) { return i128{1} << e; }
int64_t Clamp(i128 v, int64_t lo, int64_t hi) { return static_cast<int64_t>(v < lo ? lo : v > hi ? hi : v); }

const Rounding kAllRoundings[] = {Rounding::kHalfEven, Rounding::kHalfAway, Rounding::kHalfUp,
                                  Rounding::kTrunc, Rounding::kFloor, Rounding::kHalfDown};

// --- A small exact soft-float: value = mant · 2^exp ----------------------------------------------
struct Exact {
  i128 mant = 0;
  int exp = 0;
};
int BitLength(i128 v) {
  if (v < 0) v = -v;
  int n = 0;
  while (v > 0) ++n, v >>= 1;
  return n;
}
Exact FromDouble(double d) {  // frexp/ldexp only rescale by powers of two: exact
  int e = 0;
  const double q = std::frexp(d, &e);
  return {static_cast<i128>(static_cast<int64_t>(std::ldexp(q, 53))), e - 53};
}
// Rounds to `bits` significant bits, ties to even (IEEE round-to-nearest, normal range only).
Exact RoundSig(Exact v, int bits) {
  const int len = BitLength(v.mant);
  if (len <= bits) return v;
  const int s = len - bits;
  const i128 m = ExpectRound128(v.mant, Pow2(s), Rounding::kHalfEven);
  if (BitLength(m) > bits) return {m / 2, v.exp + s + 1};  // rounded up to 2^bits: renormalize
  return {m, v.exp + s};
}
Exact Mul(Exact a, Exact b, int bits) { return RoundSig({a.mant * b.mant, a.exp + b.exp}, bits); }
// a / b (both positive) correctly rounded to `bits` significant bits.
Exact Div(Exact a, Exact b, int bits) {
  int k = bits + BitLength(b.mant) - BitLength(a.mant);
  if (k < 0) k = 0;
  while ((a.mant << k) / b.mant < Pow2(bits - 1)) ++k;
  // Quotient in [2^(bits−1), 2^(bits+1)): round once at the right position (one sticky division).
  const i128 q = (a.mant << k) / b.mant;
  const int extra = BitLength(q) - bits;  // 0 or 1
  const i128 rounded = ExpectRound128(a.mant << k, b.mant << extra, Rounding::kHalfEven);
  return {rounded, a.exp - b.exp - k + extra};
}
// Rounds an exact value to an integer by rule r.
int64_t ToInt(Exact v, Rounding r) {
  if (v.exp >= 0) return Clamp(v.mant << v.exp, INT64_MIN, INT64_MAX);  // as RoundToInt saturates
  return ExpectRound(v.mant, Pow2(-v.exp), r);
}
double ToDouble(Exact v) { return std::ldexp(static_cast<double>(static_cast<int64_t>(v.mant)), v.exp); }

// --- Rounding ------------------------------------------------------------------------------------

// Table written from the rule names: 2v → {half_even, half_away, half_up, trunc, floor, half_down}.
struct TieRow {
  int64_t twice;
  int64_t want[6];
};
const TieRow kTies[] = {
    {1, {0, 1, 1, 0, 0, 0}},     {-1, {0, -1, 0, 0, -1, -1}},  {3, {2, 2, 2, 1, 1, 1}},
    {-3, {-2, -2, -1, -1, -2, -2}}, {5, {2, 3, 3, 2, 2, 2}},   {-5, {-2, -3, -2, -2, -3, -3}},
};

TEST(Rounding, TiesOfEachSignForEveryRule) {
  for (const TieRow& row : kTies) {
    for (int r = 0; r < 6; ++r) {
      const Rounding rule = kAllRoundings[r];
      const std::string where = "2v=" + std::to_string(row.twice) + " rule=" + std::string(RoundingName(rule));
      EXPECT_EQ(RoundToInt(static_cast<double>(row.twice) / 2, rule), row.want[r]) << where;
      EXPECT_EQ(RoundingShiftRight(row.twice, 1, rule), row.want[r]) << where;
      EXPECT_EQ(RoundingDivide(row.twice, 2, rule), row.want[r]) << where;
      EXPECT_EQ(RoundingDivide(-row.twice, -2, rule), row.want[r]) << where;
      EXPECT_EQ(ExpectRound(row.twice, 2, rule), row.want[r]) << where;  // the oracle agrees too
    }
  }
  // Non-ties: 0.25 and −0.75 by every rule.
  const int64_t quarter[6] = {0, 0, 0, 0, 0, 0}, m3q[6] = {-1, -1, -1, 0, -1, -1};
  for (int r = 0; r < 6; ++r) {
    EXPECT_EQ(RoundToInt(0.25, kAllRoundings[r]), quarter[r]);
    EXPECT_EQ(RoundToInt(-0.75, kAllRoundings[r]), m3q[r]);
    EXPECT_EQ(RoundingShiftRight(-3, 2, kAllRoundings[r]), m3q[r]);
  }
}

TEST(Rounding, TiesThroughEveryRequantScheme) {
  // value = 2v/2 reached four ways: float32 and float64 (acc = 2v, m = 0.5), fixed_single
  // (M = 2^30, shift 0: acc·2^30 / 2^31), fixed_double (acc = 4v, m = 0.25: SRDHM gives 2v
  // exactly, then the rounding right shift by 1 is the tie).
  for (const TieRow& row : kTies) {
    for (int r = 0; r < 6; ++r) {
      Profile p;
      p.rounding = kAllRoundings[r];
      const std::string where = "2v=" + std::to_string(row.twice) + " rule=" + std::string(RoundingName(p.rounding));
      for (Requant q : {Requant::kFloat32, Requant::kFloat64, Requant::kFixedSingle}) {
        p.requant = q;
        EXPECT_EQ(Requantize(p, MakeRequantParamsFromMultiplier(p, 0.5), row.twice), row.want[r])
            << where << " requant=" << static_cast<int>(q);
      }
      p.requant = Requant::kFixedDouble;
      EXPECT_EQ(Requantize(p, MakeRequantParamsFromMultiplier(p, 0.25), 2 * row.twice), row.want[r])
          << where << " fixed_double";
    }
  }
}

TEST(Rounding, NearTiesAndRandomDoublesMatchExactRationals) {
  // Just inside a tie: v = −0.5 + 2^−54 must not be mistaken for the tie −0.5 (1 + v rounds to 0.5).
  const double just_above = std::nextafter(-0.5, 0.0), just_below = std::nextafter(-0.5, -1.0);
  for (Rounding r : kAllRoundings) {
    EXPECT_EQ(RoundToInt(just_above, r), r == Rounding::kFloor ? -1 : 0) << RoundingName(r);
    EXPECT_EQ(RoundToInt(just_below, r), r == Rounding::kTrunc ? 0 : -1) << RoundingName(r);
  }
  const uint32_t seed = Seed();
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 300000; ++i) {
    double v;
    switch (rng() % 3) {
      case 0: v = std::ldexp(static_cast<double>(static_cast<int64_t>(rng())), -static_cast<int>(rng() % 70)); break;
      case 1: v = std::nextafter((static_cast<double>(static_cast<int64_t>(rng() % 2001) - 1000)) + 0.5,
                                 rng() % 2 ? 1e9 : -1e9); break;
      default: v = (static_cast<double>(rng() % 2000001) - 1000000) / 1024.0; break;
    }
    const Rounding r = kAllRoundings[rng() % 6];
    ASSERT_EQ(RoundToInt(v, r), ToInt(FromDouble(v), r)) << "seed=" << seed << " v=" << v << " rule=" << RoundingName(r);
  }
}

TEST(Rounding, LargeMagnitudesSaturateAndNanIsZero) {
  EXPECT_EQ(RoundToInt(1e30, Rounding::kHalfEven), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(RoundToInt(-1e30, Rounding::kHalfEven), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(RoundToInt(std::nan(""), Rounding::kHalfUp), 0);
  EXPECT_EQ(RoundToInt(4503599627370495.5, Rounding::kHalfEven), 4503599627370496);  // 2^52−0.5
  EXPECT_EQ(RoundingDivide(7, 0, Rounding::kHalfEven), 0);  // documented total behaviour
}

TEST(Rounding, ShiftAndDivideMatchExactRationalsOnRandomSweeps) {
  const uint32_t seed = Seed();
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 200000; ++i) {
    const int64_t x = static_cast<int64_t>(rng()) >> (rng() % 63);
    const int e = static_cast<int>(rng() % 63);
    const int64_t den = static_cast<int64_t>(rng() % 1000) + 1;
    const Rounding r = kAllRoundings[rng() % 6];
    ASSERT_EQ(RoundingShiftRight(x, e, r), ExpectRound(x, Pow2(e), r))
        << "seed=" << seed << " x=" << x << " e=" << e << " rule=" << RoundingName(r);
    ASSERT_EQ(RoundingDivide(x, den, r), ExpectRound(x, den, r))
        << "seed=" << seed << " x=" << x << " den=" << den << " rule=" << RoundingName(r);
  }
}

// --- Accumulation --------------------------------------------------------------------------------

// The accumulator step written from §1's words: wrap = modulo 2^bits into [−2^(bits−1), 2^(bits−1)).
int64_t ModelAdd(int bits, bool saturate, i128 acc, i128 term) {
  const i128 sum = acc + term, span = Pow2(bits), min = -Pow2(bits - 1), max = Pow2(bits - 1) - 1;
  if (saturate) return static_cast<int64_t>(sum < min ? min : sum > max ? max : sum);
  i128 m = (sum - min) % span;
  if (m < 0) m += span;
  return static_cast<int64_t>(m + min);
}

TEST(Accumulator, WrapAndSaturateAtEveryWidth) {
  for (int bits : {16, 24, 32, 40, 48, 64}) {
    const i128 max = Pow2(bits - 1) - 1, min = -max - 1;
    Profile wrap, sat;
    wrap.acc_bits = sat.acc_bits = bits;
    sat.acc_overflow = AccOverflow::kSaturate;
    const auto mx = static_cast<int64_t>(max), mn = static_cast<int64_t>(min);
    EXPECT_EQ(AccumulateAdd(wrap, mx, 1), mn) << bits;
    EXPECT_EQ(AccumulateAdd(sat, mx, 1), mx) << bits;
    EXPECT_EQ(AccumulateAdd(wrap, mn, -1), mx) << bits;
    EXPECT_EQ(AccumulateAdd(sat, mn, -1), mn) << bits;
    EXPECT_EQ(AccumulateAdd(wrap, mx, mx), -2) << bits;  // 2^bits − 2 wraps to −2
    EXPECT_EQ(AccumulateAdd(sat, mn, mn), mn) << bits;
    EXPECT_EQ(AccumulateAdd(wrap, 5, 7), 12);
    EXPECT_EQ(WrapToBits(mx, bits), mx);
    EXPECT_EQ(SaturateToBits(mn, bits), mn);
    if (bits < 64) {
      EXPECT_EQ(WrapToBits(mx + 1, bits), mn) << bits;
      EXPECT_EQ(SaturateToBits(mx + 1, bits), mx) << bits;
      EXPECT_EQ(SaturateToBits(mn - 1, bits), mn) << bits;
    }
  }
  EXPECT_EQ(WrapToBits(0x18000, 16), -32768);
  EXPECT_EQ(SaturateToBits(70000, 16), 32767);
}

TEST(Accumulator, RandomStepsMatchTheModuloModel) {
  const uint32_t seed = Seed();
  std::mt19937_64 rng(seed);
  const int widths[] = {16, 24, 32, 40, 48, 64};
  for (int i = 0; i < 200000; ++i) {
    Profile p;
    p.acc_bits = widths[rng() % 6];
    p.acc_overflow = rng() % 2 ? AccOverflow::kSaturate : AccOverflow::kWrap;
    const int64_t acc = ModelAdd(p.acc_bits, true, static_cast<int64_t>(rng()) >> (rng() % 64), 0);
    const int64_t term = static_cast<int64_t>(rng()) >> (rng() % 64);
    ASSERT_EQ(AccumulateAdd(p, acc, term), ModelAdd(p.acc_bits, p.acc_overflow == AccOverflow::kSaturate, acc, term))
        << "seed=" << seed << " bits=" << p.acc_bits << " acc=" << acc << " term=" << term;
  }
}

// --- Dot products --------------------------------------------------------------------------------

TEST(DotProduct, PairSat16IsVpmaddubsw) {
  Profile p;
  p.pair_sat16 = true;
  p.zp_fold = ZpFold::kFoldAfter;
  const std::vector<int32_t> x_u8 = {255, 255}, w = {127, 127};
  EXPECT_EQ(DotAccumulate(p, x_u8, w, 0, 0, DType::kUInt8, nullptr), 32767);  // not 64770
  Profile exact;
  EXPECT_EQ(DotAccumulate(exact, x_u8, w, 0, 0, DType::kUInt8, nullptr), 64770);
  const std::vector<int32_t> w_neg = {-128, -128};  // 2·255·(−128) = −65280 → −32768
  EXPECT_EQ(DotAccumulate(p, x_u8, w_neg, 0, 0, DType::kUInt8, nullptr), -32768);
  // int8 activations: offset to uint8 (127 → 255), saturate the pair, then add −128·Σw exactly.
  const std::vector<int32_t> x_s8 = {127, 127};
  EXPECT_EQ(DotAccumulate(p, x_s8, w, 0, 0, DType::kInt8, nullptr), 32767 - 128 * 254);
  EXPECT_EQ(DotAccumulate(exact, x_s8, w, 0, 0, DType::kInt8, nullptr), 127 * 127 * 2);
  // int8 −128 offsets to 0: the pair is exact and the compensation restores Σx·w.
  const std::vector<int32_t> x_min = {-128, -128};
  EXPECT_EQ(DotAccumulate(p, x_min, w, 0, 0, DType::kInt8, nullptr), -128 * 254);
  // An odd trailing element pairs with zero.
  const std::vector<int32_t> x3 = {255, 255, 255}, w3 = {127, 127, 127};
  EXPECT_EQ(DotAccumulate(p, x3, w3, 0, 0, DType::kUInt8, nullptr), 32767 + 255 * 127);
  // subtract_first + pair_sat16: pairs of (x − zx)(w − zw) saturate; zx = 0 here, zw = −1.
  Profile sub = p;
  sub.zp_fold = ZpFold::kSubtractFirst;
  EXPECT_EQ(DotAccumulate(sub, x_u8, w, 0, -1, DType::kUInt8, nullptr), 32767);  // 2·255·128
  EXPECT_EQ(DotAccumulate(sub, x_u8, w, 254, 0, DType::kUInt8, nullptr), 254);   // small: exact
}

TEST(DotProduct, ZeroPointFoldEqualUnderWrapDifferentUnderSaturation) {
  const uint32_t seed = Seed();
  std::mt19937 rng(seed);
  for (int t = 0; t < 3000; ++t) {
    Profile sub, fold;
    fold.zp_fold = ZpFold::kFoldAfter;
    sub.acc_bits = fold.acc_bits = t % 2 ? 16 : 32;  // 16 bits: the sums really wrap
    const size_t k = 1 + rng() % 200;
    std::vector<int32_t> x(k), w(k);
    for (size_t i = 0; i < k; ++i) {
      x[i] = static_cast<int32_t>(rng() % 256);
      w[i] = static_cast<int32_t>(rng() % 256) - 128;
    }
    const int32_t zx = static_cast<int32_t>(rng() % 256), zw = static_cast<int32_t>(rng() % 256) - 128;
    i128 exact = 0;
    for (size_t i = 0; i < k; ++i) exact += (i128{x[i]} - zx) * (i128{w[i]} - zw);
    const int64_t want = ModelAdd(sub.acc_bits, false, exact, 0);
    ASSERT_EQ(DotAccumulate(sub, x, w, zx, zw, DType::kUInt8, nullptr), want) << "seed=" << seed;
    ASSERT_EQ(DotAccumulate(fold, x, w, zx, zw, DType::kUInt8, nullptr), want) << "seed=" << seed;
  }
  // 16-bit saturating accumulator: subtract_first sees only zeros; fold_after saturates.
  Profile sub16, fold16;
  fold16.zp_fold = ZpFold::kFoldAfter;
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
  const int32_t big = 40000;  // outside int16: the start value itself saturates (bias=before)
  EXPECT_EQ(DotAccumulate(before, x, w, 0, 0, DType::kInt8, &big), 32767 - 5000);
  EXPECT_EQ(DotAccumulate(after, x, w, 0, 0, DType::kInt8, &big), 32767);
  Profile wrap_before = before;
  wrap_before.acc_overflow = AccOverflow::kWrap;  // under wrap the order does not matter
  EXPECT_EQ(DotAccumulate(wrap_before, x, w, 0, 0, DType::kInt8, &big), 40000 - 65536);
}

TEST(DotProduct, Int32OperandsAreExact) {
  // (x − zx)(w − zw) with int32 operands exceeds int64: 128-bit exact, then wrapped/saturated.
  const std::vector<int32_t> x = {INT32_MAX}, w = {INT32_MAX};
  Profile wrap, sat;
  wrap.acc_bits = sat.acc_bits = 64;
  sat.acc_overflow = AccOverflow::kSaturate;
  const i128 term = (i128{INT32_MAX} + INT32_MAX) * (i128{INT32_MAX} + INT32_MAX);  // zx = zw = −2^31+1
  const int32_t z = -INT32_MAX;
  EXPECT_EQ(DotAccumulate(wrap, x, w, z, z, DType::kInt32, nullptr), ModelAdd(64, false, 0, term));
  EXPECT_EQ(DotAccumulate(sat, x, w, z, z, DType::kInt32, nullptr), std::numeric_limits<int64_t>::max());
}

// §1's dot product written out once more, from the text, for the random sweep below.
int64_t ModelDot(const Profile& p, const std::vector<int32_t>& x, const std::vector<int32_t>& w,
                 int32_t zx, int32_t zw, bool x_int8, const int32_t* bias) {
  const bool sat = p.acc_overflow == AccOverflow::kSaturate;
  auto add = [&](i128 acc, i128 term) -> i128 { return ModelAdd(p.acc_bits, sat, acc, term); };
  auto sat16 = [](i128 v) -> i128 { return v < -32768 ? -32768 : v > 32767 ? 32767 : v; };
  const bool fold = p.zp_fold == ZpFold::kFoldAfter;
  const i128 off = fold && x_int8 && p.pair_sat16 ? 128 : 0;  // the uint8 offset of VPMADDUBSW
  i128 acc = bias && p.bias == BiasMode::kBefore ? add(0, *bias) : 0;
  auto term = [&](size_t i) -> i128 {
    return fold ? (x[i] + off) * i128{w[i]} : (i128{x[i]} - zx) * (i128{w[i]} - zw);
  };
  for (size_t i = 0; i < x.size(); i += (p.pair_sat16 ? 2 : 1)) {
    if (!p.pair_sat16) acc = add(acc, term(i));
    else acc = add(acc, sat16(term(i) + (i + 1 < x.size() ? term(i + 1) : 0)));
  }
  if (fold) {
    i128 sx = 0, sw = 0;
    for (size_t i = 0; i < x.size(); ++i) sx += x[i], sw += w[i];
    if (p.pair_sat16 && off) acc = add(acc, -off * sw);
    acc = add(acc, -i128{zx} * sw);
    acc = add(acc, -i128{zw} * sx);
    acc = add(acc, i128(x.size()) * zx * zw);
  }
  if (bias && p.bias == BiasMode::kAfter) acc = add(acc, *bias);
  return static_cast<int64_t>(acc);
}

TEST(DotProduct, EveryAxisCombinationMatchesTheModel) {
  const uint32_t seed = Seed();
  std::mt19937_64 rng(seed);
  const int widths[] = {16, 24, 32, 40, 48, 64};
  for (int t = 0; t < 20000; ++t) {
    Profile p;
    p.acc_bits = widths[rng() % 6];
    p.acc_overflow = rng() % 2 ? AccOverflow::kSaturate : AccOverflow::kWrap;
    p.pair_sat16 = rng() % 2;
    p.zp_fold = rng() % 2 ? ZpFold::kFoldAfter : ZpFold::kSubtractFirst;
    p.bias = rng() % 2 ? BiasMode::kBefore : BiasMode::kAfter;
    const bool x_int8 = rng() % 2;
    const size_t k = 1 + rng() % 600;
    std::vector<int32_t> x(k), w(k);
    const bool extremes = rng() % 4 == 0;  // all-extreme operands drive every width to overflow
    for (size_t i = 0; i < k; ++i) {
      const int32_t u = extremes ? (rng() % 2 ? 255 : 0) : static_cast<int32_t>(rng() % 256);
      x[i] = x_int8 ? u - 128 : u;
      w[i] = extremes ? (rng() % 2 ? 127 : -128) : static_cast<int32_t>(rng() % 256) - 128;
    }
    const int32_t zx = static_cast<int32_t>(rng() % 256) - (x_int8 ? 128 : 0);
    const int32_t zw = static_cast<int32_t>(rng() % 256) - 128;
    const int32_t bias_v = static_cast<int32_t>(rng()), *bias = rng() % 3 ? &bias_v : nullptr;
    ASSERT_EQ(DotAccumulate(p, x, w, zx, zw, x_int8 ? DType::kInt8 : DType::kUInt8, bias),
              ModelDot(p, x, w, zx, zw, x_int8, bias))
        << "seed=" << seed << " case=" << t << " profile=" << ProfileToText(p) << " k=" << k;
  }
}

// --- Fixed-point multipliers ---------------------------------------------------------------------

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
  EXPECT_EQ(QuantizeMultiplier(1e-12, 31).shift, 0);
  EXPECT_EQ(QuantizeMultiplier(0.0, 31).multiplier, 0);
  EXPECT_EQ(QuantizeMultiplier(std::ldexp(1.0, -32), 31).shift, -31);  // 2^−32 = 0.5·2^−31 kept
  EXPECT_EQ(QuantizeMultiplier(std::ldexp(1.0, -33), 31).multiplier, 0);
}

// M = round_half_away(q·2^bits) from frexp's q, in integers: q·2^53 is an exact integer.
FixedMultiplier ExpectMultiplier(double m, int bits) {
  int e = 0;
  const double q = std::frexp(m, &e);
  const auto q53 = static_cast<int64_t>(std::ldexp(q, 53));
  int64_t big = ExpectRound(q53, Pow2(53 - bits), Rounding::kHalfAway);
  if (big == (int64_t{1} << bits)) big /= 2, ++e;
  if (e < -31) return {};
  return {big, e};
}

TEST(FixedPoint, QuantizeMultiplierMatchesIntegerRoundingForAllPrecisions) {
  const uint32_t seed = Seed();
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> log_m(-34.0, 12.0);
  for (int i = 0; i < 100000; ++i) {
    const double m = std::exp2(log_m(rng));
    for (int bits : {31, 15}) {
      const FixedMultiplier want = ExpectMultiplier(m, bits), got = QuantizeMultiplier(m, bits);
      ASSERT_EQ(got.multiplier, want.multiplier) << "seed=" << seed << " m=" << m << " bits=" << bits;
      ASSERT_EQ(got.shift, want.shift) << "seed=" << seed << " m=" << m << " bits=" << bits;
    }
    // 24 bits: the float32 rounding of m (soft-float), significand with hidden bit, t = 150 − E.
    const Exact mf = RoundSig(FromDouble(m), 24);
    const int len = BitLength(mf.mant);
    const FixedMultiplier got24 = QuantizeMultiplier(m, 24);
    const int shift24 = mf.exp + len;  // m_f = (M / 2^24) · 2^shift
    if (shift24 < -31) {
      ASSERT_EQ(got24.multiplier, 0) << "seed=" << seed << " m=" << m;
      continue;
    }
    ASSERT_EQ(got24.multiplier, static_cast<int64_t>(mf.mant << (24 - len))) << "seed=" << seed << " m=" << m;
    ASSERT_EQ(got24.shift, shift24) << "seed=" << seed << " m=" << m;
  }
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
  // The same through the public derivation: m = 0.25 is (2^30, −1).
  const RequantParams quarter = MakeRequantParamsFromMultiplier(single, 0.25);
  EXPECT_EQ(quarter.fixed.multiplier, int64_t{1} << 30);
  EXPECT_EQ(quarter.fixed.shift, -1);
  EXPECT_EQ(quarter.fixed_single_shift, 32);
  EXPECT_EQ(Requantize(single, quarter, 1), 0);
  EXPECT_EQ(Requantize(dbl, MakeRequantParamsFromMultiplier(dbl, 0.25), 1), 1);
  // NEON SRSHL without gemmlowp's fixup: x = −3, e = 1 gives −1 (half_up) vs −2 (half_away).
  EXPECT_EQ(RoundingShiftRight(-3, 1, Rounding::kHalfUp), -1);
  EXPECT_EQ(Rdbpot(-3, 1), -2);
  Profile neon = dbl;
  neon.rounding = Rounding::kHalfUp;
  EXPECT_EQ(Requantize(neon, MakeRequantParamsFromMultiplier(neon, 0.25), -6), -1);  // −1.5
  EXPECT_EQ(Requantize(dbl, MakeRequantParamsFromMultiplier(dbl, 0.25), -6), -2);
}

TEST(FixedPoint, SrdhmIsSqrdmulhIncludingIntMin) {
  EXPECT_EQ(Srdhm(INT32_MIN, INT32_MIN), INT32_MAX);
  EXPECT_EQ(Srdhm(INT32_MIN, INT32_MAX), -INT32_MAX);  // (−2^62 + 2^31 + 1 − 2^30) / 2^31, truncated
  EXPECT_EQ(Srdhm(INT32_MAX, INT32_MAX), INT32_MAX - 1);
  const uint32_t seed = Seed();
  std::mt19937 rng(seed);
  for (int i = 0; i < 100000; ++i) {
    const int32_t a = static_cast<int32_t>(rng()), b = static_cast<int32_t>(rng());
    if (a == INT32_MIN && b == INT32_MIN) continue;
    // SQRDMULH: (2ab + 2^31) >> 32, an arithmetic (floor) shift.
    const int64_t want = ExpectRound(2 * i128{a} * b + Pow2(31), Pow2(32), Rounding::kFloor);
    ASSERT_EQ(Srdhm(a, b), want) << "seed=" << seed << " a=" << a << " b=" << b;
  }
}

// fixed_double from §2's formula in 128-bit integers, for every rounding of the second step.
int64_t ModelFixedDouble(int64_t acc, const FixedMultiplier& f, int mult_bits, Rounding r) {
  const i128 a = Clamp(acc, kI32Min, kI32Max);
  const int left = f.shift > 0 ? f.shift : 0, right = f.shift > 0 ? 0 : -f.shift;
  const i128 s = left > 40 ? (a > 0 ? kI32Max : a < 0 ? kI32Min : 0) : Clamp(a * Pow2(left), kI32Min, kI32Max);
  const i128 m = i128{f.multiplier} * Pow2(31 - mult_bits);
  const i128 high = (s == kI32Min && m == kI32Min) ? kI32Max : ExpectRound128(2 * s * m + Pow2(31), Pow2(32), Rounding::kFloor);
  return ExpectRound(high, Pow2(right), r);
}

TEST(Requant, FixedDoubleEveryRoundingAndPrecisionMatchesTheFormula) {
  const uint32_t seed = Seed();
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> log_m(-30.0, 40.0);
  for (int i = 0; i < 200000; ++i) {
    Profile p;
    p.requant = Requant::kFixedDouble;
    p.rounding = kAllRoundings[rng() % 6];
    p.mult_bits = std::array{31, 24, 15}[rng() % 3];
    p.acc_bits = 64;
    const double m = std::exp2(log_m(rng));
    const int64_t acc = static_cast<int64_t>(rng()) >> (rng() % 64);  // beyond int32 too
    const RequantParams rp = MakeRequantParamsFromMultiplier(p, m);
    ASSERT_EQ(Requantize(p, rp, acc), ModelFixedDouble(acc, rp.fixed, p.mult_bits, p.rounding))
        << "seed=" << seed << " acc=" << acc << " m=" << m << " " << ProfileToText(p);
  }
  // acc beyond int32 saturates first: 2^40 · 0.5 gives SRDHM(INT32_MAX, 2^30) = 2^30 (tie up).
  Profile tflite;
  tflite.requant = Requant::kFixedDouble;
  tflite.rounding = Rounding::kHalfAway;
  EXPECT_EQ(Requantize(tflite, MakeRequantParamsFromMultiplier(tflite, 0.5), int64_t{1} << 40), int64_t{1} << 30);
  // A huge multiplier: 3·2^997 saturates to INT32_MAX before SRDHM (no undefined shift).
  const RequantParams huge = MakeRequantParamsFromMultiplier(tflite, 1e300);
  EXPECT_EQ(huge.fixed.shift, 997);
  EXPECT_EQ(Requantize(tflite, huge, 3), ModelFixedDouble(3, huge.fixed, 31, Rounding::kHalfAway));
  EXPECT_EQ(Requantize(tflite, huge, -3), ModelFixedDouble(-3, huge.fixed, 31, Rounding::kHalfAway));
}

TEST(Requant, FixedSingleEveryRoundingAndPrecisionMatchesExactRationals) {
  const uint32_t seed = Seed();
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> log_m(-30.0, 40.0);
  for (int i = 0; i < 200000; ++i) {
    Profile p;
    p.requant = Requant::kFixedSingle;
    p.rounding = kAllRoundings[rng() % 6];
    p.mult_bits = std::array{31, 24, 15}[rng() % 3];
    const double m = std::exp2(log_m(rng));
    const int64_t acc = static_cast<int64_t>(rng()) >> (rng() % 64);
    const RequantParams rp = MakeRequantParamsFromMultiplier(p, m);
    ASSERT_EQ(rp.fixed_single_shift, p.mult_bits - rp.fixed.shift);
    const i128 num = i128{acc} * rp.fixed.multiplier;
    const int t = rp.fixed_single_shift;
    // t < −32: any nonzero product (|num| ≥ M ≥ 2^14) times 2^33 is far outside int32.
    const i128 exact = t >= 0 ? ExpectRound128(num, Pow2(t), p.rounding)
                              : (-t > 32 ? (num > 0 ? Pow2(100) : num < 0 ? -Pow2(100) : 0) : num * Pow2(-t));
    ASSERT_EQ(Requantize(p, rp, acc), Clamp(exact, kI32Min, kI32Max))
        << "seed=" << seed << " acc=" << acc << " m=" << m << " " << ProfileToText(p);
  }
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
  // 0.1 is not a float: M = 0xCCCCCD (float32 rounds the significand up), E = 123 → t = 27.
  const RequantParams tenth = MakeRequantParamsFromMultiplier(rndnu, 0.1);
  EXPECT_EQ(tenth.fixed.multiplier, 0xCCCCCD);
  EXPECT_EQ(tenth.fixed_single_shift, 27);
  EXPECT_EQ(Requantize(rndnu, tenth, 5), ExpectRound(5 * i128{0xCCCCCD}, Pow2(27), Rounding::kHalfUp));
  const FixedMultiplier m15 = QuantizeMultiplier(1.0 / 3, 15);
  EXPECT_EQ(m15.multiplier, 21845);  // round(2/3 · 2^15) = round(21845.33)
  EXPECT_EQ(m15.shift, -1);
  Profile q15 = rndnu;
  q15.mult_bits = 15;
  EXPECT_EQ(Requantize(q15, MakeRequantParamsFromMultiplier(q15, 1.0 / 3), 300000),
            ExpectRound(300000 * i128{21845}, Pow2(16), Rounding::kHalfUp));  // 99998.3… → 99998
}

// --- Float requantization ------------------------------------------------------------------------

TEST(Requant, Float32BoundaryAt2To24) {
  Profile f32, f64;
  f32.requant = Requant::kFloat32;
  f64.requant = Requant::kFloat64;
  const RequantParams one = MakeRequantParamsFromMultiplier(f32, 1.0);
  const int64_t two24 = int64_t{1} << 24;
  EXPECT_EQ(Requantize(f32, one, two24 + 1), two24);      // 2^24+1 is not a float: ties to even
  EXPECT_EQ(Requantize(f64, one, two24 + 1), two24 + 1);
  EXPECT_EQ(Requantize(f32, one, two24 + 3), two24 + 4);  // 2^24+3 → 2^24+4 (even significand)
  EXPECT_EQ(Requantize(f32, one, two24 - 1), two24 - 1);  // still exact below the boundary
  EXPECT_EQ(Requantize(f32, one, -(two24 + 1)), -two24);
  EXPECT_EQ(Requantize(f64, one, (int64_t{1} << 53) + 1), int64_t{1} << 53);  // float64's own edge
}

TEST(Requant, FloatSchemesMatchASoftFloatModel) {
  const uint32_t seed = Seed();
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> log_m(-30.0, 8.0);
  for (int i = 0; i < 200000; ++i) {
    Profile p;
    p.requant = rng() % 2 ? Requant::kFloat32 : Requant::kFloat64;
    p.rounding = kAllRoundings[rng() % 6];
    const double m = std::exp2(log_m(rng));
    const int64_t acc = static_cast<int64_t>(rng()) >> (23 + rng() % 41);  // |acc| < 2^40
    if (acc == 0) continue;
    const int bits = p.requant == Requant::kFloat32 ? 24 : 53;
    const Exact a = RoundSig({acc, 0}, bits), mm = RoundSig(FromDouble(m), bits);
    const int64_t want = ToInt(Mul(a, mm, bits), p.rounding);
    ASSERT_EQ(Requantize(p, MakeRequantParamsFromMultiplier(p, m), acc), want)
        << "seed=" << seed << " acc=" << acc << " m=" << m << " " << ProfileToText(p);
  }
}

TEST(Requant, MultiplierFromFloat32OrFloat64) {
  Profile p32, p64;
  p32.multiplier_from = FloatPrecision::kFloat32;
  // 0.1f·0.3f/0.7f: the float and double evaluations differ.
  EXPECT_NE(MakeRequantParams(p32, 0.1f, 0.3f, 0.7f).multiplier, MakeRequantParams(p64, 0.1f, 0.3f, 0.7f).multiplier);
  const uint32_t seed = Seed();
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> log_s(-12.0f, 2.0f);
  for (int i = 0; i < 100000; ++i) {
    const float sx = std::exp2(log_s(rng)), sw = std::exp2(log_s(rng)), sy = std::exp2(log_s(rng));
    const Exact ex = FromDouble(sx), ew = FromDouble(sw), ey = FromDouble(sy);
    const Exact m32 = Div(Mul(RoundSig(ex, 24), RoundSig(ew, 24), 24), RoundSig(ey, 24), 24);  // (s_x·s_w)/s_y
    const Exact m64 = Div(Mul(ex, ew, 53), ey, 53);
    ASSERT_EQ(MakeRequantParams(p32, sx, sw, sy).multiplier, ToDouble(m32)) << "seed=" << seed << " i=" << i;
    ASSERT_EQ(MakeRequantParams(p64, sx, sw, sy).multiplier, ToDouble(m64)) << "seed=" << seed << " i=" << i;
  }
}

// --- Output --------------------------------------------------------------------------------------

TEST(Output, SaturateThenClamp) {
  EXPECT_EQ(FinishOutput(200, 10, DType::kInt8, -128, 100), 100);
  EXPECT_EQ(FinishOutput(-300, 0, DType::kUInt8, 5, 255), 5);
  EXPECT_EQ(FinishOutput(7, -3, DType::kInt4, -8, 7), 4);
  EXPECT_EQ(FinishOutput(9, 0, DType::kInt4, -8, 7), 7);
  EXPECT_EQ(FinishOutput(std::numeric_limits<int64_t>::max(), 5, DType::kInt32, INT64_MIN, INT64_MAX), INT32_MAX);
  // Order: a clamp wider than the type cannot undo saturation (saturate first, then clamp).
  EXPECT_EQ(FinishOutput(500, 0, DType::kInt8, -1000, 1000), 127);
  EXPECT_EQ(FinishOutput(-500, 0, DType::kUInt8, -1000, 1000), 0);
  EXPECT_EQ(FinishOutput(120, 10, DType::kInt8, 0, 127), 127);  // zp added before saturation
  EXPECT_EQ(FinishOutput(-130, 10, DType::kInt8, -128, 127), -120);
  EXPECT_EQ(FinishOutput(70000, 0, DType::kInt16, -32768, 32767), 32767);
  EXPECT_EQ(FinishOutput(-20, 3, DType::kUInt4, 0, 15), 0);
}

TEST(Quantize, OnnxQuantizeLinearRoundsHalfEvenWithFloat32Division) {
  EXPECT_EQ(QuantizeValue(0.25, 0.5f, 0, DType::kInt8, Rounding::kHalfEven), 0);   // 0.5 → 0
  EXPECT_EQ(QuantizeValue(0.75, 0.5f, 0, DType::kInt8, Rounding::kHalfEven), 2);   // 1.5 → 2
  EXPECT_EQ(QuantizeValue(-0.75, 0.5f, 10, DType::kInt8, Rounding::kHalfEven), 8);  // −1.5 → −2
  EXPECT_EQ(QuantizeValue(1.25, 0.5f, 0, DType::kInt8, Rounding::kHalfAway), 3);   // 2.5 by rule
  EXPECT_EQ(QuantizeValue(1000.0, 1.0f, 0, DType::kInt8, Rounding::kHalfEven), 127);
  EXPECT_EQ(QuantizeValue(-1.0, 1.0f, 0, DType::kUInt8, Rounding::kHalfEven), 0);
  // The input is a float32: 2.5 + 2^−30 is 2.5 in float32, so half-even gives 2 (not 3).
  EXPECT_EQ(QuantizeValue(2.5 + std::ldexp(1.0, -30), 1.0f, 0, DType::kInt8, Rounding::kHalfEven), 2);
  // One float32 division, checked against a correctly rounded soft-float quotient.
  const Exact q = Div(RoundSig(FromDouble(0.35f), 24), RoundSig(FromDouble(0.1f), 24), 24);
  EXPECT_EQ(QuantizeValue(0.35f, 0.1f, 0, DType::kInt8, Rounding::kHalfEven), ToInt(q, Rounding::kHalfEven));
  EXPECT_EQ(QuantizeValue(0.35f, 0.1f, 0, DType::kInt8, Rounding::kHalfUp), ToInt(q, Rounding::kHalfUp));
  EXPECT_EQ(QuantizeValue(1e30, 1e-30f, 0, DType::kInt8, Rounding::kHalfEven), 127);  // inf saturates
  EXPECT_EQ(QuantizeValue(std::nan(""), 1.0f, 3, DType::kUInt8, Rounding::kHalfEven), 3);
}

}  // namespace
}  // namespace qfarm
