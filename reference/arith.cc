// The emulator's arithmetic rules (shared/ARITHMETIC.md §1–§2). Each function is a literal
// transcription of one rule; exact integer math in int64/__int128, floats without contraction.
#include "reference/arith.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace qfarm {
namespace {

using i128 = __int128;
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();
constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();
constexpr int64_t kInt32Min = std::numeric_limits<int32_t>::min();

int64_t Clamp128(i128 v, int64_t lo, int64_t hi) {
  if (v < lo) return lo;
  if (v > hi) return hi;
  return static_cast<int64_t>(v);
}

// floor(x / 2^e) + rounding increment, for 128-bit x and e in [1, 126].
i128 RoundShift128(i128 x, int e, Rounding r) {
  const i128 floor = x >> e;  // arithmetic shift: C++20 defines it as floor division
  const i128 rem = x - (floor << e);  // in [0, 2^e)
  const i128 half = i128{1} << (e - 1);
  switch (r) {
    case Rounding::kFloor: return floor;
    case Rounding::kTrunc: return (x < 0 && rem != 0) ? floor + 1 : floor;
    case Rounding::kHalfUp: return rem >= half ? floor + 1 : floor;
    case Rounding::kHalfDown: return rem > half ? floor + 1 : floor;
    case Rounding::kHalfAway:
      if (rem != half) return rem > half ? floor + 1 : floor;
      return x >= 0 ? floor + 1 : floor;
    case Rounding::kHalfEven:
      if (rem != half) return rem > half ? floor + 1 : floor;
      return (floor & 1) ? floor + 1 : floor;
  }
  return floor;
}

// Float → float32 without the undefined behaviour of converting an out-of-range double: values
// beyond FLT_MAX round to ±FLT_MAX or ±inf exactly as an IEEE round-to-nearest conversion does.
float ToFloat(double d) {
  constexpr double kMax = std::numeric_limits<float>::max();
  constexpr double kOverflow = kMax + 0x1p103;  // FLT_MAX + half an ulp: ties go to even (inf)
  if (d >= kOverflow) return std::numeric_limits<float>::infinity();
  if (d <= -kOverflow) return -std::numeric_limits<float>::infinity();
  if (d > kMax) return std::numeric_limits<float>::max();
  if (d < -kMax) return -std::numeric_limits<float>::max();
  return static_cast<float>(d);
}

int64_t SaturatingAdd64(int64_t a, int64_t b) {
  return Clamp128(static_cast<i128>(a) + b, kInt64Min, kInt64Max);
}

}  // namespace

int64_t RoundToInt(double v, Rounding r) {
  if (std::isnan(v)) return 0;
  if (v >= 9223372036854775807.0) return kInt64Max;  // 2^63 and above
  if (v < -9223372036854775808.0) return kInt64Min;
  const double fl = std::floor(v);
  if (fl == v) return static_cast<int64_t>(v);
  // Not an integer, so |v| < 2^52: fl + 0.5 is exact and every comparison below is exact. (The
  // difference v − fl is not: for v in (−0.5, 0), 1 + v may round to 0.5 and fake a tie.)
  const double mid = fl + 0.5;
  const int64_t lo = static_cast<int64_t>(fl);
  bool up = false;
  switch (r) {
    case Rounding::kFloor: up = false; break;
    case Rounding::kTrunc: up = v < 0; break;
    case Rounding::kHalfUp: up = v >= mid; break;
    case Rounding::kHalfDown: up = v > mid; break;
    case Rounding::kHalfAway: up = v > mid || (v == mid && v > 0); break;
    case Rounding::kHalfEven: up = v > mid || (v == mid && (lo & 1) != 0); break;
  }
  return lo + (up ? 1 : 0);
}

int64_t RoundingShiftRight(int64_t x, int e, Rounding r) {
  if (e <= 0) return x;
  if (e > 126) e = 126;
  return static_cast<int64_t>(RoundShift128(x, e, r));
}

