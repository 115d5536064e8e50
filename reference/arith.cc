// The emulator's arithmetic rules (shared/ARITHMETIC.md §1–§2). Each function is a literal
// transcription of one rule; exact integer math in int64/__int128, floats without contraction.
#include "reference/arith.h"

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

// Rounds floor value `fl` plus fraction `diff` in [0, 1), with `negative` the sign of the input.
int64_t RoundFraction(double fl, double diff, bool negative, Rounding r) {
  bool up = false;
  switch (r) {
    case Rounding::kFloor: up = false; break;
    case Rounding::kTrunc: up = negative && diff > 0; break;
    case Rounding::kHalfUp: up = diff >= 0.5; break;
    case Rounding::kHalfDown: up = diff > 0.5; break;
    case Rounding::kHalfAway: up = diff > 0.5 || (diff == 0.5 && !negative); break;
    case Rounding::kHalfEven:
      up = diff > 0.5 || (diff == 0.5 && std::fmod(fl, 2.0) != 0.0);
      break;
  }
  return static_cast<int64_t>(fl) + (up ? 1 : 0);
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
  if (fl < -9223372036854775807.0) return kInt64Min;  // v in (−2^63−1, −2^63): rounds to −2^63
  // v − fl is exact: both lie in the same binade or fl is a nearby integer (Sterbenz).
  return RoundFraction(fl, v - fl, v < 0, r);
}

int64_t RoundingShiftRight(int64_t x, int e, Rounding r) {
  if (e <= 0) return x;
  if (e > 126) e = 126;
  return static_cast<int64_t>(RoundShift128(x, e, r));
}

