// GEMM tester (STYLE.md item 7): every registered microkernel through the driver, exactly equal
// to reference/'s DotAccumulate for the profile the path computes, over generated sweeps: m and
// n around the tile sizes, k = 1..67 and larger, int8 and uint8 activations, zero points and
// values at the type extremes, per-column zero points and bias, 1 and 3 threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <sstream>

#include "common/no_init_allocator.h"
#include "kernels/executor.h"
#include "kernels/gemm.h"
#include "reference/arith.h"

namespace qfarm::kernels {
namespace {

struct GemmCase {
  int64_t m, n, k;
  bool a_signed;
  int32_t za;
  bool per_col_zero, bias, extremes;
  int threads;
  std::string Describe() const {
    std::ostringstream s;
    s << "m=" << m << " n=" << n << " k=" << k << " a=" << (a_signed ? "s8" : "u8") << " za=" << za
      << " per_col_zero=" << per_col_zero << " bias=" << bias << " extremes=" << extremes << " threads=" << threads;
    return s.str();
  }
};

class GemmTester {
 public:
  GemmTester(const QGemmKernel& kernel, uint32_t seed) : kernel_(kernel), rng_(seed), seed_(seed) {}

  void Test(const GemmCase& t) {
    std::vector<int32_t> a(static_cast<size_t>(t.m * t.k)), w(static_cast<size_t>(t.k * t.n));
    const int lo = t.a_signed ? -128 : 0, hi = t.a_signed ? 127 : 255;
    for (auto& v : a) v = t.extremes ? (rng_() % 2 ? lo : hi) : lo + static_cast<int>(rng_() % 256);
    for (auto& v : w) v = t.extremes ? (rng_() % 2 ? -128 : 127) : static_cast<int>(rng_() % 256) - 128;
    std::vector<int32_t> zw(static_cast<size_t>(t.n), 0), bias(static_cast<size_t>(t.n), 0);
    for (auto& z : zw) z = t.per_col_zero ? static_cast<int>(rng_() % 256) - 128 : 0;
    for (auto& b : bias) b = t.bias ? static_cast<int32_t>(rng_()) : 0;
    std::vector<uint8_t> a_bytes(a.size());
    for (size_t i = 0; i < a.size(); ++i) a_bytes[i] = static_cast<uint8_t>(a[i]);
    const PackedWeights packed = PackWeights(t.k, t.n, kernel_.nr, [&](int64_t kk, int64_t j) {
      return static_cast<int8_t>(w[static_cast<size_t>(kk * t.n + j)]);
    });
    std::vector<int32_t> c(static_cast<size_t>(t.m * t.n), 0x5a5a5a5a);
    GemmProblem p;
    p.m = t.m;
    p.a = a_bytes.data();
    p.lda = t.k;
    p.a_signed = t.a_signed;
    p.a_zero = t.za;
    p.b = &packed;
    p.b_zero = zw.data();
    p.bias = t.bias ? bias.data() : nullptr;
    p.c = c.data();
    p.ldc = t.n;
    QGemm(kernel_, p, t.threads);
    // The reference: the same profile the path declares (pair_sat16 as the kernel does it).
    Profile prof;
    prof.pair_sat16 = kernel_.pair_sat16;
    prof.zp_fold = kernel_.pair_sat16 ? ZpFold::kFoldAfter : ZpFold::kSubtractFirst;
    std::vector<int32_t> x(static_cast<size_t>(t.k)), col(static_cast<size_t>(t.k));
    for (int64_t i = 0; i < t.m; ++i)
      for (int64_t j = 0; j < t.n; ++j) {
        for (int64_t kk = 0; kk < t.k; ++kk) {
          x[static_cast<size_t>(kk)] = a[static_cast<size_t>(i * t.k + kk)];
          col[static_cast<size_t>(kk)] = w[static_cast<size_t>(kk * t.n + j)];
        }
        const int32_t* b = t.bias ? &bias[static_cast<size_t>(j)] : nullptr;
        const int64_t want = DotAccumulate(prof, x, col, t.za, zw[static_cast<size_t>(j)],
                                           t.a_signed ? DType::kInt8 : DType::kUInt8, b);
        ASSERT_EQ(c[static_cast<size_t>(i * t.n + j)], want)
            << kernel_.name << " " << t.Describe() << " at (" << i << "," << j << ") seed=" << seed_;
      }
  }

