// The integer arithmetic primitives of the emulator, one function per rule of
// shared/ARITHMETIC.md. Every op in reference/ and every kernel's tester builds on these, so a
// rule is written exactly once. All functions are pure, total and free of undefined behaviour:
// signed overflow is emulated explicitly, floats are never contracted into FMA.
#pragma once

#include <cstdint>
#include <span>

#include "model/tensor.h"
#include "reference/profile.h"

namespace qfarm {

// --- Rounding -----------------------------------------------------------------------------------
// Rounds a finite value to an integer by rule r; the result saturates to [INT64_MIN, INT64_MAX]
// and NaN gives 0 (callers validate scales so NaN cannot reach here from a valid model).
int64_t RoundToInt(double v, Rounding r);
// x / 2^e (e in [0, 62]) rounded by rule r, exactly, for any int64 x.
int64_t RoundingShiftRight(int64_t x, int e, Rounding r);
// num / den rounded by rule r, exactly (a negative den divides −num by −den; den == 0 gives 0).
int64_t RoundingDivide(int64_t num, int64_t den, Rounding r);

// --- Accumulation -------------------------------------------------------------------------------
// Two's-complement wrap of v to `bits` bits (sign-extended back to int64).
int64_t WrapToBits(int64_t v, int bits);
int64_t SaturateToBits(int64_t v, int bits);
// acc + term under the profile's acc_bits and acc_overflow (acc is already in range): wrap is
// two's complement modulo 2^acc_bits, saturate clamps at every step.
int64_t AccumulateAdd(const Profile& p, int64_t acc, int64_t term);

// One output of a dot product as ARITHMETIC.md §1 specifies: sums k ascending, honours acc_bits,
// acc_overflow, pair_sat16 (x_type says whether activations are offset from int8 to uint8),
// zp_fold and bias (bias == nullptr: no bias). x and w have the same length K; padding taps
// are passed as zx (equivalent to skipping them under subtract_first). Returns the final
// accumulator value, within acc_bits. Every addition, the start value under bias=before included,
// is one AccumulateAdd; the exact order of the zero-point corrections is written in arith.cc.
int64_t DotAccumulate(const Profile& p, std::span<const int32_t> x, std::span<const int32_t> w,
                      int32_t zx, int32_t zw, DType x_type, const int32_t* bias);

// --- Requantization -----------------------------------------------------------------------------
// Fixed-point multiplier as TFLite's QuantizeMultiplier (mult_bits = 31) or its reduced-precision
// variants (24: XNNPACK rndnu float32 significand with hidden bit; 15: round_half_away(q·2^15),
// the int16 multiplier of DSPs). m ≈ M · 2^(shift − mult_bits), M in [2^(mult_bits−1),
// 2^mult_bits) (ARITHMETIC.md §2); shift < −31 flushes to (0, 0), as does m ≤ 0, NaN or inf.
struct FixedMultiplier {
  int64_t multiplier = 0;  // M
  int shift = 0;           // left shift if > 0, right shift if < 0 (TFLite convention)
};
FixedMultiplier QuantizeMultiplier(double m, int mult_bits);

// gemmlowp's SaturatingRoundingDoublingHighMul and RoundingDivideByPOT, bit for bit.
int32_t Srdhm(int32_t a, int32_t b);
int32_t Rdbpot(int32_t x, int exponent);

// Everything needed to requantize one output channel, derived once from the float32 scales.
struct RequantParams {
  double multiplier = 0;  // s_x·s_w/s_y formed in the profile's multiplier_from precision
  FixedMultiplier fixed;  // for fixed_double / fixed_single
  int32_t fixed_single_shift = 0;  // t of ARITHMETIC.md §2 fixed_single
};
RequantParams MakeRequantParams(const Profile& p, float s_x, float s_w, float s_y);
// Same, from an already formed real multiplier (ops whose multiplier is not s_x·s_w/s_y).
RequantParams MakeRequantParamsFromMultiplier(const Profile& p, double m);

// acc × multiplier rounded to an integer by the profile's requant scheme and rounding, before
// the output zero point is added. float32/float64: round(float(acc) · float(m)), one multiply.
// fixed_double: acc saturates to int32 first (acc_bits > 32), acc·2^shift saturates to int32,
// SRDHM, then RDBPOT (half_away) or the profile's rounding of the right shift. fixed_single:
// round(acc·M / 2^t) exactly, t = mult_bits − shift. Fixed-point results saturate to int32.
int64_t Requantize(const Profile& p, const RequantParams& rp, int64_t acc);

// Adds the output zero point, saturates to out_type, then applies the fused activation clamp
// [clamp_lo, clamp_hi] (pass the type's range for no clamp).
int64_t FinishOutput(int64_t v, int32_t zp_out, DType out_type, int64_t clamp_lo, int64_t clamp_hi);

// ONNX QuantizeLinear of one value: saturate(round(float32(x) / scale) + zp). x is the exact
// input value (float, float16 and bfloat16 inputs convert to float32 exactly); the division is one
// IEEE float32 division (not a multiply by 1/scale), as ONNX Runtime (MLAS) and the ONNX numpy
// reference (float32 array / float32 scale) both compute it.
// The spec's rounding is half_even; r lets a profile's device rule be emulated.
int64_t QuantizeValue(double x, float scale, int32_t zp, DType out_type, Rounding r);

}  // namespace qfarm
