// Depthwise tester (STYLE.md item 7): the direct depthwise kernel (kernels/dwconv.h; 3×3 and 5×5
// specialized, any other size generic) against reference/'s DotAccumulate, output by output,
// zero tolerance. The reference builds each output's tap list itself (padding taps = the input
// zero point, ARITHMETIC.md §1) under the exact profile the kernel claims (acc_bits=32, wrap,
// pair_sat16=off). Sweeps channels 1..67, kernel sizes, strides 1..3, dilation, asymmetric
// padding, int8/uint8, per-channel zero points and bias, values at the type extremes.
#include <gtest/gtest.h>

#include <random>
#include <sstream>

#include "kernels/dwconv.h"
#include "kernels/qgemm/qgemm.h"
#include "reference/arith.h"

namespace qfarm::kernels {
namespace {

struct DwCase {
  int64_t channels, h, w, kh, kw, stride, dilation, pad_top, pad_left, pad_bottom, pad_right;
  bool x_signed, bias, extremes;
  // 1: every x at the type's top, zx at its bottom; 2: the reverse. Both with w = −128 and
  // zw = 127, so every product is ±255·255, the largest the contract allows.
  int worst = 0;
  std::string Describe() const {
    std::ostringstream s;
    s << "channels=" << channels << " hw=" << h << "x" << w << " k=" << kh << "x" << kw << " stride=" << stride
      << " dilation=" << dilation << " pads=" << pad_top << "," << pad_left << "," << pad_bottom << "," << pad_right
      << " x=" << (x_signed ? "s8" : "u8") << " bias=" << bias << " extremes=" << extremes
      << " worst=" << worst;
    return s.str();
  }
};

class DwConvTester {
 public:
  explicit DwConvTester(uint32_t seed) : rng_(seed), seed_(seed) {}

  void Test(const DwCase& t) {
    ConvGeometry g;
    g.in = {t.h, t.w};
    g.kernel = {t.kh, t.kw};
    g.stride = {t.stride, t.stride};
    g.dilation = {t.dilation, t.dilation};
    g.pad_begin = {t.pad_top, t.pad_left};
    g.pad_end = {t.pad_bottom, t.pad_right};
    g.out = {(t.h + t.pad_top + t.pad_bottom - t.dilation * (t.kh - 1) - 1) / t.stride + 1,
             (t.w + t.pad_left + t.pad_right - t.dilation * (t.kw - 1) - 1) / t.stride + 1};
    const int lo = t.x_signed ? -128 : 0, hi = t.x_signed ? 127 : 255;
    auto pick = [&](int a, int b) { return t.extremes ? (rng_() % 2 ? a : b) : a + static_cast<int>(rng_() % (b - a + 1)); };
    std::vector<int32_t> x(static_cast<size_t>(t.channels * t.h * t.w)), w(static_cast<size_t>(t.channels * t.kh * t.kw));
    for (auto& v : x) v = pick(lo, hi);
    for (auto& v : w) v = pick(-128, 127);
    std::vector<int32_t> zw(static_cast<size_t>(t.channels)), bias(static_cast<size_t>(t.channels));
    for (auto& z : zw) z = pick(-128, 127);
    for (auto& b : bias) b = static_cast<int32_t>(rng_());
    int32_t zx = rng_() % 2 ? (rng_() % 2 ? lo : hi) : pick(lo, hi);
    if (t.worst != 0) {
      std::fill(x.begin(), x.end(), t.worst == 1 ? hi : lo);
      std::fill(w.begin(), w.end(), -128);
      std::fill(zw.begin(), zw.end(), 127);
      zx = t.worst == 1 ? lo : hi;
    }
    std::vector<uint8_t> x_bytes(x.size());
    std::vector<int8_t> w_bytes(w.size());
    for (size_t i = 0; i < x.size(); ++i) x_bytes[i] = static_cast<uint8_t>(x[i]);
    for (size_t i = 0; i < w.size(); ++i) w_bytes[i] = static_cast<int8_t>(w[i]);
    const int64_t positions = g.out[0] * g.out[1];
    // Every copy of the loops this CPU runs, at one and several threads; all must equal the reference.
    for (DwIsa isa : {DwIsa::kPortable, DwIsa::kAvx2, DwIsa::kAvx512}) {
      if (!DwIsaAvailable(isa)) continue;
      for (int threads : {1, 3}) {
        std::vector<int32_t> acc(static_cast<size_t>(t.channels * positions), 0x5a5a5a5a);
        DepthwiseConv({&g, x_bytes.data(), t.x_signed, zx, w_bytes.data(), zw.data(), t.bias ? bias.data() : nullptr,
                       t.channels, acc.data(), isa, threads});
        Check(t, g, x, w, zw, bias, zx, acc, isa, threads);
        if (::testing::Test::HasFatalFailure()) return;
      }
    }
    ++cases_;
  }
  int cases() const { return cases_; }

