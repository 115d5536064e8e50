// Integer GEMM microkernels: C[mr × NR] (int32, mr ≤ kMaxMr = 8) = A[mr × K] (uint8) · B (int8, packed),
// named qgemm_u8s8_<MR>x<NR>__<isa>; one ISA
// per file, all listed in registry.inc.
//
// Packing (shared by every kernel of one NR): K is padded to a multiple of 4 with zeros in B;
// B is packed as panels of NR columns, each panel [K/4][NR][4] int8 so one 32-bit lane holds
// four consecutive k of one column (what VPDPBUSD, VPMADDUBSW+VPMADDWD and SDOT consume). A rows
// are uint8 (int8 activations are offset by +128 and compensated by the driver), K padded with 0.
//
// Arithmetic: every kernel sums into int32 with wrap-around. Kernels that pair k (2j, 2j+1)
// and saturate to int16 (VPMADDUBSW) set pair_sat16 — exactly the `pair_sat16=on` profile axis.
#pragma once

#include <cstdint>
#include <string_view>

namespace qfarm::kernels {

enum class Isa { kScalar, kAvx2, kAvx512Vnni, kAvxVnni, kNeon, kNeonDot, kAmx };
std::string_view IsaName(Isa isa);
bool CpuHas(Isa isa);  // runtime CPU check (false for ISAs of another architecture)
// Paths whose CPUs have AVX-512 VNNI (the AMX one's too): they share its depthwise and other loops.
constexpr bool HasAvx512Vnni(Isa isa) { return isa == Isa::kAvx512Vnni || isa == Isa::kAmx; }

constexpr int kMaxMr = 8;
// Short reductions, k4 ≤ kShortK4 (k ≤ 32: pointwise layers with few input channels): the
// AVX-512 fused kernel runs them in taller tiles of 12 or 16 rows, and the GEMM driver hands
// such a kernel kShortKRows rows per call, a multiple of both.
constexpr int kShortK4 = 8;
constexpr int kShortKRows = 192;

// c[r * ldc + j] = Σ_{q < k4} Σ_{i<4} a[r * lda + 4q + i] · b[(q * nr + j) * 4 + i], r < mr, j < nr.
using QGemmUkernel = void (*)(int mr, int64_t k4, const uint8_t* a, int64_t lda, const int8_t* b,
                              int32_t* c, int64_t ldc);

// An output stage fused into a microkernel, applied to each tile right after its k loop:
//   u8·s8 form (matmuls):      v[r][j] = c[r][j] + row_const[r] + col_term[j],   m = mult[j]
//   s8·u8 form (convolutions): v[r][j] = c[r][j] + row_const[r] (+ row_factor[r]·col_factor[j]
//                              when row_factor is set),                           m = mult[r]
//   out[r·ldo + j] = clamp(round_half_even(float(v) · m), qlo − zy, qhi − zy) + zy   (8-bit)
// — integer adds modulo 2^32 as the driver's correction (kernels/gemm.cc), then Requantizer's
// float32/half-even operations (kernels/requant.h).
struct FusedOutput {
  const int32_t* row_const;   // [mr], or nullptr when all zero
  const int32_t* row_factor;  // [mr], or nullptr
  const int32_t* col_term;    // [cols], or nullptr
  const int32_t* col_factor;  // [cols] (read only with row_factor)
  const float* mult;
  int32_t zy;
  bool out_signed;
  void* out;
  int64_t ldo;
  int cols;  // valid columns, ≤ nr (≤ panels·nr in the panels form)
  bool mult_below_one = false;  // every |mult| < 1: |float(v)·m| < 2^31 (kernels/requant_lanes.h)
  // Wide rows (a stride-1 convolution over a padded plane, kernels/conv_nhwc.cc): with
  // wide_period > 0, row r of the call is output position p = wide_row0 + r, whose output row is
  // out + ((p / wide_period)·wide_valid + p % wide_period)·ldo when p % wide_period < wide_valid;
  // the other positions (the padding columns) are computed and not stored.
  int64_t wide_row0 = 0;
  int64_t wide_period = 0;
  int64_t wide_valid = 0;
};
// Fused kernels take any mr (rows beyond kMaxMr run as further tiles against the same panel),
// so a block of rows costs one call.
using QGemmFusedUkernel = void (*)(int mr, int64_t k4, const uint8_t* a, int64_t lda, const int8_t* b,
                                   const FusedOutput& o);
// The u8·s8 fused form over `panels` consecutive panels (b the first, each k4·NR·4 bytes): o
// describes all their columns (cols ≤ panels·NR; col_term, mult and out from the first panel's
// first column). One call where the kernel gains by walking rows outermost (AMX).
using QGemmFusedPanelsUkernel = void (*)(int mr, int64_t k4, const uint8_t* a, int64_t lda, const int8_t* b,
                                         int panels, const FusedOutput& o);
// The same with the operands' types swapped: A s8 rows, B u8 panels (same packing). Serves
// convolutions as W·im2col(X) with raw weights and raw uint8 activations: no offsets, so no
// per-position sums unless a weight zero point is nonzero (kernels/conv_nchw.h).
using QGemmFusedS8U8Ukernel = void (*)(int mr, int64_t k4, const int8_t* a, int64_t lda, const uint8_t* b,
                                       const FusedOutput& o);

// The u8·s8 form with A's rows given indirectly, so channels-last convolutions read their input
// in place (kernels/conv_nhwc.h): row r's k values are `segments` runs of seg_k4·4 bytes, run s
// at rows[r·segments + s]; B's k order is the runs' concatenation. Any mr, as the fused form.
using QGemmFusedIndirectUkernel = void (*)(int mr, int segments, int64_t seg_k4, const uint8_t* const* rows,
                                           const int8_t* b, const FusedOutput& o);

// The u8·s8 form over equally spaced rows read in place — a convolution's image or a padded plane
// of it (kernels/conv_nhwc.cc ConvFlat, ConvPaddedPlane): row r's k
// values are `segments` runs of seg_k4·4 bytes, run s at base[s] + r·lda (segments ≤
// kMaxSegments); B's k order is the runs' concatenation. Any mr, as the fused form.
constexpr int kMaxSegments = 16;
using QGemmFusedSegmentsUkernel = void (*)(int mr, int segments, int64_t seg_k4, const uint8_t* const* base,
                                           int64_t lda, const int8_t* b, const FusedOutput& o);

// The segments form over `panels` consecutive panels, o as in QGemmFusedPanelsUkernel.
using QGemmFusedSegmentsPanelsUkernel = void (*)(int mr, int segments, int64_t seg_k4, const uint8_t* const* base,
                                                 int64_t lda, const int8_t* b, int panels, const FusedOutput& o);

// Several runs of equally spaced rows through the segments panels form in one call (a
// convolution's interior and its edges, kernels/conv_nhwc.cc ConvFlat): piece i's row r has run
// s at base[s] + r·lda and its output row at out + r·o.ldo (o.out unused). Where the kernel
// gains by it (AMX), one pipeline runs through every piece's tile blocks: the call's fixed costs
// (the first block's loads, the last block's output stage) are paid once, not per piece.
struct SegmentPiece {
  int rows = 0;
  const uint8_t* base[kMaxSegments] = {};
  int64_t lda = 0;
  uint8_t* out = nullptr;
};
using QGemmFusedSegmentPiecesUkernel = void (*)(const SegmentPiece* pieces, int count, int segments, int64_t seg_k4,
                                                const int8_t* b, int panels, const FusedOutput& o);

struct QGemmKernel {
  std::string_view name;  // e.g. "qgemm_u8s8_8x32__avx512vnni"
  Isa isa;
  int nr;
  bool pair_sat16;
  std::string_view declared_profile;  // what its host device claims by default
  QGemmUkernel ukernel;
  QGemmFusedUkernel fused = nullptr;  // the same sums with the output stage fused, if the ISA has one
  QGemmFusedPanelsUkernel fused_panels = nullptr;  // set where it beats `fused` panel by panel
  QGemmFusedS8U8Ukernel fused_s8u8 = nullptr;
  QGemmFusedIndirectUkernel fused_indirect = nullptr;
  // Set where reading a padded copy of a convolution's input beats reading it in place (AMX:
  // its 16-row tiles need equally spaced rows).
  QGemmFusedSegmentsUkernel fused_segments = nullptr;
  // Set where it beats `fused_segments` panel by panel.
  QGemmFusedSegmentsPanelsUkernel fused_segments_panels = nullptr;
  QGemmFusedSegmentPiecesUkernel fused_segment_pieces = nullptr;  // set with fused_segments_panels
  // Rows its fused forms take in blocks of (the rest in smaller tiles): the GEMM driver hands
  // them pieces of a multiple of it where it can. A divisor of kShortKRows and of 256.
  int row_block = 1;
  // Where set, the kernel leaves per-thread state between calls (AMX: configured tiles), and a
  // thread calls this when its run of calls for one product ends.
  void (*release)() = nullptr;
};

// Every kernel of this build, in registry.inc order (best last within an architecture).
const QGemmKernel* AllQGemmKernels(int* count);
const QGemmKernel* FindQGemmKernel(Isa isa);

// Kernel entry points (one per ISA file).
#define QFARM_QGEMM_KERNEL(name, isa, nr, pair_sat16, profile) \
  void name(int mr, int64_t k4, const uint8_t* a, int64_t lda, const int8_t* b, int32_t* c, int64_t ldc);
#include "kernels/qgemm/registry.inc"
#undef QFARM_QGEMM_KERNEL

#if defined(__x86_64__)
void qgemm_u8s8_8x32_requant__avx512vnni(int mr, int64_t k4, const uint8_t* a, int64_t lda, const int8_t* b,
                                         const FusedOutput& o);
void qgemm_s8u8_8x32_requant__avx512vnni(int mr, int64_t k4, const int8_t* a, int64_t lda, const uint8_t* b,
                                         const FusedOutput& o);
void qgemm_u8s8_8x32_requant_indirect__avx512vnni(int mr, int segments, int64_t seg_k4, const uint8_t* const* rows,
                                                  const int8_t* b, const FusedOutput& o);
void qgemm_u8s8_8x32_requant_segments__avx512vnni(int mr, int segments, int64_t seg_k4, const uint8_t* const* base,
                                                  int64_t lda, const int8_t* b, const FusedOutput& o);
// AMX (qgemm_amx.cc): the tiles' instructions, and the process's permission to use them
// (asked once, on the first call).
bool AmxUsable();
void ReleaseTiles__amx();  // TILERELEASE: the tiles back to their initial state
void qgemm_u8s8_32x32_requant__amx(int mr, int64_t k4, const uint8_t* a, int64_t lda, const int8_t* b,
                                   const FusedOutput& o);
void qgemm_u8s8_32x32_requant_panels__amx(int mr, int64_t k4, const uint8_t* a, int64_t lda, const int8_t* b,
                                          int panels, const FusedOutput& o);
void qgemm_s8u8_32x32_requant__amx(int mr, int64_t k4, const int8_t* a, int64_t lda, const uint8_t* b,
                                   const FusedOutput& o);
void qgemm_u8s8_32x32_requant_indirect__amx(int mr, int segments, int64_t seg_k4, const uint8_t* const* rows,
                                            const int8_t* b, const FusedOutput& o);
void qgemm_u8s8_32x32_requant_segments_panels__amx(int mr, int segments, int64_t seg_k4, const uint8_t* const* base,
                                                   int64_t lda, const int8_t* b, int panels, const FusedOutput& o);
void qgemm_u8s8_32x32_requant_segment_pieces__amx(const SegmentPiece* pieces, int count, int segments, int64_t seg_k4,
                                                  const int8_t* b, int panels, const FusedOutput& o);
void qgemm_u8s8_32x32_requant_segments__amx(int mr, int segments, int64_t seg_k4, const uint8_t* const* base,
                                            int64_t lda, const int8_t* b, const FusedOutput& o);
#endif

}  // namespace qfarm::kernels
