// MatMul tester (STYLE.md item 7): QLinearMatMul and MatMulInteger through every host path
// (packed GEMM, with the requantization fused into the microkernel where the path has one)
// against reference/'s RunReferenceNode on one-node graphs, zero tolerance, for every named
// profile the path claims. Sweeps m around the tile height, n around the panel widths, k not a
// multiple of 4, batched A, int8/uint8 activations, per-tensor and per-column weight zero points
// and scales, per-row A zero points (MatMulInteger), values at the type extremes; 1 and 3
// threads. Every parameter and the seed are printed on failure.
#include <gtest/gtest.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <random>
#include <set>
#include <sstream>

#include "kernels/devices.h"
#include "kernels/executor.h"
#include "kernels/qgemm/qgemm.h"
#include "reference/ops.h"
#include "tests/support/kernel_paths.h"

namespace qfarm::kernels {
namespace {

struct MatMulCase {
  int64_t batch, m, n, k;
  bool a_signed, per_column, extremes, integer;
  bool zero_zw = false;  // symmetric weights: uint8 rows with k % 4 == 0 are then read in place
  bool tiny_sy = false;  // output scale 1e-9: requantized values far past int16 and int32, both signs
  int y_signed = -1;     // int8 output (1), uint8 (0), or A's type (-1)
  std::string Describe() const {
    std::ostringstream s;
    s << (integer ? "MatMulInteger" : "QLinearMatMul") << " batch=" << batch << " m=" << m << " n=" << n
      << " k=" << k << " a=" << (a_signed ? "s8" : "u8") << " per_column=" << per_column << " extremes=" << extremes
      << " zero_zw=" << zero_zw << " tiny_sy=" << tiny_sy << " y=" << (YSigned() ? "s8" : "u8");
    return s.str();
  }
  bool YSigned() const { return y_signed < 0 ? a_signed : y_signed == 1; }
};

class MatMulTester {
 public:
  explicit MatMulTester(uint32_t seed) : rng_(seed), seed_(seed) {}

  int Test(const MatMulCase& t) {
    const DType at = t.a_signed ? DType::kInt8 : DType::kUInt8;
    const int64_t lo = DTypeMin(at), hi = DTypeMax(at);
    auto pick = [&](int64_t a, int64_t b) {
      return t.extremes ? (rng_() % 2 ? a : b) : a + static_cast<int64_t>(rng_() % static_cast<uint32_t>(b - a + 1));
    };
    Tensor a(at, t.batch > 1 ? std::vector<int64_t>{t.batch, t.m, t.k} : std::vector<int64_t>{t.m, t.k});
    Tensor w(DType::kInt8, {t.k, t.n});
    for (int64_t i = 0; i < a.numel(); ++i) a.SetInt(i, pick(lo, hi));
    for (int64_t i = 0; i < w.numel(); ++i) w.SetInt(i, pick(-128, 127));
    const int64_t nz = t.per_column ? t.n : 1;
    Tensor zw(DType::kInt8, {nz}), sw(DType::kFloat32, {nz});
    for (int64_t i = 0; i < nz; ++i) {
      zw.SetInt(i, t.zero_zw ? 0 : pick(-128, 127));
      sw.SetDouble(i, 0.0005 + (rng_() % 1000) * 1e-5);
    }
    Node node;
    node.name = "mm";
    node.op_type = t.integer ? "MatMulInteger" : "QLinearMatMul";
    node.outputs = {"y"};
    std::vector<const Tensor*> in;
    Tensor za = Tensor::Scalar(at, static_cast<double>(pick(lo, hi)));
    Tensor za_rows(at, {t.m});
    for (int64_t i = 0; i < t.m; ++i) za_rows.SetInt(i, pick(lo, hi));
    const Tensor sa = Tensor::Scalar(DType::kFloat32, 0.02), sy = Tensor::Scalar(DType::kFloat32, t.tiny_sy ? 1e-9 : 0.1 + (rng_() % 100) * 0.01);
    const DType yt = t.YSigned() ? DType::kInt8 : DType::kUInt8;
    const Tensor zy = Tensor::Scalar(yt, static_cast<double>(pick(DTypeMin(yt), DTypeMax(yt))));
    if (t.integer) {
      node.inputs = {"a", "w", "za", "zw"};
      in = {&a, &w, t.per_column ? &za_rows : &za, &zw};
    } else {
      node.inputs = {"a", "sa", "za", "w", "sw", "zw", "sy", "zy"};
      in = {&a, &sa, &za, &w, &sw, &zw, &sy, &zy};
    }
    return CompareOnEveryPath(node, in, t.Describe() + " seed=" + std::to_string(seed_));
  }

