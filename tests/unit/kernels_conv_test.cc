// Convolution tester (STYLE.md item 7): QLinearConv and ConvInteger through the kernel paths
// (im2col + GEMM, or the direct depthwise kernel on exact paths) against reference/'s
// RunReferenceNode on one-node graphs, zero tolerance, for every host path this CPU has and
// every named profile the path claims. Builder-style cases over channels 1..67, groups,
// asymmetric padding, odd strides, dilation, non-square kernels, batch 2, int8/uint8
// activations, zero points at the type extremes, per-tensor and per-channel weights, with and
// without bias; 1 and 3 threads. Every parameter and the seed are printed on failure.
#include <gtest/gtest.h>

#include <random>
#include <sstream>

#include "kernels/devices.h"
#include "kernels/executor.h"
#include "reference/ops.h"
#include "tests/support/conv_node.h"
#include "tests/support/kernel_paths.h"

namespace qfarm::kernels {
namespace {

class ConvTester {
 public:
  ConvTester& Channels(int64_t c, int64_t m) { c_ = c; m_ = m; return *this; }
  ConvTester& Image(int64_t h, int64_t w) { h_ = h; w_ = w; return *this; }
  ConvTester& Kernel(int64_t kh, int64_t kw) { kh_ = kh; kw_ = kw; return *this; }
  ConvTester& Group(int64_t g) { group_ = g; return *this; }
  ConvTester& Stride(int64_t sh, int64_t sw) { sh_ = sh; sw_ = sw; return *this; }
  ConvTester& Dilation(int64_t d) { dil_ = d; return *this; }
  ConvTester& Pads(int64_t t, int64_t l, int64_t b, int64_t r) { pads_ = {t, l, b, r}; return *this; }
  ConvTester& Batch(int64_t n) { batch_ = n; return *this; }
  ConvTester& Signed(bool s) { x_type_ = s ? DType::kInt8 : DType::kUInt8; return *this; }
  ConvTester& PerChannel(bool p) { per_channel_ = p; return *this; }
  ConvTester& Bias(bool b) { bias_ = b; return *this; }
  ConvTester& Extremes(bool e) { extremes_ = e; return *this; }
  ConvTester& Integer(bool i) { integer_ = i; return *this; }
  // Per-channel weight zero points of any value on QLinearConv too: outside ONNX's symmetric
  // convention but accepted, and the only way per-row weight terms vary across a fused tile.
  ConvTester& AsymmetricChannels(bool a) { asymmetric_ = a; return *this; }
  // A tiny output scale: multipliers far above 1, so float(acc)·m passes 2^31 and the fused
  // output stages need their float clamp (kernels/requant_lanes.h ScaleClamp512).
  ConvTester& TinyOutputScale(bool t) { tiny_sy_ = t; return *this; }

  std::string Describe() const {
    std::ostringstream s;
    s << (integer_ ? "ConvInteger" : "QLinearConv") << " n=" << batch_ << " c=" << c_ << " m=" << m_ << " hw=" << h_
      << "x" << w_ << " k=" << kh_ << "x" << kw_ << " group=" << group_ << " stride=" << sh_ << "," << sw_
      << " dilation=" << dil_ << " pads=" << pads_[0] << "," << pads_[1] << "," << pads_[2] << "," << pads_[3]
      << " x=" << DTypeName(x_type_) << " per_channel=" << per_channel_ << " bias=" << bias_
      << " extremes=" << extremes_ << " asymmetric_channels=" << asymmetric_ << " tiny_sy=" << tiny_sy_;
    return s.str();
  }

