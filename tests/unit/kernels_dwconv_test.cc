// Depthwise tester (STYLE.md item 7): the direct depthwise kernel (kernels/dwconv.h; 3×3 and 5×5
// specialized, any other size generic) against reference/'s DotAccumulate, output by output,
// zero tolerance. The reference builds each output's tap list itself (padding taps = the input
// zero point, ARITHMETIC.md §1) under the exact profile the kernel claims (acc_bits=32, wrap,
// pair_sat16=off). Sweeps channels 1..67, kernel sizes, strides 1..3, dilation, asymmetric
// padding, int8/uint8, per-channel zero points and bias, values at the type extremes.
//
// The channels-last kernel (kernels/dwconv_nhwc.h) has its own tester below: whole QLinearConv
// and ConvInteger nodes through RunReferenceNode under a fusable and two non-fusable profiles,
// the kernel run per image on ToChannelsLast(x) and its output compared after ToChannelsFirst.
#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <sstream>

#include "kernels/dwconv.h"
#include "kernels/dwconv_nhwc.h"
#include "kernels/layout.h"
#include "kernels/qgemm/qgemm.h"
#include "model/conv_geometry.h"
#include "reference/arith.h"
#include "reference/ops.h"
#include "tests/support/conv_node.h"

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

// --- Channels-last ------------------------------------------------------------------------------

class NhwcDwTester {
 public:
  NhwcDwTester& Channels(int64_t c) { c_ = c; return *this; }
  NhwcDwTester& Image(int64_t h, int64_t w) { h_ = h; w_ = w; return *this; }
  NhwcDwTester& Kernel(int64_t kh, int64_t kw) { kh_ = kh; kw_ = kw; return *this; }
  NhwcDwTester& Stride(int64_t sh, int64_t sw) { sh_ = sh; sw_ = sw; return *this; }
  NhwcDwTester& Dilation(int64_t d) { dil_ = d; return *this; }
  NhwcDwTester& Pads(int64_t t, int64_t l, int64_t b, int64_t r) { pads_ = {t, l, b, r}; return *this; }
  NhwcDwTester& Batch(int64_t n) { batch_ = n; return *this; }
  NhwcDwTester& Signed(bool s) { x_type_ = s ? DType::kInt8 : DType::kUInt8; return *this; }
  NhwcDwTester& SignedOut(bool s) { y_type_ = s ? DType::kInt8 : DType::kUInt8; return *this; }
  NhwcDwTester& PerChannel(bool p) { per_channel_ = p; return *this; }
  NhwcDwTester& WeightZero(bool z) { zw_ = z; return *this; }  // nonzero weight zero points
  NhwcDwTester& Bias(bool b) { bias_ = b; return *this; }
  NhwcDwTester& Extremes(bool e) { extremes_ = e; return *this; }
  NhwcDwTester& Integer(bool i) { integer_ = i; return *this; }
  // 1: x at its top, zx at its bottom, w = −128, zw = 127 (every product +255·255); 2: the
  // reverse for x and zx (every product −255·255).
  NhwcDwTester& Worst(int w) { worst_ = w; return *this; }

  std::string Describe() const {
    std::ostringstream s;
    s << (integer_ ? "ConvInteger" : "QLinearConv") << " n=" << batch_ << " c=" << c_ << " hw=" << h_ << "x" << w_
      << " k=" << kh_ << "x" << kw_ << " stride=" << sh_ << "," << sw_ << " dilation=" << dil_ << " pads=" << pads_[0]
      << "," << pads_[1] << "," << pads_[2] << "," << pads_[3] << " x=" << DTypeName(x_type_)
      << " y=" << DTypeName(y_type_) << " per_channel=" << per_channel_ << " zw=" << zw_ << " bias=" << bias_
      << " extremes=" << extremes_ << " worst=" << worst_;
    return s.str();
  }