 private:
  void Check(const DwCase& t, const ConvGeometry& g, const std::vector<int32_t>& x, const std::vector<int32_t>& w,
             const std::vector<int32_t>& zw, const std::vector<int32_t>& bias, int32_t zx,
             const std::vector<int32_t>& acc, DwIsa isa, int threads) {
    const int64_t positions = g.out[0] * g.out[1];
    const Profile exact;  // acc_bits=32, wrap, pair_sat16=off
    std::vector<int32_t> taps_x, taps_w;
    for (int64_t c = 0; c < t.channels; ++c)
      for (int64_t oy = 0; oy < g.out[0]; ++oy)
        for (int64_t ox = 0; ox < g.out[1]; ++ox) {
          taps_x.clear();
          taps_w.clear();
          for (int64_t ky = 0; ky < t.kh; ++ky)
            for (int64_t kx = 0; kx < t.kw; ++kx) {
              const int64_t iy = oy * t.stride - t.pad_top + ky * t.dilation;
              const int64_t ix = ox * t.stride - t.pad_left + kx * t.dilation;
              const bool inside = iy >= 0 && iy < t.h && ix >= 0 && ix < t.w;
              taps_x.push_back(inside ? x[static_cast<size_t>((c * t.h + iy) * t.w + ix)] : zx);
              taps_w.push_back(w[static_cast<size_t>((c * t.kh + ky) * t.kw + kx)]);
            }
          const int64_t want = DotAccumulate(exact, taps_x, taps_w, zx, zw[static_cast<size_t>(c)],
                                             t.x_signed ? DType::kInt8 : DType::kUInt8,
                                             t.bias ? &bias[static_cast<size_t>(c)] : nullptr);
          ASSERT_EQ(acc[static_cast<size_t>(c * positions + oy * g.out[1] + ox)], want)
              << t.Describe() << " zx=" << zx << " isa=" << static_cast<int>(isa) << " threads=" << threads
              << " at channel " << c << " (" << oy << "," << ox << ") seed=" << seed_;
        }
  }