int64_t RoundingDivide(int64_t num, int64_t den, Rounding r) {
  // Floor division in 128 bits, then the increment decided on the remainder (0 ≤ rem < den).
  if (den == 0) return 0;  // documented in arith.h: callers never divide by zero on purpose
  const i128 n = den < 0 ? -i128{num} : i128{num}, d = den < 0 ? -i128{den} : i128{den};
  i128 q = n / d;
  if ((n % d != 0) && (n < 0)) q -= 1;
  const i128 rem = n - q * d;
  const i128 twice = 2 * rem;
  bool up = false;
  switch (r) {
    case Rounding::kFloor: up = false; break;
    case Rounding::kTrunc: up = n < 0 && rem != 0; break;
    case Rounding::kHalfUp: up = twice >= d; break;
    case Rounding::kHalfDown: up = twice > d; break;
    case Rounding::kHalfAway: up = twice > d || (twice == d && n >= 0); break;
    case Rounding::kHalfEven: up = twice > d || (twice == d && (q & 1)); break;
  }
  return Clamp128(q + (up ? 1 : 0), kInt64Min, kInt64Max);
}

int64_t WrapToBits(int64_t v, int bits) {
  if (bits >= 64) return v;
  const uint64_t u = static_cast<uint64_t>(v) << (64 - bits);
  return static_cast<int64_t>(u) >> (64 - bits);  // C++20: modular conversion, arithmetic shift
}

int64_t SaturateToBits(int64_t v, int bits) {
  if (bits >= 64) return v;
  const int64_t hi = (int64_t{1} << (bits - 1)) - 1;
  const int64_t lo = -hi - 1;
  return v < lo ? lo : v > hi ? hi : v;
}

namespace {

// acc + term for any 128-bit term: int32 operands make (x − zx)(w − zw) and zx·Σw exceed int64.
int64_t AddTerm(const Profile& p, int64_t acc, i128 term) {
  const i128 sum = static_cast<i128>(acc) + term;
  if (p.acc_overflow == AccOverflow::kSaturate) {
    const int bits = p.acc_bits >= 64 ? 64 : p.acc_bits;
    const int64_t hi = bits == 64 ? kInt64Max : (int64_t{1} << (bits - 1)) - 1;
    return Clamp128(sum, -hi - 1, hi);
  }
  const int64_t wrapped64 = static_cast<int64_t>(static_cast<uint64_t>(sum));  // modulo 2^64
  return WrapToBits(wrapped64, p.acc_bits);
}

i128 Saturate16(i128 v) { return v < -32768 ? -32768 : v > 32767 ? 32767 : v; }

// Σ over pairs (2j, 2j+1) of sat16(a[2j]·b[2j] + a[2j+1]·b[2j+1]), a trailing element paired with
// 0. subtract: a = x − zx, b = w − zw; else a = x + x_offset, b = w.
int64_t PairSat16Sum(const Profile& p, int64_t acc, std::span<const int32_t> x,
                     std::span<const int32_t> w, int32_t x_offset, int32_t zx, int32_t zw,
                     bool subtract) {
  const size_t k = x.size();
  for (size_t j = 0; j < k; j += 2) {
    i128 pair = 0;
    for (size_t t = j; t < j + 2 && t < k; ++t) {
      const i128 xv = subtract ? i128{x[t]} - zx : i128{x[t]} + x_offset;
      const i128 wv = subtract ? i128{w[t]} - zw : i128{w[t]};
      pair += xv * wv;
    }
    acc = AddTerm(p, acc, Saturate16(pair));
  }
  return acc;
}

}  // namespace

int64_t AccumulateAdd(const Profile& p, int64_t acc, int64_t term) { return AddTerm(p, acc, term); }