  // Runs the case on every available path and claimed profile; returns the comparisons made.
  int Test(std::mt19937& rng, uint32_t seed) const {
    const int64_t xlo = DTypeMin(x_type_), xhi = DTypeMax(x_type_);
    auto pick = [&](int64_t lo, int64_t hi) {
      return extremes_ ? (rng() % 2 ? lo : hi) : lo + static_cast<int64_t>(rng() % static_cast<uint32_t>(hi - lo + 1));
    };
    Tensor x(x_type_, {batch_, c_, h_, w_}), w(DType::kInt8, {m_, c_ / group_, kh_, kw_});
    for (int64_t i = 0; i < x.numel(); ++i) x.SetInt(i, pick(xlo, xhi));
    for (int64_t i = 0; i < w.numel(); ++i) w.SetInt(i, pick(-128, 127));
    const int64_t nw = per_channel_ ? m_ : 1;
    Tensor zx = Tensor::Scalar(x_type_, static_cast<double>(rng() % 3 == 0 ? xlo : rng() % 3 == 0 ? xhi : pick(xlo, xhi)));
    Tensor zw(DType::kInt8, {nw}), sw(DType::kFloat32, {nw}), bias(DType::kInt32, {m_});
    // Per-channel int8 weights are symmetric in ONNX (zero point 0); a per-tensor zero point and
    // ConvInteger's take any value (they reach the per-row correction terms of every path).
    for (int64_t i = 0; i < nw; ++i) {
      zw.SetInt(i, integer_ || !per_channel_ || asymmetric_ ? static_cast<int64_t>(rng() % 256) - 128 : 0);
      sw.SetDouble(i, 0.001 + (rng() % 1000) * 2e-5);
    }
    for (int64_t i = 0; i < m_; ++i) bias.SetInt(i, static_cast<int64_t>(rng() % 200001) - 100000);
    const Tensor sx = Tensor::Scalar(DType::kFloat32, 0.02);
    const Tensor sy = Tensor::Scalar(DType::kFloat32, tiny_sy_ ? 1e-9 : 0.25 + (rng() % 100) * 0.01);
    const Tensor zy = Tensor::Scalar(x_type_, static_cast<double>(pick(xlo, xhi)));
    std::vector<const Tensor*> in;
    const Node n = MakeConvNode(integer_, {group_, {sh_, sw_}, dil_, pads_},
                                {&x, &sx, &zx, &w, &sw, &zw, &sy, &zy, bias_ ? &bias : nullptr}, &in);
    const std::string what = Describe() + " zx=" + std::to_string(zx.GetInt(0)) + " zy=" + std::to_string(zy.GetInt(0));
    return CompareOnEveryPath(n, in, what + " seed=" + std::to_string(seed));
  }