int64_t RoundingDivide(int64_t num, int64_t den, Rounding r) {
  // Floor division in 128 bits, then the increment decided on the remainder (0 ≤ rem < den).
  const i128 n = num, d = den;
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

int64_t AccumulateAdd(const Profile& p, int64_t acc, int64_t term) {
  const i128 sum = static_cast<i128>(acc) + term;
  if (p.acc_overflow == AccOverflow::kSaturate) {
    const int bits = p.acc_bits >= 64 ? 64 : p.acc_bits;
    const int64_t hi = bits == 64 ? kInt64Max : (int64_t{1} << (bits - 1)) - 1;
    return Clamp128(sum, -hi - 1, hi);
  }
  const int64_t wrapped64 = static_cast<int64_t>(static_cast<uint64_t>(sum));
  return WrapToBits(wrapped64, p.acc_bits);
}

namespace {

int64_t Saturate16(int64_t v) { return v < -32768 ? -32768 : v > 32767 ? 32767 : v; }

// Σ over pairs (2j, 2j+1) of sat16(a[2j]·b[2j] + a[2j+1]·b[2j+1]), a trailing element paired with 0.
int64_t PairSat16Sum(const Profile& p, int64_t acc, std::span<const int32_t> x,
                     std::span<const int32_t> w, int32_t x_offset, int32_t zx, int32_t zw,
                     bool subtract) {
  const size_t k = x.size();
  for (size_t j = 0; j < k; j += 2) {
    int64_t pair = 0;
    for (size_t t = j; t < j + 2 && t < k; ++t) {
      const int64_t xv = subtract ? int64_t{x[t]} - zx : int64_t{x[t]} + x_offset;
      const int64_t wv = subtract ? int64_t{w[t]} - zw : int64_t{w[t]};
      pair += xv * wv;
    }
    acc = AccumulateAdd(p, acc, Saturate16(pair));
  }
  return acc;
}

}  // namespace

// Order of operations (it matters only when the accumulator saturates):
//   acc = bias (bias=before) or 0
//   subtract_first: acc += (x_k − zx)(w_k − zw), k ascending (pair_sat16: pairs of these terms,
//                   each pair saturated to int16 — a kernel that subtracts zero points first).
//   fold_after:     acc += x_k·w_k, k ascending (pair_sat16: int8 x offset by +128 to uint8, pairs
//                   saturated to int16, then acc += −128·Σw), then acc += −zx·Σw, acc += −zw·Σx,
//                   acc += K·zx·zw (each correction formed exactly in int64 and added once).
//   acc += bias (bias=after)
int64_t DotAccumulate(const Profile& p, std::span<const int32_t> x, std::span<const int32_t> w,
                      int32_t zx, int32_t zw, DType x_type, const int32_t* bias) {
  int64_t acc = 0;
  if (bias && p.bias == BiasMode::kBefore) acc = AccumulateAdd(p, 0, *bias);
  const size_t k = x.size();
  if (p.zp_fold == ZpFold::kSubtractFirst) {
    if (p.pair_sat16) {
      acc = PairSat16Sum(p, acc, x, w, 0, zx, zw, /*subtract=*/true);
    } else {
      for (size_t i = 0; i < k; ++i) {
        acc = AccumulateAdd(p, acc, (int64_t{x[i]} - zx) * (int64_t{w[i]} - zw));
      }
    }
  } else {
    int64_t sum_x = 0, sum_w = 0;
    for (size_t i = 0; i < k; ++i) {
      sum_x += x[i];
      sum_w += w[i];
    }
    if (p.pair_sat16) {
      const int32_t offset = x_type == DType::kInt8 ? 128 : 0;
      acc = PairSat16Sum(p, acc, x, w, offset, 0, 0, /*subtract=*/false);
      if (offset) acc = AccumulateAdd(p, acc, -int64_t{offset} * sum_w);
    } else {
      for (size_t i = 0; i < k; ++i) acc = AccumulateAdd(p, acc, int64_t{x[i]} * w[i]);
    }
    acc = AccumulateAdd(p, acc, -int64_t{zx} * sum_w);
    acc = AccumulateAdd(p, acc, -int64_t{zw} * sum_x);
    acc = AccumulateAdd(p, acc, static_cast<int64_t>(k) * zx * zw);
  }
  if (bias && p.bias == BiasMode::kAfter) acc = AccumulateAdd(p, acc, *bias);
  return acc;
}

FixedMultiplier QuantizeMultiplier(double m, int mult_bits) {
  FixedMultiplier f;
  if (!(m > 0) || !std::isfinite(m)) return f;
  if (mult_bits == 24) {
    // XNNPACK rndnu: the float32 significand with its hidden bit; m = M · 2^(E − 150).
    const float mf = static_cast<float>(m);
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
// acc beyond int32 saturates first; the left shift saturates (TFLite's int32 multiply would be UB).
int64_t RequantFixedDouble(const Profile& p, const RequantParams& rp, int64_t acc) {
  const int32_t a = static_cast<int32_t>(Clamp128(acc, kInt32Min, kInt32Max));
  // Reduced-precision multipliers are exact in Q31 once shifted up.
  const int64_t m31 = rp.fixed.multiplier << (31 - p.mult_bits);
  const int32_t m = static_cast<int32_t>(Clamp128(m31, kInt32Min, kInt32Max));
  const int left = rp.fixed.shift > 0 ? rp.fixed.shift : 0;
  const int right = rp.fixed.shift > 0 ? 0 : -rp.fixed.shift;
  const int32_t shifted =
      static_cast<int32_t>(Clamp128(static_cast<i128>(a) << left, kInt32Min, kInt32Max));
  const int32_t high = Srdhm(shifted, m);
  if (p.rounding == Rounding::kHalfAway) return Rdbpot(high, right);
  return RoundingShiftRight(high, right, p.rounding);
}

// y = round(acc·M / 2^t) in one rounding, 128-bit exact.
int64_t RequantFixedSingle(const Profile& p, const RequantParams& rp, int64_t acc) {
  const i128 prod = static_cast<i128>(acc) * rp.fixed.multiplier;
  const int t = rp.fixed_single_shift;
  i128 y;
  if (t <= 0) {
    y = t < -60 ? (prod > 0 ? i128{kInt64Max} : prod < 0 ? i128{kInt64Min} : 0) : prod << -t;
  } else {
    y = RoundShift128(prod, t > 126 ? 126 : t, p.rounding);
  }
  return Clamp128(y, kInt32Min, kInt32Max);
}

}  // namespace

int64_t Requantize(const Profile& p, const RequantParams& rp, int64_t acc) {
  switch (p.requant) {
    case Requant::kFloat32: {
      const float v = static_cast<float>(acc) * static_cast<float>(rp.multiplier);
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
  const float q = static_cast<float>(x) / scale;  // ONNX Runtime divides in float32
  return FinishOutput(RoundToInt(static_cast<double>(q), r), zp, out_type, kInt64Min, kInt64Max);
}

}  // namespace qfarm