// Order of operations (it matters only when the accumulator saturates); every "+=" is one
// AccumulateAdd, every term is formed exactly (128-bit) before it is added:
//   acc = AccumulateAdd(0, bias) (bias=before; so a bias outside acc_bits wraps/saturates) or 0
//   subtract_first: acc += (x_k − zx)(w_k − zw), k ascending. pair_sat16: acc += sat16(t_2j +
//                   t_2j+1) with t_k = (x_k − zx)(w_k − zw), j ascending (a kernel that subtracts
//                   zero points before VPMADDUBSW; no uint8 offset is needed then).
//   fold_after:     acc += x_k·w_k, k ascending (pair_sat16: acc += sat16 of the pair sums of
//                   (x_k + 128)·w_k when x_type is int8, of x_k·w_k otherwise, j ascending; then,
//                   for int8, acc += −128·Σw), then acc += −zx·Σw, acc += −zw·Σx, acc += K·zx·zw,
//                   with Σx and Σw the exact sums of the raw values.
//   acc += bias (bias=after)
int64_t DotAccumulate(const Profile& p, std::span<const int32_t> x, std::span<const int32_t> w,
                      int32_t zx, int32_t zw, DType x_type, const int32_t* bias) {
  int64_t acc = 0;
  if (bias && p.bias == BiasMode::kBefore) acc = AddTerm(p, 0, *bias);
  const size_t k = x.size();
  if (p.zp_fold == ZpFold::kSubtractFirst) {
    if (p.pair_sat16) {
      acc = PairSat16Sum(p, acc, x, w, 0, zx, zw, /*subtract=*/true);
    } else {
      for (size_t i = 0; i < k; ++i) acc = AddTerm(p, acc, (i128{x[i]} - zx) * (i128{w[i]} - zw));
    }
  } else {
    int64_t sum_x = 0, sum_w = 0;  // |Σ| < 2^31 · K: exact for any K a span can hold here
    for (size_t i = 0; i < k; ++i) {
      sum_x += x[i];
      sum_w += w[i];
    }
    if (p.pair_sat16) {
      const int32_t offset = x_type == DType::kInt8 ? 128 : 0;
      acc = PairSat16Sum(p, acc, x, w, offset, 0, 0, /*subtract=*/false);
      if (offset) acc = AddTerm(p, acc, -i128{offset} * sum_w);
    } else {
      for (size_t i = 0; i < k; ++i) acc = AddTerm(p, acc, i128{x[i]} * w[i]);
    }
    acc = AddTerm(p, acc, -i128{zx} * sum_w);
    acc = AddTerm(p, acc, -i128{zw} * sum_x);
    acc = AddTerm(p, acc, static_cast<i128>(k) * zx * zw);
  }
  if (bias && p.bias == BiasMode::kAfter) acc = AddTerm(p, acc, *bias);
  return acc;
}

FixedMultiplier QuantizeMultiplier(double m, int mult_bits) {
  FixedMultiplier f;
  if (!(m > 0) || !std::isfinite(m)) return f;
  if (mult_bits == 24) {
    // XNNPACK rndnu: the float32 significand with its hidden bit; m = M · 2^(E − 150). A float
    // overflow keeps FLT_MAX (XNNPACK rejects such scales); a float subnormal flushes below.
    const float mf = std::min(ToFloat(m), std::numeric_limits<float>::max());
    uint32_t bits;
    std::memcpy(&bits, &mf, sizeof(bits));
    const int biased_exp = static_cast<int>((bits >> 23) & 0xff);
    f.multiplier = 0x800000 | (bits & 0x7fffff);
    f.shift = biased_exp - 126;  // so that t = mult_bits − shift = 150 − E
  } else {
    int shift = 0;
    const double q = std::frexp(m, &shift);  // m = q · 2^shift, q in [0.5, 1)
    const double scaled = std::ldexp(q, mult_bits);
    int64_t big = static_cast<int64_t>(std::round(scaled));  // std::round: ties away from zero
    if (big == (int64_t{1} << mult_bits)) {
      big /= 2;
      ++shift;
    }
    f.multiplier = big;
    f.shift = shift;
  }
  if (f.shift < -31) f = FixedMultiplier{};
  return f;
}

int32_t Srdhm(int32_t a, int32_t b) {
  const bool overflow = a == b && a == std::numeric_limits<int32_t>::min();
  const int64_t ab = int64_t{a} * int64_t{b};
  const int64_t nudge = ab >= 0 ? (int64_t{1} << 30) : (1 - (int64_t{1} << 30));
  const int32_t high = static_cast<int32_t>((ab + nudge) / (int64_t{1} << 31));  // truncating
  return overflow ? std::numeric_limits<int32_t>::max() : high;
}