  // Every DwIsa this CPU has, 1 and 3 threads, under each profile; returns the comparisons made.
  int Test(std::mt19937& rng, uint32_t seed) const {
    const int64_t xlo = DTypeMin(x_type_), xhi = DTypeMax(x_type_), ylo = DTypeMin(y_type_), yhi = DTypeMax(y_type_);
    auto pick = [&](int64_t lo, int64_t hi) {
      return extremes_ ? (rng() % 2 ? lo : hi) : lo + static_cast<int64_t>(rng() % static_cast<uint32_t>(hi - lo + 1));
    };
    Tensor x(x_type_, {batch_, c_, h_, w_}), w(DType::kInt8, {c_, 1, kh_, kw_});
    for (int64_t i = 0; i < x.numel(); ++i) x.SetInt(i, worst_ ? (worst_ == 1 ? xhi : xlo) : pick(xlo, xhi));
    for (int64_t i = 0; i < w.numel(); ++i) w.SetInt(i, worst_ ? -128 : pick(-128, 127));
    const int64_t nw = per_channel_ ? c_ : 1;
    const int64_t zx_v = worst_ ? (worst_ == 1 ? xlo : xhi) : rng() % 3 == 0 ? xlo : rng() % 2 == 0 ? xhi : pick(xlo, xhi);
    Tensor zx = Tensor::Scalar(x_type_, static_cast<double>(zx_v));
    Tensor zw(DType::kInt8, {nw}), sw(DType::kFloat32, {nw}), bias(DType::kInt32, {c_});
    for (int64_t i = 0; i < nw; ++i) {
      zw.SetInt(i, worst_ ? 127 : zw_ ? pick(-128, 127) : 0);
      sw.SetDouble(i, 0.001 + (rng() % 1000) * 2e-5);
    }
    for (int64_t i = 0; i < c_; ++i) bias.SetInt(i, extremes_ ? static_cast<int32_t>(rng()) : static_cast<int64_t>(rng() % 200001) - 100000);
    const Tensor sx = Tensor::Scalar(DType::kFloat32, 0.02), sy = Tensor::Scalar(DType::kFloat32, 0.25 + (rng() % 100) * 0.01);
    const Tensor zy = Tensor::Scalar(y_type_, static_cast<double>(pick(ylo, yhi)));
    std::vector<const Tensor*> in;
    const Node n = MakeConvNode(integer_, {c_, {sh_, sw_}, dil_, pads_},
                                {&x, &sx, &zx, &w, &sw, &zw, &sy, &zy, bias_ ? &bias : nullptr}, &in);
    const std::string what = Describe() + " zx=" + std::to_string(zx_v) + " zy=" + std::to_string(zy.GetInt(0)) +
                             " seed=" + std::to_string(seed);
    const auto geo = ResolveConvGeometry(n, x.shape(), {kh_, kw_}, false);
    EXPECT_TRUE(geo.ok()) << what;
    if (!geo.ok()) return 0;
    std::vector<int32_t> zw_c(static_cast<size_t>(c_)), bias_c(static_cast<size_t>(c_));
    for (int64_t c = 0; c < c_; ++c) {
      zw_c[static_cast<size_t>(c)] = static_cast<int32_t>(zw.GetInt(per_channel_ ? c : 0));
      bias_c[static_cast<size_t>(c)] = static_cast<int32_t>(bias.GetInt(c));
    }
    const Tensor x_last = ToChannelsLast(x);
    const Operands ops{&*geo, &x_last, static_cast<int32_t>(zx_v), w.data<int8_t>().data(),
                       zw_ ? zw_c.data() : nullptr, !integer_ && bias_ ? bias_c.data() : nullptr};
    int compared = 0;
    for (const char* prof_name : integer_ ? std::vector<const char*>{"ort"}
                                          : std::vector<const char*>{"ort", "tflite", "xnnpack-rndnu"}) {
      const Profile prof = *ParseProfile(prof_name);
      auto want = RunReferenceNode(n, prof, in);
      EXPECT_TRUE(want.ok()) << what << ": " << want.status().message();
      if (!want.ok()) return compared;
      std::optional<Requantizer> rq;
      if (!integer_) rq.emplace(prof, RequantParamsOf(prof, sx, sw, sy, nw), static_cast<int32_t>(zy.GetInt(0)), c_);
      for (DwIsa isa : {DwIsa::kPortable, DwIsa::kAvx2, DwIsa::kAvx512}) {
        if (!DwIsaAvailable(isa)) continue;
        // The weights prepared once (and read by both threads counts), and formed per call.
        const DwNhwcWeights prepared = PrepareDwNhwcWeights(ops.w, c_, kh_, kw_, isa);
        for (int threads : {1, 3}) {
          for (const DwNhwcWeights* pw : {static_cast<const DwNhwcWeights*>(nullptr), &prepared}) {
            const Tensor got = ToChannelsFirst(Run(ops, rq ? &*rq : nullptr, (*want)[0], isa, threads, pw));
            EXPECT_EQ(got, (*want)[0]) << what << " profile=" << prof_name << " isa=" << static_cast<int>(isa)
                                       << " threads=" << threads << " prepared=" << (pw != nullptr)
                                       << FirstDifference(got, (*want)[0]);
            if (got != (*want)[0]) return compared;
            ++compared;
          }
        }
      }
    }
    return compared;
  }

