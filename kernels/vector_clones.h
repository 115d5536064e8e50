// QFARM_VECTOR_CLONES: for plain integer loops in files built for the baseline ISA — one clone
// per vector width (AVX-512, AVX2, baseline), picked at load time; nothing elsewhere. Integer
// code only, so every clone computes the same bits.
#pragma once

#if defined(__x86_64__)
#define QFARM_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define QFARM_VECTOR_CLONES
#endif