int32_t Rdbpot(int32_t x, int exponent) {
  const int32_t mask = static_cast<int32_t>((int64_t{1} << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

RequantParams MakeRequantParamsFromMultiplier(const Profile& p, double m) {
  RequantParams rp;
  rp.multiplier = m;
  rp.fixed = QuantizeMultiplier(m, p.mult_bits);
  rp.fixed_single_shift = p.mult_bits - rp.fixed.shift;
  return rp;
}

RequantParams MakeRequantParams(const Profile& p, float s_x, float s_w, float s_y) {
  double m;
  if (p.multiplier_from == FloatPrecision::kFloat32) {
    const float prod = s_x * s_w;  // two float roundings: (s_x·s_w) then / s_y
    m = static_cast<double>(prod / s_y);
  } else {
    m = (static_cast<double>(s_x) * static_cast<double>(s_w)) / static_cast<double>(s_y);
  }
  return MakeRequantParamsFromMultiplier(p, m);
}

namespace {

// TFLite's MultiplyByQuantizedMultiplier with the second rounding by the profile's rule.
// acc beyond int32 (acc_bits > 32) saturates to int32 first; the left shift saturates too (TFLite's
// int32 multiply would be undefined there). A shift of 32 already saturates every nonzero a.
int64_t RequantFixedDouble(const Profile& p, const RequantParams& rp, int64_t acc) {
  const int32_t a = static_cast<int32_t>(Clamp128(acc, kInt32Min, kInt32Max));
  // Reduced-precision multipliers are exact in Q31 once shifted up.
  const int64_t m31 = rp.fixed.multiplier << (31 - p.mult_bits);
  const int32_t m = static_cast<int32_t>(Clamp128(m31, kInt32Min, kInt32Max));
  const int left = rp.fixed.shift > 0 ? std::min(rp.fixed.shift, 32) : 0;
  const int right = rp.fixed.shift > 0 ? 0 : -rp.fixed.shift;
  const int32_t shifted =
      static_cast<int32_t>(Clamp128(static_cast<i128>(a) << left, kInt32Min, kInt32Max));
  const int32_t high = Srdhm(shifted, m);
  if (p.rounding == Rounding::kHalfAway) return Rdbpot(high, right);
  return RoundingShiftRight(high, right, p.rounding);
}

// y = round(acc·M / 2^t) in one rounding, 128-bit exact (|acc·M| < 2^94), saturated to int32.
int64_t RequantFixedSingle(const Profile& p, const RequantParams& rp, int64_t acc) {
  const i128 prod = static_cast<i128>(acc) * rp.fixed.multiplier;
  const int t = rp.fixed_single_shift;
  i128 y;
  if (t <= 0) {
    // A left shift by 33 or more saturates any nonzero product; below that it fits 128 bits.
    y = t < -32 ? (prod > 0 ? i128{kInt64Max} : prod < 0 ? i128{kInt64Min} : 0) : prod << -t;
  } else {
    y = RoundShift128(prod, t > 126 ? 126 : t, p.rounding);
  }
  return Clamp128(y, kInt32Min, kInt32Max);
}

}  // namespace

int64_t Requantize(const Profile& p, const RequantParams& rp, int64_t acc) {
  switch (p.requant) {
    case Requant::kFloat32: {
      // float(acc) rounds to nearest even above 2^24; one IEEE multiply, nothing to contract.
      const float v = static_cast<float>(acc) * ToFloat(rp.multiplier);
      return RoundToInt(static_cast<double>(v), p.rounding);
    }
    case Requant::kFloat64: {
      const double v = static_cast<double>(acc) * rp.multiplier;
      return RoundToInt(v, p.rounding);
    }
    case Requant::kFixedDouble: return RequantFixedDouble(p, rp, acc);
    case Requant::kFixedSingle: return RequantFixedSingle(p, rp, acc);
  }
  return 0;
}

int64_t FinishOutput(int64_t v, int32_t zp_out, DType out_type, int64_t clamp_lo,
                     int64_t clamp_hi) {
  int64_t y = SaturatingAdd64(v, zp_out);
  const int64_t lo = DTypeMin(out_type), hi = DTypeMax(out_type);
  y = y < lo ? lo : y > hi ? hi : y;
  y = y < clamp_lo ? clamp_lo : y > clamp_hi ? clamp_hi : y;
  return y;
}

int64_t QuantizeValue(double x, float scale, int32_t zp, DType out_type, Rounding r) {
  const float q = ToFloat(x) / scale;  // ONNX Runtime (MLAS) divides in float32
  return FinishOutput(RoundToInt(static_cast<double>(q), r), zp, out_type, kInt64Min, kInt64Max);
}

}  // namespace qfarm