 private:
  struct Operands {
    const ConvGeometry* g;
    const Tensor* x_last;
    int32_t zx;
    const int8_t* w;
    const int32_t* zw;
    const int32_t* bias;
  };

  static std::vector<RequantParams> RequantParamsOf(const Profile& p, const Tensor& sx, const Tensor& sw,
                                                    const Tensor& sy, int64_t nw) {
    std::vector<RequantParams> rp;
    for (int64_t i = 0; i < nw; ++i) {
      rp.push_back(MakeRequantParams(p, static_cast<float>(sx.GetDouble(0)), static_cast<float>(sw.GetDouble(i)),
                                     static_cast<float>(sy.GetDouble(0))));
    }
    return rp;
  }

  // The kernel per image into a channels-last output of `like`'s shape and type, every byte
  // first set to a pattern so that an output it never writes shows.
  Tensor Run(const Operands& o, const Requantizer* rq, const Tensor& like, DwIsa isa, int threads,
             const DwNhwcWeights* prepared) const {
    Tensor y(like.dtype(), like.shape());
    std::fill(y.mutable_bytes().begin(), y.mutable_bytes().end(), std::byte{0x5a});
    const int64_t in_image = c_ * h_ * w_, out_image = like.numel() / batch_;
    const std::byte* x = o.x_last->bytes().data();
    for (int64_t i = 0; i < batch_; ++i) {
      DepthwiseNhwc({o.g, x + i * in_image, x_type_ == DType::kInt8, o.zx, o.w, o.zw, o.bias, c_, rq, &y,
                     i * out_image, isa, threads, prepared});
    }
    return y;
  }

  static std::string FirstDifference(const Tensor& got, const Tensor& want) {
    if (got.shape() != want.shape()) return " (shapes differ)";
    for (int64_t i = 0; i < got.numel(); ++i) {
      if (got.GetInt(i) != want.GetInt(i)) {
        return " first difference at NCHW element " + std::to_string(i) + ": got " + std::to_string(got.GetInt(i)) +
               ", want " + std::to_string(want.GetInt(i));
      }
    }
    return "";
  }

  int64_t c_ = 16, h_ = 7, w_ = 7, kh_ = 3, kw_ = 3, sh_ = 1, sw_ = 1, dil_ = 1, batch_ = 2;
  std::array<int64_t, 4> pads_{1, 1, 1, 1};
  DType x_type_ = DType::kUInt8, y_type_ = DType::kUInt8;
  bool per_channel_ = false, zw_ = false, bias_ = true, extremes_ = false, integer_ = false;
  int worst_ = 0;
};

// Channel counts around the 16-lane vectors and 64-channel blocks, 3×3 stride 1 and 2 (the
// VPDPBUSD path) and a 5×5, all options varied with the count.
TEST(KernelsDwConvNhwc, ChannelSweepEqualsReference) {
  const uint32_t seed = ::testing::UnitTest::GetInstance()->random_seed();
  std::mt19937 rng(seed);
  int compared = 0;
  for (int64_t c : {1, 2, 3, 4, 7, 15, 16, 17, 31, 32, 33, 47, 48, 49, 63, 64, 65, 67}) {
    const int64_t k = c % 5 == 0 ? 5 : 3, s = 1 + c % 2;
    compared += NhwcDwTester().Channels(c).Image(5 + static_cast<int64_t>(rng() % 6), 4 + static_cast<int64_t>(rng() % 8))
                    .Kernel(k, k).Stride(s, s).Pads(k / 2, k / 2, k / 2, k / 2).Signed(c % 3 == 0).SignedOut(c % 4 == 1)
                    .PerChannel(c % 2 == 0).WeightZero(c % 3 != 1).Bias(c % 4 != 2).Integer(c % 7 == 3)
                    .Test(rng, seed);
    if (HasFailure()) return;
  }
  EXPECT_GT(compared, 0);
}

