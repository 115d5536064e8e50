// Pieces of the AVX-512 fused GEMM tiles shared by the VNNI kernels (qgemm_avx512vnni.cc) and
// the AMX kernels (qgemm_amx.cc), which finish their sums and run their output stage in zmm
// registers: the VPDPBUSD k loop over rows given by stride or by pointer, and the output stage
// (PanelStage, InitSums, Epilogue, DispatchStage). Header-only templates in an unnamed
// namespace: each including file instantiates them under its own flags, which must include
// -mavx512f -mavx512bw -mavx512vnni (kernels/CMakeLists.txt).
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <type_traits>

#include "kernels/qgemm/qgemm.h"
#include "kernels/requant_lanes.h"

namespace qfarm::kernels {
namespace {

// kS8U8: A holds s8 rows and B u8 panels (VPDPBUSD's unsigned operand is then the panel);
// otherwise A holds u8 rows and B s8 panels. Either way every product is exact. With one or two
// rows a single chain per register would wait on VPDPBUSD's latency every k step, so those
// tiles keep kChains partial sums (k steps round-robin) and add them at the end — integer adds,
// so the total is the same in any order.
// One- and two-row tiles stream their panel once (GEMV): fetch it ahead, one prefetch per
// 128-byte k-quad row (the L2's adjacent-line prefetch brings its other half; a test loop of
// the 1×768→3072 GEMV's half, B in L2, 7.63 → 7.43 µs against one per 64-byte line).
// lo/hi come in holding the sums' starting values (integer adds: where a term is added cannot
// change the total) and leave holding the sums. kHalf: only the panel's first 16 columns.
constexpr int kPrefetchBytes = 2048;

// Where A's rows are: a + r·lda, or (indirect im2col) run pointers p[r·stride].
struct StridedRows {
  const uint8_t* a;
  int64_t lda;
  const uint8_t* operator()(int r) const { return a + r * lda; }
};
struct RowPointers {
  const uint8_t* const* p;
  int stride;
  const uint8_t* operator()(int r) const { return p[r * stride]; }
};

template <int MR, bool kS8U8 = false, bool kHalf = false, typename Rows = StridedRows>
inline __attribute__((always_inline)) void Accumulate(int64_t k4, Rows rows, const void* b, __m512i (&lo)[MR],
                                                      __m512i (&hi)[MR]) {
  constexpr int kChains = MR <= 2 ? 4 : 1;
  const uint8_t* bb = static_cast<const uint8_t*>(b);
  __m512i l[kChains][MR], h[kChains][MR];
#pragma GCC unroll 8
  for (int c = 0; c < kChains; ++c)
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      l[c][r] = c == 0 ? lo[r] : _mm512_setzero_si512();
      h[c][r] = c == 0 ? hi[r] : _mm512_setzero_si512();
    }
  auto step = [&](int c, int64_t q) __attribute__((always_inline)) {
    if (MR <= 2) _mm_prefetch(reinterpret_cast<const char*>(bb + q * 128 + kPrefetchBytes), _MM_HINT_T0);
    const __m512i w0 = _mm512_loadu_si512(bb + q * 128);
    const __m512i w1 = kHalf ? w0 : _mm512_loadu_si512(bb + q * 128 + 64);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      int32_t a4;
      __builtin_memcpy(&a4, rows(r) + 4 * q, 4);
      const __m512i x = _mm512_set1_epi32(a4);
      l[c][r] = kS8U8 ? _mm512_dpbusd_epi32(l[c][r], w0, x) : _mm512_dpbusd_epi32(l[c][r], x, w0);
      if (!kHalf) h[c][r] = kS8U8 ? _mm512_dpbusd_epi32(h[c][r], w1, x) : _mm512_dpbusd_epi32(h[c][r], x, w1);
    }
  };
  int64_t q = 0;
  for (; q + kChains <= k4; q += kChains) {
#pragma GCC unroll 4
    for (int c = 0; c < kChains; ++c) step(c, q + c);
  }
  for (; q < k4; ++q) step(0, q);
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    lo[r] = l[0][r];
    hi[r] = h[0][r];
#pragma GCC unroll 4
    for (int c = 1; c < kChains; ++c) {
      lo[r] = _mm512_add_epi32(lo[r], l[c][r]);
      hi[r] = _mm512_add_epi32(hi[r], h[c][r]);
    }
  }
}

