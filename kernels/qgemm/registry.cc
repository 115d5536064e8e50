#include "kernels/qgemm/qgemm.h"

#if defined(__aarch64__)
#include <sys/auxv.h>
#endif

namespace qfarm::kernels {

std::string_view IsaName(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return "scalar";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512Vnni: return "avx512vnni";
    case Isa::kAvxVnni: return "avxvnni";
    case Isa::kNeon: return "neon";
    case Isa::kNeonDot: return "neondot";
    case Isa::kAmx: return "amx";
  }
  return "?";
}

#if defined(__aarch64__)
constexpr unsigned long kHwcapAsimdDp = 1ul << 20;  // HWCAP_ASIMDDP of <asm/hwcap.h>
#endif

bool CpuHas(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return true;
#if defined(__x86_64__)
    case Isa::kAvx2: return __builtin_cpu_supports("avx2");
    case Isa::kAvx512Vnni: return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vnni");
    case Isa::kAvxVnni: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("avxvnni");
    case Isa::kAmx: return __builtin_cpu_supports("avx512f") && AmxUsable();
#endif
#if defined(__aarch64__)
    case Isa::kNeon: return true;
    case Isa::kNeonDot: return (getauxval(AT_HWCAP) & kHwcapAsimdDp) != 0;  // SDOT/UDOT (ARMv8.2 dotprod)
#endif
    default: return false;
  }
}

namespace {
// A kernel with its fused forms (kernels/qgemm/qgemm.h), where its ISA file has them.
constexpr QGemmKernel WithFusedForms(QGemmKernel k) {
#if defined(__x86_64__)
  if (k.isa == Isa::kAvx512Vnni) {
    k.fused = qgemm_u8s8_8x32_requant__avx512vnni;
    k.fused_s8u8 = qgemm_s8u8_8x32_requant__avx512vnni;
    k.fused_indirect = qgemm_u8s8_8x32_requant_indirect__avx512vnni;
  }
  if (k.isa == Isa::kAmx) {
    k.fused = qgemm_u8s8_32x32_requant__amx;
    k.fused_panels = qgemm_u8s8_32x32_requant_panels__amx;
    k.fused_s8u8 = qgemm_s8u8_32x32_requant__amx;
    k.fused_indirect = qgemm_u8s8_32x32_requant_indirect__amx;
    k.fused_segments = qgemm_u8s8_32x32_requant_segments__amx;
    k.fused_segments_panels = qgemm_u8s8_32x32_requant_segments_panels__amx;
    k.fused_segment_pieces = qgemm_u8s8_32x32_requant_segment_pieces__amx;
    k.row_block = 32;
    k.release = ReleaseTiles__amx;
  }
#endif
  return k;
}

const QGemmKernel kKernels[] = {
#define QFARM_QGEMM_KERNEL(name, isa, nr, pair_sat16, profile) \
  WithFusedForms(QGemmKernel{#name, isa, nr, pair_sat16, profile, name}),
#include "kernels/qgemm/registry.inc"
#undef QFARM_QGEMM_KERNEL
};
}  // namespace

const QGemmKernel* AllQGemmKernels(int* count) {
  *count = static_cast<int>(sizeof(kKernels) / sizeof(kKernels[0]));
  return kKernels;
}

const QGemmKernel* FindQGemmKernel(Isa isa) {
  for (const QGemmKernel& k : kKernels) {
    if (k.isa == isa) return &k;
  }
  return nullptr;
}

}  // namespace qfarm::kernels