TEST(KernelsDwConvNhwc, GeometrySweepEqualsReference) {
  const uint32_t seed = ::testing::UnitTest::GetInstance()->random_seed();
  std::mt19937 rng(seed);
  std::vector<NhwcDwTester> cases;
  using T = NhwcDwTester;
  cases.push_back(T().Channels(16).Image(1, 1));                                  // every tap but one padding
  cases.push_back(T().Channels(1).Image(6, 5).WeightZero(true).Signed(true));     // a lone nonzero zw
  cases.push_back(T().Channels(17).Image(1, 1).Kernel(5, 5).Pads(2, 2, 2, 2).Signed(true));
  cases.push_back(T().Channels(33).Image(2, 3).Kernel(5, 5).Pads(2, 2, 2, 2).WeightZero(true));  // kernel > image
  cases.push_back(T().Channels(20).Image(9, 9).Stride(2, 2).Pads(0, 0, 1, 1));    // TF SAME stride 2
  cases.push_back(T().Channels(20).Image(10, 10).Stride(2, 2).Pads(1, 1, 0, 0).Signed(true).PerChannel(true));
  cases.push_back(T().Channels(9).Image(9, 11).Stride(3, 3).Pads(2, 0, 0, 2).Integer(true).WeightZero(true));
  cases.push_back(T().Channels(12).Image(12, 12).Kernel(5, 5).Stride(2, 2).Dilation(2).Pads(4, 4, 4, 4));
  cases.push_back(T().Channels(7).Image(13, 8).Dilation(2).Pads(2, 1, 2, 3).Extremes(true));
  cases.push_back(T().Channels(31).Image(8, 9).Kernel(2, 3).Pads(1, 1, 0, 1).Signed(true).WeightZero(true));
  cases.push_back(T().Channels(5).Image(11, 6).Kernel(3, 5).Stride(2, 1).Pads(0, 2, 1, 0));
  cases.push_back(T().Channels(40).Image(7, 7).Kernel(1, 1).Pads(0, 0, 0, 0).PerChannel(true));
  cases.push_back(T().Channels(6).Image(10, 10).Kernel(7, 7).Stride(2, 2).Pads(3, 3, 3, 3).Bias(false));
  cases.push_back(T().Channels(19).Image(6, 40).Pads(3, 4, 0, 5).Signed(true));   // padding wider than the reach
  cases.push_back(T().Channels(24).Image(12, 12).Pads(0, 0, 0, 0).Integer(true).Signed(true));  // no padding
  cases.push_back(T().Channels(24).Image(12, 12).Kernel(5, 5).Pads(0, 0, 0, 0).Stride(2, 2).PerChannel(true));
  cases.push_back(T().Channels(67).Image(30, 30).PerChannel(true).WeightZero(true).SignedOut(true));
  cases.push_back(T().Channels(64).Image(29, 17).Stride(2, 2).Signed(true).Integer(true).Batch(1));
  cases.push_back(T().Channels(48).Image(14, 14).Kernel(5, 5).Pads(2, 2, 2, 2).Extremes(true));
  cases.push_back(T().Channels(3).Image(30, 25).Kernel(5, 5).Stride(2, 2).Pads(1, 2, 3, 0).Signed(true).Extremes(true));
  cases.push_back(T().Channels(16).Image(3, 30).Kernel(3, 3).Stride(1, 2).Pads(1, 1, 1, 1));  // unequal strides
  // Rows wide enough (≥ ~20 KiB) that the AVX-512 path runs them in several chunks of rows.
  cases.push_back(T().Channels(130).Image(13, 160).PerChannel(true).Batch(1));
  cases.push_back(T().Channels(72).Image(11, 300).Kernel(5, 5).Stride(2, 2).Pads(2, 2, 2, 2).WeightZero(true).Batch(1));
  int compared = 0;
  for (const NhwcDwTester& t : cases) {
    compared += t.Test(rng, seed);
    if (HasFailure()) return;
  }
  EXPECT_GT(compared, 0);
}

// Every product ±255·255 with the bias at the int32 extremes: the sums wrap, identically (mostly
// ConvInteger, whose int32 outputs show every bit; QLinearConv saturates sums this large).
TEST(KernelsDwConvNhwc, WorstMagnitudesEqualReference) {
  const uint32_t seed = ::testing::UnitTest::GetInstance()->random_seed();
  std::mt19937 rng(seed);
  int compared = 0;
  for (int worst : {1, 2}) {
    for (bool s8 : {false, true}) {
      for (int64_t k : {3, 5}) {
        compared += NhwcDwTester().Channels(35).Image(9, 10).Kernel(k, k).Pads(k / 2, k / 2, k / 2, k / 2)
                        .Stride(1 + worst % 2, 1 + worst % 2).Signed(s8).PerChannel(true).WeightZero(true)
                        .Extremes(true).Worst(worst).Integer(k == 5 || s8).Test(rng, seed);
        if (HasFailure()) return;
      }
    }
  }
  EXPECT_GT(compared, 0);
}

}  // namespace
}  // namespace qfarm::kernels