 private:
  int64_t c_ = 3, m_ = 4, h_ = 7, w_ = 7, kh_ = 3, kw_ = 3, group_ = 1, sh_ = 1, sw_ = 1, dil_ = 1, batch_ = 1;
  std::array<int64_t, 4> pads_{0, 0, 0, 0};
  DType x_type_ = DType::kUInt8;
  bool per_channel_ = false, bias_ = true, extremes_ = false, integer_ = false, asymmetric_ = false, tiny_sy_ = false;
};

uint32_t Seed() { return ::testing::UnitTest::GetInstance()->random_seed(); }

TEST(KernelsConv, ChannelSweepEqualsReference) {
  std::mt19937 rng(Seed());
  int compared = 0;
  for (int64_t c = 1; c <= 67; c += (c < 8 ? 1 : 6)) {
    const int64_t m = 1 + static_cast<int64_t>(rng() % 20);
    compared += ConvTester().Channels(c, m).Image(5, 6).Pads(1, 1, 1, 1).Signed(c % 2 == 0).PerChannel(c % 3 == 0)
                    .Bias(c % 4 != 1).Test(rng, Seed());
    if (HasFailure()) return;
  }
  EXPECT_GT(compared, 0);
}

TEST(KernelsConv, GeometrySweepEqualsReference) {
  std::mt19937 rng(Seed());
  const uint32_t seed = Seed();
  std::vector<ConvTester> cases;
  cases.push_back(ConvTester().Channels(8, 12).Image(9, 8).Group(4).Stride(3, 3).Dilation(2).Pads(2, 2, 2, 2).Signed(true));
  cases.push_back(ConvTester().Channels(6, 4).Image(7, 7).Kernel(1, 1).Stride(2, 2));
  cases.push_back(ConvTester().Channels(5, 7).Image(11, 6).Kernel(3, 5).Stride(2, 1).Pads(0, 2, 1, 0).Batch(2));
  cases.push_back(ConvTester().Channels(4, 6).Image(6, 9).Kernel(2, 4).Stride(1, 3).Pads(1, 0, 0, 3).Signed(true).PerChannel(true));
  cases.push_back(ConvTester().Channels(6, 6).Image(8, 8).Group(3).Dilation(3).Pads(3, 3, 3, 3).Extremes(true));
  cases.push_back(ConvTester().Channels(16, 32).Image(4, 4).Kernel(3, 3).Pads(1, 1, 1, 1).Extremes(true).Signed(true));
  cases.push_back(ConvTester().Channels(3, 5).Image(10, 10).Kernel(7, 7).Stride(2, 2).Pads(3, 3, 3, 3).Bias(false));
  cases.push_back(ConvTester().Channels(12, 12).Image(7, 7).Group(12).Kernel(3, 3).Stride(2, 2).Pads(1, 1, 1, 1));  // depthwise
  cases.push_back(ConvTester().Channels(7, 14).Image(7, 7).Group(7).Kernel(3, 3).Pads(1, 1, 1, 1));  // multiplier 2
  cases.push_back(ConvTester().Channels(64, 64).Image(14, 14).Kernel(1, 1).Batch(2).PerChannel(true));  // large k
  // Stride-1 "same" outputs (taps are shifted planes): asymmetric pads, dilation, planes smaller
  // than the kernel, more positions than one panel, and int8 activations at the extremes.
  cases.push_back(ConvTester().Channels(5, 9).Image(6, 7).Kernel(2, 4).Pads(1, 1, 0, 2).Signed(true));
  cases.push_back(ConvTester().Channels(4, 3).Image(9, 8).Kernel(3, 3).Dilation(2).Pads(2, 1, 2, 3).Extremes(true));
  cases.push_back(ConvTester().Channels(3, 4).Image(1, 1).Kernel(3, 3).Pads(1, 1, 1, 1));
  cases.push_back(ConvTester().Channels(2, 3).Image(2, 1).Kernel(5, 5).Pads(2, 2, 2, 2).Signed(true).Extremes(true));
  cases.push_back(ConvTester().Channels(9, 17).Image(13, 11).Kernel(3, 3).Pads(1, 1, 1, 1).Signed(true).Extremes(true));
  // Depthwise 3×3 same-size planes of at most 256 pixels (the channels-last small-plane loop on
  // AVX-512): channel counts around its 32-channel blocks, asymmetric pads, 1×1 planes.
  cases.push_back(ConvTester().Channels(40, 40).Group(40).Image(7, 7).Pads(1, 1, 1, 1));
  cases.push_back(ConvTester().Channels(67, 67).Group(67).Image(14, 14).Pads(1, 1, 1, 1).Signed(true).Extremes(true));
  cases.push_back(ConvTester().Channels(33, 33).Group(33).Image(1, 1).Pads(1, 1, 1, 1).Signed(true));
  cases.push_back(ConvTester().Channels(20, 20).Group(20).Image(5, 9).Pads(2, 0, 0, 2).Batch(2));
  cases.push_back(ConvTester().Channels(16, 16).Group(16).Image(16, 16).Pads(1, 1, 1, 1).PerChannel(true).Extremes(true));
  cases.push_back(ConvTester().Channels(8, 8).Group(8).Image(3, 17).Pads(1, 1, 1, 1).Signed(true).Bias(false));
  // Many channels on a small plane: channels-last depthwise threads split channel blocks, not rows.
  cases.push_back(ConvTester().Channels(400, 400).Group(400).Image(7, 7).Pads(1, 1, 1, 1).PerChannel(true));
  // A zero point per output channel: per-row terms differ in every row of every tile (20 and 43
  // rows: tiles of 7/7/6 and 8·4 + 3·… rows, so a row offset from the wrong tile shows).
  cases.push_back(ConvTester().Channels(11, 20).Image(6, 7).Pads(1, 1, 1, 1).PerChannel(true).AsymmetricChannels(true));
  cases.push_back(ConvTester().Channels(24, 43).Image(5, 5).Kernel(1, 1).PerChannel(true).AsymmetricChannels(true)
                      .Signed(true).Extremes(true));
  for (const ConvTester& t : cases) {
    EXPECT_GT(t.Test(rng, seed), 0) << t.Describe();
    if (HasFailure()) return;
  }
}

// uint8 activations and symmetric weights: the channels-last form reads im2col rows in place
// (one run per kernel row, or per tap when dilated; rows touching the padding are built), where
// a run is a whole number of 4-byte k-quads.
TEST(KernelsConv, ChannelsLastInPlaceRunsEqualReference) {
  std::mt19937 rng(Seed());
  const uint32_t seed = Seed();
  std::vector<ConvTester> cases;
  // 24 and 40 channels: runs of 72 and 120 bytes, one 64-byte AMX tile step each and the rest
  // in zmm registers; 64: three whole steps.
  for (int64_t c : {4, 8, 12, 24, 40, 64}) {
    cases.push_back(ConvTester().Channels(c, 1 + c % 37).Image(9, 11).Pads(1, 1, 1, 1).PerChannel(true));
    cases.push_back(ConvTester().Channels(c, 20).Image(10, 9).Stride(2, 2).Pads(1, 0, 1, 1).PerChannel(true).Batch(2));
  }
  cases.push_back(ConvTester().Channels(4, 7).Image(12, 12).Kernel(5, 5).Pads(2, 2, 2, 2).PerChannel(true).Extremes(true));
  cases.push_back(ConvTester().Channels(8, 5).Image(11, 10).Dilation(2).Pads(2, 1, 2, 1).PerChannel(true));
  cases.push_back(ConvTester().Channels(68, 33).Image(7, 9).Dilation(2).Pads(2, 2, 2, 2).PerChannel(true));  // runs of one tap
  cases.push_back(ConvTester().Channels(2, 9).Image(8, 8).Kernel(2, 2).PerChannel(true));  // runs of 2·2 bytes
  cases.push_back(ConvTester().Channels(3, 9).Image(8, 8).Kernel(3, 3).PerChannel(true));  // 9-byte runs: built rows
  cases.push_back(ConvTester().Channels(16, 70).Image(20, 20).Pads(1, 1, 1, 1).PerChannel(true).Bias(false));
  // Same-width convolutions read in place as one flat run (conv_nhwc.cc ConvFlat): 64 channels
  // (whole tile steps, edge rows and columns of 16 rows and more, their last 16 again on tiles),
  // padding all on one side, none above, more below, a 1×3 and a 3×1 kernel, and an image too
  // short for any interior row (the padded plane instead).
  cases.push_back(ConvTester().Channels(64, 40).Image(23, 37).Pads(1, 1, 1, 1).PerChannel(true));
  cases.push_back(ConvTester().Channels(64, 33).Image(19, 21).Pads(0, 2, 2, 0).PerChannel(true).Extremes(true));
  cases.push_back(ConvTester().Channels(12, 9).Image(9, 18).Kernel(5, 5).Pads(0, 0, 4, 4).PerChannel(true));
  cases.push_back(ConvTester().Channels(8, 7).Image(7, 20).Kernel(1, 3).Pads(0, 1, 0, 1).PerChannel(true));
  cases.push_back(ConvTester().Channels(8, 7).Image(20, 7).Kernel(3, 1).Pads(1, 0, 1, 0).PerChannel(true));
  cases.push_back(ConvTester().Channels(16, 5).Image(2, 30).Pads(1, 1, 1, 1).PerChannel(true));
  // Stride-1 convolutions of another width read a padded plane (ConvPaddedPlane): at 64 channels
  // its wide rows take the pipelined AMX form, whose blocks start mid wide row (periods 16 and
  // 17 against blocks of 32; with 17, the block from row 288 starts on a padding column) and
  // whose output stage skips the padding columns.
  cases.push_back(ConvTester().Channels(64, 40).Image(12, 15).Pads(1, 0, 0, 1).PerChannel(true));
  cases.push_back(ConvTester().Channels(64, 64).Image(21, 17).PerChannel(true).Extremes(true));
  // Padding rows past the kernel (rows whose every tap is padding: bias only), so a band holds
  // more edge rows than the kernel has rows.
  cases.push_back(ConvTester().Channels(16, 9).Image(6, 20).Pads(4, 1, 3, 1).PerChannel(true));
  // Multipliers far above 1, in place (3×3) and pointwise (k = 64, past the short-k tiles).
  cases.push_back(ConvTester().Channels(8, 20).Image(9, 9).Pads(1, 1, 1, 1).PerChannel(true).TinyOutputScale(true));
  cases.push_back(ConvTester().Channels(64, 40).Image(6, 5).Kernel(1, 1).PerChannel(true).TinyOutputScale(true));
  // ... and on the AMX forms' other instances with the clamp: the flat run pipelined (64
  // channels; 16-row blocks in its edge pieces), the padded plane pipelined (64) and block by
  // block (32 channels: k = 288, a VNNI k rest, an 8-column last panel), and strided indirect
  // rows (40 channels: a 16-row group and a VNNI k rest).
  cases.push_back(ConvTester().Channels(64, 40).Image(9, 21).Pads(1, 1, 1, 1).PerChannel(true).TinyOutputScale(true));
  cases.push_back(ConvTester().Channels(64, 40).Image(12, 15).Pads(1, 0, 0, 1).PerChannel(true).TinyOutputScale(true));
  cases.push_back(ConvTester().Channels(32, 40).Image(12, 15).Pads(1, 0, 0, 1).PerChannel(true).TinyOutputScale(true));
  cases.push_back(ConvTester().Channels(40, 20).Image(10, 9).Stride(2, 2).Pads(1, 0, 1, 1).PerChannel(true)
                      .TinyOutputScale(true));
  // k = 2304 (256 channels, 3×3): the pipelined AMX forms take k in chunks that cross the
  // kernel rows' runs, in the flat run and in the padded plane's wide rows.
  cases.push_back(ConvTester().Channels(256, 33).Image(9, 21).Pads(1, 1, 1, 1).PerChannel(true));
  cases.push_back(ConvTester().Channels(256, 40).Image(12, 15).Pads(1, 0, 0, 1).PerChannel(true).Extremes(true));
  for (const ConvTester& t : cases) {
    EXPECT_GT(t.Test(rng, seed), 0) << t.Describe();
    if (HasFailure()) return;
  }
}

TEST(KernelsConv, ConvIntegerEqualsReference) {
  std::mt19937 rng(Seed());
  const uint32_t seed = Seed();
  std::vector<ConvTester> cases;
  cases.push_back(ConvTester().Integer(true).Channels(3, 8).Image(6, 6).Pads(1, 1, 1, 1));
  cases.push_back(ConvTester().Integer(true).Channels(9, 9).Group(9).Image(8, 7).Stride(2, 2).Pads(1, 1, 1, 1).PerChannel(true));
  cases.push_back(ConvTester().Integer(true).Channels(4, 4).Image(5, 5).Kernel(5, 5).Pads(2, 2, 2, 2).Extremes(true));
  cases.push_back(ConvTester().Integer(true).Channels(6, 4).Group(2).Image(9, 9).Dilation(2).Signed(true).PerChannel(true));
  for (const ConvTester& t : cases) {
    EXPECT_GT(t.Test(rng, seed), 0) << t.Describe();
    if (HasFailure()) return;
  }
}

}  // namespace
}  // namespace qfarm::kernels