// GCC 12 warns about the _mm512_undefined_* placeholders inside its own intrinsics (GCC bug
// 105593, a false positive); nothing of ours is uninitialized.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

inline __mmask16 LaneMask(int n) {
  return n >= 16 ? __mmask16{0xffff} : n <= 0 ? __mmask16{0} : static_cast<__mmask16>((1u << n) - 1);
}

// The output stage's per-panel values (qgemm.h FusedOutput), formed once per run of tiles:
// masks for the valid columns, the sums' per-column starting values (col_term, u8·s8 only),
// per-column multipliers (u8·s8) or col_factor (kRowFactor), and the pack bounds.
template <bool kSigned, bool kS8U8, bool kRowFactor, bool kHalf>
struct PanelStage {
  __mmask16 klo, khi;
  __mmask64 kout;
  __m512i start_lo, start_hi, cf_lo, cf_hi;
  __m512 mlo, mhi;
  PackBounds512 bounds;
  uint8_t* out;
  int64_t ldo;

  explicit PanelStage(const FusedOutput& o)
      : klo(LaneMask(o.cols)),
        khi(LaneMask(o.cols - 16)),
        kout(o.cols >= 32 ? __mmask64{0xffffffff} : (__mmask64{1} << o.cols) - 1),
        start_lo(kS8U8 ? _mm512_setzero_si512() : _mm512_maskz_loadu_epi32(klo, o.col_term)),
        start_hi(kS8U8 || kHalf ? _mm512_setzero_si512() : _mm512_maskz_loadu_epi32(khi, o.col_term + 16)),
        cf_lo(kRowFactor ? _mm512_maskz_loadu_epi32(klo, o.col_factor) : _mm512_setzero_si512()),
        cf_hi(kRowFactor && !kHalf ? _mm512_maskz_loadu_epi32(khi, o.col_factor + 16) : _mm512_setzero_si512()),
        mlo(kS8U8 ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(klo, o.mult)),
        mhi(kS8U8 || kHalf ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(khi, o.mult + 16)),
        bounds(MakePackBounds512(kSigned ? 127 : 255, o.zy)),
        out(static_cast<uint8_t*>(o.out)),
        ldo(o.ldo) {}
};

// The fused kernels' sums start from the correction terms that do not depend on the k loop —
// row_const (when set), and col_term (u8·s8) in start — and stay in registers through the k loop
// into the output stage. This file is built with -fno-tree-pre (kernels/CMakeLists.txt): with
// the k loop and the output stage in one function, GCC 12's partial-redundancy elimination
// otherwise copies every accumulator once per k step (a third slower).
struct SumStart {
  __m512i lo, hi;
  const int32_t* row_const;  // this tile's, or nullptr
};

template <int MR>
inline __attribute__((always_inline)) void InitSums(const SumStart& s, __m512i (&lo)[MR], __m512i (&hi)[MR]) {
  if (!s.row_const) {  // all zero (matmuls without weight zero points)
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      lo[r] = s.lo;
      hi[r] = s.hi;
    }
    return;
  }
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
    const __m512i rc = _mm512_set1_epi32(s.row_const[r]);
    lo[r] = _mm512_add_epi32(s.lo, rc);
    hi[r] = _mm512_add_epi32(s.hi, rc);
  }
}

// Where rows r0..r0 + MR − 1 of the call go: out + r·ldo, or where kWide and the rows are wide
// (FusedOutput::wide_period) the output row of each position, nullptr for a padding column's.
template <int MR, bool kWide>
inline __attribute__((always_inline)) void RowOutputs(uint8_t* out, int64_t ldo, const FusedOutput& o, int r0,
                                                      uint8_t* (&rows)[MR]) {
  if (!kWide || !o.wide_period) {
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) rows[r] = out + (r0 + r) * ldo;
    return;
  }
  const int64_t p = o.wide_row0 + r0;
  int64_t oy = p / o.wide_period, ox = p - oy * o.wide_period;
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
    rows[r] = ox < o.wide_valid ? out + (oy * o.wide_valid + ox) * ldo : nullptr;
    if (++ox == o.wide_period) {
      ox = 0;
      ++oy;
    }
  }
}