 private:
  const QGemmKernel& kernel_;
  std::mt19937 rng_;
  uint32_t seed_;
};

class KernelsGemm : public ::testing::TestWithParam<int> {};

TEST_P(KernelsGemm, EqualsReferenceOverShapeSweeps) {
  int count = 0;
  const QGemmKernel& kernel = AllQGemmKernels(&count)[GetParam()];
  if (!CpuHas(kernel.isa)) GTEST_SKIP() << kernel.name << ": this CPU lacks " << IsaName(kernel.isa);
  const uint32_t seed = ::testing::UnitTest::GetInstance()->random_seed();
  GemmTester tester(kernel, seed);
  std::mt19937 rng(seed);
  int cases = 0;
  for (int64_t k = 1; k <= 67; ++k) {
    for (bool a_signed : {false, true}) {
      const int64_t m = 1 + static_cast<int64_t>(rng() % 9), n = 1 + static_cast<int64_t>(rng() % 37);
      const int32_t za = a_signed ? static_cast<int>(rng() % 256) - 128 : static_cast<int>(rng() % 256);
      tester.Test({m, n, k, a_signed, za, k % 3 == 0, k % 2 == 0, k % 5 == 0, 1});
      ++cases;
    }
  }
  for (int64_t k : {128, 255, 256, 300, 1024}) {
    tester.Test({13, 45, k, k % 2 == 1, 255 * (k % 2 == 0), true, true, false, 3});
    tester.Test({64, 64, k, false, 0, false, false, true, 1});
    tester.Test({64, 64, k, false, 0, false, false, true, 3});
    cases += 3;
  }
  tester.Test({1, 3072, 768, true, -3, false, true, false, 2});  // transformer GEMV shape
  EXPECT_EQ(cases, 67 * 2 + 15);
}

// The pieces form (qgemm.h SegmentPiece, GemmProblem::a_pieces) against each piece as a segments
// GEMM of its own (the form the convolution testers check against reference/): the kernel's own
// pieces form and the driver's piece-by-piece fallback, k streamed (576) and not (384), pieces
// from 1 row to several hundred (tile blocks, an overlapping last block, rows left to the VNNI
// loop), outputs byte for byte.
TEST(KernelsGemmPieces, SegmentPiecesEqualEachPieceAlone) {
  int count = 0;
  const QGemmKernel* kernels = AllQGemmKernels(&count);
  const uint32_t seed = ::testing::UnitTest::GetInstance()->random_seed();
  std::mt19937 rng(seed);
  int tested = 0;
  for (int i = 0; i < count; ++i) {
    const QGemmKernel& kernel = kernels[i];
    if (!kernel.fused_segments || !CpuHas(kernel.isa)) continue;
    QGemmKernel fallback = kernel;
    fallback.fused_segment_pieces = nullptr;
    for (int64_t c : {64, 128}) {  // 3 segments of 3·c bytes: k = 576 or 1152 (streamed), 384 with 2
      for (int segments : {3, 2}) {
        const int64_t seg_k4 = 3 * c / 4, k = segments * seg_k4 * 4, n = 64 + 32 * (c / 64);
        std::vector<uint8_t, NoInitAllocator<uint8_t>> image(static_cast<size_t>(600 * c * 4));
        for (auto& v : image) v = static_cast<uint8_t>(rng());
        std::vector<int32_t> bias(static_cast<size_t>(n));
        std::vector<float> mult(static_cast<size_t>(n));
        for (auto& b : bias) b = static_cast<int32_t>(rng() % 200001) - 100000;
        for (auto& m : mult) m = 1e-4f * static_cast<float>(1 + rng() % 100);
        const PackedWeights packed = PackWeights(k, n, kernel.nr, [&](int64_t, int64_t) { return static_cast<int8_t>(rng()); });
        std::vector<SegmentPiece> pieces;
        for (int rows : {1, 7, 16, 20, 54, 64, 112, 301}) {
          SegmentPiece piece;
          piece.rows = rows;
          piece.lda = rows % 2 ? c : 3 * c;  // pixels side by side, or planes of pieces
          const int64_t start = static_cast<int64_t>(rng() % 64) * c;
          for (int s = 0; s < segments; ++s) piece.base[s] = image.data() + start + s * 17 * c;
          pieces.push_back(piece);
        }
        const int32_t zx = static_cast<int32_t>(rng() % 256), zy = static_cast<int32_t>(rng() % 256);
        auto run = [&](const QGemmKernel& kern, bool together) {
          std::vector<uint8_t> out(pieces.size() * 301 * static_cast<size_t>(n), 0x5a);
          for (size_t j = 0; j < pieces.size(); ++j) pieces[j].out = out.data() + j * 301 * static_cast<size_t>(n);
          const FusedRequant fused{mult.data(), zy, false, nullptr, n, true};
          GemmProblem p;
          p.a_zero = zx;
          p.b = &packed;
          p.bias = bias.data();
          p.fused = &fused;
          if (together) {
            const GemmProblem::RowSegments segs{segments, seg_k4, {}, 0};
            p.a_segments = &segs;
            p.a_pieces = pieces.data();
            p.a_piece_count = static_cast<int>(pieces.size());
            QGemm(kern, p, 1);
            return out;
          }
          for (const SegmentPiece& piece : pieces) {
            GemmProblem::RowSegments segs{segments, seg_k4, {}, piece.lda};
            std::copy(piece.base, piece.base + segments, segs.base);
            const FusedRequant alone{mult.data(), zy, false, piece.out, n, true};
            p.m = piece.rows;
            p.a_segments = &segs;
            p.fused = &alone;
            QGemm(kern, p, 1);
          }
          return out;
        };
        const std::vector<uint8_t> want = run(kernel, false);
        EXPECT_EQ(run(kernel, true), want) << kernel.name << " c=" << c << " segments=" << segments << " seed=" << seed;
        EXPECT_EQ(run(fallback, true), want) << kernel.name << " (piece by piece) c=" << c << " segments=" << segments
                                             << " seed=" << seed;
        ++tested;
      }
    }
  }
  if (tested == 0) GTEST_SKIP() << "no kernel with a segments form on this CPU";
}

INSTANTIATE_TEST_SUITE_P(AllKernels, KernelsGemm, ::testing::Range(0, [] {
                           int n = 0;
                           AllQGemmKernels(&n);
                           return n;
                         }()),
                         [](const ::testing::TestParamInfo<int>& info) {
                           int n = 0;
                           return std::string(AllQGemmKernels(&n)[info.param].name);
                         });

TEST(KernelsGemm, Avx2DiffersFromOrtExactlyWhereInt16PairsSaturate) {
  if (!CpuHas(Isa::kAvx2)) GTEST_SKIP() << "no AVX2";
  EXPECT_TRUE(PathComputes(Isa::kAvx2, *ParseProfile("avx2-u8s8")));
  std::string why;
  EXPECT_FALSE(PathComputes(Isa::kAvx2, *ParseProfile("ort"), &why));
  EXPECT_NE(why.find("pair_sat16"), std::string::npos);
  // One column: u8 activations {255, 255}, full-range weights {127, 127} → 32767, not 64770.
  const QGemmKernel& k = *FindQGemmKernel(Isa::kAvx2);
  const uint8_t a[2] = {255, 255};
  const PackedWeights w = PackWeights(2, 1, k.nr, [](int64_t, int64_t) { return int8_t{127}; });
  int32_t c = 0;
  GemmProblem p;
  p.m = 1;
  p.a = a;
  p.lda = 2;
  p.b = &w;
  p.c = &c;
  p.ldc = 1;
  QGemm(k, p, 1);
  EXPECT_EQ(c, 32767);
  const QGemmKernel& exact = *FindQGemmKernel(Isa::kScalar);
  const PackedWeights w8 = PackWeights(2, 1, exact.nr, [](int64_t, int64_t) { return int8_t{127}; });
  p.b = &w8;
  QGemm(exact, p, 1);
  EXPECT_EQ(c, 64770);
}

// The farm's first real hardware divergence, as a sweep: u8 activations near 255 and full-range
// weights through the VPMADDUBSW path. Every output equals the `avx2-u8s8` reference bit for bit,
// and differs from the `ort` reference by exactly the int16 pair saturation excess, computed here
// independently: Σ over pairs (2j, 2j+1) of sat16(x·w + x'·w') − (x·w + x'·w').
TEST(KernelsGemm, Avx2SweepDiffersFromOrtByExactlyThePairSaturation) {
  if (!CpuHas(Isa::kAvx2)) GTEST_SKIP() << "no AVX2";
  const uint32_t seed = ::testing::UnitTest::GetInstance()->random_seed();
  std::mt19937 rng(seed);
  const QGemmKernel& k = *FindQGemmKernel(Isa::kAvx2);
  const Profile ort = *ParseProfile("ort"), avx2 = *ParseProfile("avx2-u8s8");
  int diverging = 0, outputs = 0;
  for (int64_t kk : {1, 2, 3, 7, 16, 31, 64, 67, 256}) {
    const int64_t m = 5, n = 19;
    std::vector<int32_t> a(static_cast<size_t>(m * kk)), w(static_cast<size_t>(kk * n));
    for (auto& v : a) v = 200 + static_cast<int>(rng() % 56);                          // near 255
    for (auto& v : w) v = rng() % 3 ? (rng() % 2 ? 127 : -128) : static_cast<int>(rng() % 256) - 128;
    std::vector<uint8_t> a_bytes(a.begin(), a.end());
    const int32_t za = static_cast<int32_t>(rng() % 256);
    const PackedWeights packed = PackWeights(kk, n, k.nr, [&](int64_t r, int64_t j) {
      return static_cast<int8_t>(w[static_cast<size_t>(r * n + j)]);
    });
    std::vector<int32_t> c(static_cast<size_t>(m * n));
    GemmProblem p;
    p.m = m;
    p.a = a_bytes.data();
    p.lda = kk;
    p.a_zero = za;
    p.b = &packed;
    p.c = c.data();
    p.ldc = n;
    QGemm(k, p, 1);
    std::vector<int32_t> x(static_cast<size_t>(kk)), col(static_cast<size_t>(kk));
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        int64_t excess = 0;
        for (int64_t q = 0; q < kk; ++q) {
          x[static_cast<size_t>(q)] = a[static_cast<size_t>(i * kk + q)];
          col[static_cast<size_t>(q)] = w[static_cast<size_t>(q * n + j)];
        }
        for (int64_t q = 0; q < kk; q += 2) {
          int64_t pair = int64_t{x[static_cast<size_t>(q)]} * col[static_cast<size_t>(q)];
          if (q + 1 < kk) pair += int64_t{x[static_cast<size_t>(q + 1)]} * col[static_cast<size_t>(q + 1)];
          excess += std::clamp<int64_t>(pair, -32768, 32767) - pair;
        }
        const int64_t want_avx2 = DotAccumulate(avx2, x, col, za, 0, DType::kUInt8, nullptr);
        const int64_t want_ort = DotAccumulate(ort, x, col, za, 0, DType::kUInt8, nullptr);
        const int32_t got = c[static_cast<size_t>(i * n + j)];
        ASSERT_EQ(got, want_avx2) << "k=" << kk << " za=" << za << " at (" << i << "," << j << ") seed=" << seed;
        ASSERT_EQ(int64_t{got} - want_ort, excess) << "k=" << kk << " za=" << za << " at (" << i << "," << j
                                                   << ") seed=" << seed;
        diverging += got != want_ort;
        ++outputs;
      }
  }
  // Most outputs diverge here (|{255,255}·{127,127}| > 32767); print how many for the record.
  std::printf("avx2 vs ort: %d of %d outputs diverge\n", diverging, outputs);
  EXPECT_GT(diverging, outputs / 2);
}

}  // namespace
}  // namespace qfarm::kernels