 private:
  std::mt19937 rng_;
  uint32_t seed_;
};

uint32_t Seed() { return ::testing::UnitTest::GetInstance()->random_seed(); }

TEST(KernelsMatMul, ShapeSweepEqualsReference) {
  MatMulTester tester(Seed());
  int compared = 0, i = 0;
  for (int64_t m : {1, 7, 8, 9, 17}) {
    for (int64_t n : {1, 15, 16, 33, 70}) {
      for (int64_t k : {1, 5, 64, 67}) {
        ++i;
        compared += tester.Test({i % 5 == 0 ? 2 : 1, m, n, k, i % 2 == 0, i % 3 == 0, i % 7 == 0, i % 4 == 0});
        if (HasFailure()) return;
      }
    }
  }
  EXPECT_GT(compared, 100);
}

// Zero weight zero points: uint8 A rows are read in place and the fused kernels take blocks of
// up to 64 rows per call (kernels/gemm.cc), so m runs past one and two blocks.
TEST(KernelsMatMul, SymmetricWeightsEqualReference) {
  MatMulTester tester(Seed());
  int compared = 0, i = 0;
  for (int64_t m : {9, 63, 64, 65, 130}) {
    for (int64_t n : {16, 33}) {
      for (int64_t k : {5, 32, 36}) {
        ++i;
        MatMulCase c{1, m, n, k, i % 3 == 0, i % 2 == 0, i % 5 == 0, i % 7 == 0};
        c.zero_zw = true;
        compared += tester.Test(c);
        if (HasFailure()) return;
      }
    }
  }
  EXPECT_GT(compared, 30);
}

// Symmetric weights and uint8 rows with k a multiple of 4, k ≥ 64: on the AMX path the fused
// kernel runs groups of 32 and 16 rows on tiles, 64 bytes of k per step, and finishes the k
// after the last whole step and the rows after the last whole group in zmm registers. m runs
// around the group heights and past one call, k around the step, n over half, full and several
// panels (with 3 threads, m under 192 and 4 panels, the threads split panels, not rows); both
// output types, and multipliers far above 1.
TEST(KernelsMatMul, TileGroupsEqualReference) {
  MatMulTester tester(Seed());
  int compared = 0, i = 0;
  const int64_t ns[] = {16, 45, 100};
  for (int64_t m : {16, 31, 32, 47, 48, 79, 300}) {
    for (int64_t k : {64, 100, 128, 260}) {
      ++i;
      MatMulCase c{1, m, ns[i % 3], k, false, i % 2 == 0, i % 5 == 0, false};
      c.zero_zw = true;
      c.y_signed = i % 2;
      c.tiny_sy = i % 4 == 0;
      compared += tester.Test(c);
      if (HasFailure()) return;
    }
  }
  EXPECT_GT(compared, 28);
}

#if defined(__x86_64__)
// Another tile configuration on the calling thread, as other code using AMX may leave it: every
// tile 8 rows of 32 bytes. (GCC 12 does not see LDTILECFG and STTILECFG read and write the 64
// bytes: the barriers keep the stores and loads.)
__attribute__((target("amx-tile"))) void LoadForeignTileConfig() {
  alignas(64) uint8_t config[64] = {1};
  for (int t = 0; t < 8; ++t) {
    config[16 + 2 * t] = 32;
    config[48 + t] = 8;
  }
  asm volatile("" : : "r"(config) : "memory");
  _tile_loadconfig(config);
}
__attribute__((target("amx-tile"))) int TilePalette() {
  alignas(64) uint8_t config[64];
  _tile_storeconfig(config);
  asm volatile("" : : "r"(config) : "memory");
  return config[0];
}

// The AMX kernels leave the tiles configured between calls and skip LDTILECFG when the
// configuration is already theirs (qgemm_amx.cc ConfigureTiles): one left by other code must
// still be replaced — a fused call under a foreign configuration gives what it gives from
// released tiles — and the GEMM driver releases the tiles when a thread's share of a product
// ends (QGemmKernel::release), so none stay configured after it.
TEST(KernelsMatMul, AmxReplacesAForeignTileConfigurationAndReleasesTiles) {
  if (!CpuHas(Isa::kAmx)) GTEST_SKIP() << "no AMX on this CPU";
  const QGemmKernel& kernel = *FindQGemmKernel(Isa::kAmx);
  ASSERT_TRUE(kernel.fused && kernel.release);
  constexpr int kRows = 48, kK = 256;
  std::mt19937 rng(Seed());
  alignas(64) uint8_t a[kRows * kK];
  alignas(64) int8_t b[kK * 32];
  for (uint8_t& v : a) v = static_cast<uint8_t>(rng());
  for (int8_t& v : b) v = static_cast<int8_t>(rng());
  const int32_t col_term[32] = {};
  float mult[32];
  for (float& m : mult) m = 1.0f / 4096;
  auto run = [&](uint8_t* out) {
    const FusedOutput o{nullptr, nullptr, col_term, nullptr, mult, 128, false, out, 32, 32, true};
    kernel.fused(kRows, kK / 4, a, kK, b, o);
  };
  uint8_t foreign[kRows * 32], fresh[kRows * 32];
  LoadForeignTileConfig();
  ASSERT_EQ(TilePalette(), 1);
  run(foreign);
  kernel.release();
  ASSERT_EQ(TilePalette(), 0);
  run(fresh);
  EXPECT_EQ(std::vector<uint8_t>(foreign, foreign + sizeof foreign), std::vector<uint8_t>(fresh, fresh + sizeof fresh));
  EXPECT_GT(std::set<uint8_t>(fresh, fresh + sizeof fresh).size(), 16u) << "outputs too uniform to tell";

  MatMulTester tester(Seed());
  MatMulCase c{1, 80, 45, 192, false, false, false, false};
  c.zero_zw = true;
  EXPECT_GT(tester.Test(c), 0);
  EXPECT_EQ(TilePalette(), 0) << "the calling thread's tiles are still configured after the GEMM";
}
#endif

// Short k (k4 = 1..8) with symmetric weights and uint8 A: the AVX-512 fused kernel runs whole
// tiles of 16 rows (panels of at most 16 columns) or 12 rows (wider panels) with k unrolled, and
// the driver hands it up to 192 rows per call; m runs past both tile heights and one call, n
// covers full and partial panels of both kinds, outputs both types; multipliers below 1 (no
// float clamp) and, with sy = 1e-9, far above it.
TEST(KernelsMatMul, ShortKEqualsReference) {
  MatMulTester tester(Seed());
  int compared = 0, i = 0;
  const int64_t ms[] = {12, 16, 29, 200, 401}, ns[] = {16, 9, 32, 45, 144};
  for (int64_t k = 4; k <= 32; k += 4) {
    for (int j = 0; j < 3; ++j, ++i) {
      MatMulCase c{1, ms[i % 5], ns[(i + j) % 5], k, false, i % 2 == 0, i % 3 == 0, false};
      c.zero_zw = true;
      c.y_signed = i % 2;
      c.tiny_sy = j == 2 && k % 8 == 0;  // multipliers far above 1: the output stage's float clamp
      compared += tester.Test(c);
      if (HasFailure()) return;
    }
  }
  EXPECT_GT(compared, 20);
}

// The AMX path's panels form (qgemm_amx.cc StreamedBlocks): rows outermost over groups of
// panels of at most 1 MiB, each block's output stage finished during the next block's k steps.
// n past one group (k = 2048: 16 panels of 64 KiB) with a part panel last, k past the form's
// limits (448 below: panel by panel; 2120, not whole steps: block by block), k = 512 and 576
// with 16-row blocks, 32-row blocks and VNNI rows after them, several panels, a panel of 13
// columns last; both output types. Past k = 2048 the form takes k in chunks: 2112 (three of
// 11 steps), 2176 (12, 12 and 10) over more blocks than go through the chunks together (ten:
// 8 and 2), 3072 over two groups of panels (10 and a part of 2) with a 16-row block after a
// 32-row one. (Panel by panel: TileGroupsEqualReference.)
TEST(KernelsMatMul, PanelGroupsEqualReference) {
  MatMulTester tester(Seed());
  int compared = 0;
  const MatMulCase cases[] = {
      {1, 34, 520, 2048, false, true, false, false}, {1, 17, 40, 2112, false, false, false, false},
      {1, 16, 45, 512, false, false, false, false},  {1, 47, 100, 512, false, true, false, false},
      {1, 80, 64, 576, false, false, false, false},  {1, 48, 33, 448, false, true, false, false},
      {1, 300, 40, 2176, false, true, true, false},  {1, 40, 360, 3072, false, true, false, false},
      {1, 33, 20, 2120, false, false, false, false}};
  for (MatMulCase c : cases) {
    c.zero_zw = true;
    c.y_signed = c.m % 2 == 0;
    compared += tester.Test(c);
    if (HasFailure()) return;
  }
  // Chunks into the output stage's clamping instance (multipliers far above 1).
  for (int y_signed : {0, 1}) {
    MatMulCase c{1, 64, 40, 2176, false, true, false, false};
    c.zero_zw = true;
    c.tiny_sy = true;
    c.y_signed = y_signed;
    compared += tester.Test(c);
  }
  EXPECT_GT(compared, 5);
}

// Requantized values beyond the int16 range and beyond int32 (CVTPS2DQ's 0x80000000), of both
// signs, with int8 and uint8 outputs: the fused output stage's saturating packs
// (kernels/requant_lanes.h) must still give the clamp.
TEST(KernelsMatMul, SaturatingOutputsEqualReference) {
  MatMulTester tester(Seed());
  int compared = 0, i = 0;
  for (bool a_signed : {false, true}) {
    for (int64_t n : {16, 40}) {
      for (bool zero_zw : {false, true}) {
        ++i;
        MatMulCase c{1, 20, n, 64, a_signed, i % 2 == 0, i % 3 == 0, false};
        c.zero_zw = zero_zw;
        c.tiny_sy = true;
        compared += tester.Test(c);
        if (HasFailure()) return;
      }
    }
  }
  EXPECT_GT(compared, 10);
}

// Wide B against few rows: with 3 threads the GEMM splits column panels instead of row tiles
// (kernels/gemm.cc: B is the larger operand and has panels enough to share). With 200 rows the
// AMX kernel splits rows instead (B fits L2 and each thread gets two 32-row blocks or more).
TEST(KernelsMatMul, WideWeightsSplitByPanelsEqualReference) {
  MatMulTester tester(Seed());
  int compared = 0;
  for (bool zero_zw : {false, true}) {
    MatMulCase c{1, 9, 800, 256, false, !zero_zw, false, false};
    c.zero_zw = zero_zw;
    compared += tester.Test(c);
    compared += tester.Test({1, 20, 777, 96, true, true, false, false});
    if (HasFailure()) return;
  }
  compared += tester.Test({1, 200, 420, 256, false, true, false, false});
  EXPECT_GT(compared, 0);
}

TEST(KernelsMatMul, LargeKAndExtremesEqualReference) {
  MatMulTester tester(Seed());
  int compared = 0;
  for (bool a_signed : {false, true}) {
    for (bool per_column : {false, true}) {
      for (bool integer : {false, true}) {
        compared += tester.Test({1, 12, 40, 300, a_signed, per_column, true, integer});
        compared += tester.Test({3, 5, 96, 777, a_signed, per_column, false, integer});
        if (HasFailure()) return;
      }
    }
  }
  EXPECT_GT(compared, 0);
}

}  // namespace
}  // namespace qfarm::kernels