  std::mt19937 rng_;
  uint32_t seed_;
  int cases_ = 0;
};

TEST(KernelsDwConv, SpecializedAndGenericSizesEqualReference) {
  const uint32_t seed = ::testing::UnitTest::GetInstance()->random_seed();
  DwConvTester tester(seed);
  std::mt19937 rng(seed);
  int expected = 0;
  for (int64_t c = 1; c <= 67; c += (c < 5 ? 1 : 7)) {
    for (const auto& [kh, kw] : {std::pair<int64_t, int64_t>{3, 3}, {5, 5}, {3, 5}, {1, 1}, {7, 7}}) {
      const int64_t stride = 1 + static_cast<int64_t>(rng() % 3), dilation = 1 + static_cast<int64_t>(rng() % 2);
      const int64_t p = kh / 2 * dilation;
      tester.Test({c, 5 + static_cast<int64_t>(rng() % 9), 4 + static_cast<int64_t>(rng() % 11), kh, kw, stride, dilation,
                   p, kw / 2 * dilation, p, kw / 2 * dilation, c % 2 == 0, c % 3 != 0, c % 5 == 0});
      ++expected;
      if (HasFatalFailure()) return;
    }
  }
  EXPECT_EQ(tester.cases(), expected);
}

TEST(KernelsDwConv, EdgesEqualReference) {
  const uint32_t seed = ::testing::UnitTest::GetInstance()->random_seed();
  DwConvTester tester(seed);
  const std::vector<DwCase> cases = {
      {16, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1, false, true, true},    // 1×1 image, all but one tap padding
      {8, 3, 3, 5, 5, 1, 1, 2, 2, 2, 2, true, true, true},      // kernel larger than the image
      {4, 9, 9, 3, 3, 2, 1, 0, 0, 1, 1, false, false, false},   // asymmetric (TF SAME) padding
      {4, 9, 9, 3, 3, 3, 1, 2, 0, 0, 2, true, true, false},
      {3, 12, 12, 5, 5, 2, 2, 4, 4, 4, 4, false, true, true},   // dilation 2 on 5×5
      {32, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1, false, true, false}, // the built-in dw3x3 shape
      {2, 64, 64, 5, 5, 1, 1, 2, 2, 2, 2, true, true, true},    // a large plane, extremes
      {19, 40, 36, 3, 3, 1, 1, 1, 1, 1, 1, false, true, true},  // wide rows: the per-plane loop
      {19, 40, 36, 3, 3, 2, 1, 1, 1, 1, 1, true, false, true},  // stride 2: rows of 18, channels last
      {67, 40, 36, 3, 3, 1, 1, 1, 1, 1, 1, true, true, false},  // enough planes that 3 threads split them
      {300, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, false, true, true},   // MobileNetV2's 7×7 layer, split too
      {40, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1, true, true, false},  // its 14×14 layer
      {5, 33, 70, 5, 5, 1, 1, 2, 2, 2, 2, false, true, false, 1},  // worst-case magnitudes
      {5, 33, 70, 3, 3, 1, 1, 1, 1, 1, 1, true, true, false, 2},
      {5, 9, 9, 3, 3, 1, 1, 1, 1, 1, 1, false, true, false, 2},
      {5, 9, 9, 5, 5, 1, 1, 2, 2, 2, 2, true, true, false, 1},
      {3, 6, 40, 3, 3, 1, 1, 3, 4, 0, 5, false, true, false},   // padding wider than the kernel reach
  };
  for (const DwCase& t : cases) {
    tester.Test(t);
    if (HasFatalFailure()) return;
  }
  EXPECT_EQ(tester.cases(), static_cast<int>(cases.size()));
}

// The direct stride-1 3×3 / 5×5 loop's edges: every width 1..40 (around the 8/16/32 int32 lanes
// of its chunks and twice those, and the row-by-row / flat-run switch), heights 1..5, asymmetric
// pads 0..2, both input types, ordinary and worst-case magnitudes.
TEST(KernelsDwConv, DirectLoopEdgesEqualReference) {
  const uint32_t seed = ::testing::UnitTest::GetInstance()->random_seed();
  DwConvTester tester(seed);
  std::mt19937 rng(seed);
  int expected = 0;
  for (int64_t k : {3, 5}) {
    for (int64_t h = 1; h <= 5; ++h) {
      for (int64_t w = 1; w <= 40; ++w) {
        auto pad = [&] { return static_cast<int64_t>(rng() % 3); };
        const int64_t pt = pad(), pl = pad(), pb = pad(), pr = pad();
        if (h + pt + pb < k || w + pl + pr < k) continue;  // no output
        const bool s8 = rng() % 2 == 0;
        const int worst = static_cast<int>(rng() % 4 == 0 ? 1 + rng() % 2 : 0);
        tester.Test({1 + static_cast<int64_t>(rng() % 4), h, w, k, k, 1, 1, pt, pl, pb, pr, s8, rng() % 4 != 0,
                     rng() % 3 == 0, worst});
        ++expected;
        if (HasFatalFailure()) return;
      }
    }
  }
  EXPECT_EQ(tester.cases(), expected);
}

}  // namespace
}  // namespace qfarm::kernels