// The output stage of the tile whose first row is row r0 of the block, from its sums: row_factor·col_factor
// where kRowFactor (integer adds wrapping as in kernels/gemm.cc Correct), then Requantizer's
// float32/half-even operations, packed to bytes (kernels/requant_lanes.h RequantizeStore512).
// kS8U8 (convolutions): per-row multipliers; otherwise (matmuls) per-column ones. kClamp: false
// when every multiplier is below 1 (no float clamp needed, kernels/requant_lanes.h ScaleClamp512).
// kWide: the rows may be wide (FusedOutput::wide_period; only the segments forms take such rows,
// so only their instances pay for the per-row check).
template <int MR, bool kSigned, bool kS8U8, bool kRowFactor, bool kHalf, bool kClamp, bool kWide = false>
inline __attribute__((always_inline)) void Epilogue(const __m512i (&sum_lo)[MR], const __m512i (&sum_hi)[MR],
                                                    const PanelStage<kSigned, kS8U8, kRowFactor, kHalf>& ps,
                                                    const FusedOutput& o, int r0) {
  uint8_t* out[MR];
  RowOutputs<MR, kWide>(ps.out, ps.ldo, o, r0, out);
  int r = 0;
  // Matmul rows of at most 16 columns in pairs: one pack per two rows.
  if (kHalf && !kS8U8 && !kRowFactor && !(kWide && o.wide_period)) {
#pragma GCC unroll 8
    for (; r + 2 <= MR; r += 2) {
      RequantizeStoreRows512<kSigned, kClamp>(sum_lo[r], sum_lo[r + 1], ps.mlo, ps.bounds, out[r], out[r + 1],
                                              ps.klo);
    }
  }
#pragma GCC unroll 16
  for (; r < MR; ++r) {
    if (kWide && !out[r]) continue;  // a padding column's position
    const __m512 mlo = kS8U8 ? _mm512_set1_ps(o.mult[r0 + r]) : ps.mlo;
    const __m512 mhi = kS8U8 ? mlo : ps.mhi;
    __m512i lo = sum_lo[r], hi = kHalf ? lo : sum_hi[r];
    if (kRowFactor) {
      const __m512i f = _mm512_set1_epi32(o.row_factor[r0 + r]);
      lo = _mm512_add_epi32(lo, _mm512_mullo_epi32(f, ps.cf_lo));
      if (!kHalf) hi = _mm512_add_epi32(hi, _mm512_mullo_epi32(f, ps.cf_hi));
    }
    RequantizeStore512<kSigned, kHalf, kClamp>(lo, hi, mlo, mhi, ps.bounds, out[r], ps.kout);
  }
}

// f(kSigned, kHalf, kClamp), each a std::bool_constant, for the output stage o describes: signed
// output, at most 16 valid columns, and the float clamp unless kMayDropClamp and every
// multiplier is below 1 (the s8·u8 form's per-row multipliers are not checked, so it keeps it).
template <bool kMayDropClamp, typename F>
inline void DispatchStage(const FusedOutput& o, F f) {
  auto clamp = [&](auto is_signed, auto half) {
    if constexpr (kMayDropClamp) {
      if (o.mult_below_one) return f(is_signed, half, std::false_type{});
    }
    f(is_signed, half, std::true_type{});
  };
  auto half = [&](auto is_signed) { o.cols <= 16 ? clamp(is_signed, std::true_type{}) : clamp(is_signed, std::false_type{}); };
  o.out_signed ? half(std::true_type{}) : half(std::false_type{});
}
#pragma GCC diagnostic pop

}  // namespace
}  // namespace qfarm::kernels
