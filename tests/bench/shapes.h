// Layer shapes of real models for the kernel benchmarks (NCHW for ours, NHWC for the peers).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace qfarm::bench {

struct LayerShape {
  std::string name;
  bool gemm = false;  // transformer GEMM: m × k → n
  int64_t h = 1, w = 1, cin = 0, cout = 0, kernel = 1, stride = 1, pad = 0, group = 1;
  int64_t m = 0, k = 0, n = 0;
  int64_t OutH() const { return (h + 2 * pad - kernel) / stride + 1; }
  int64_t OutW() const { return (w + 2 * pad - kernel) / stride + 1; }
  double Macs() const {
    if (gemm) return static_cast<double>(m * k * n);
    return static_cast<double>(OutH() * OutW() * cout * (cin / group) * kernel * kernel);
  }
};

inline std::vector<LayerShape> BenchShapes() {
  auto pw = [](std::string n, int64_t hw, int64_t ci, int64_t co) {
    return LayerShape{std::move(n), false, hw, hw, ci, co, 1, 1, 0, 1};
  };
  auto dw = [](std::string n, int64_t hw, int64_t c, int64_t stride) {
    return LayerShape{std::move(n), false, hw, hw, c, c, 3, stride, 1, c};
  };
  std::vector<LayerShape> s = {
      pw("mbv2_pw_112_32x16", 112, 32, 16),   dw("mbv2_dw_112_32", 112, 32, 1),
      pw("mbv2_pw_56_24x144", 56, 24, 144),   dw("mbv2_dw_56_144", 56, 144, 1),
      pw("mbv2_pw_28_32x192", 28, 32, 192),   dw("mbv2_dw_28_192", 28, 192, 1),
      pw("mbv2_pw_14_384x64", 14, 384, 64),   pw("mbv2_pw_14_576x96", 14, 576, 96),
      dw("mbv2_dw_14_576", 14, 576, 1),       pw("mbv2_pw_7_960x160", 7, 960, 160),
      pw("mbv2_pw_7_960x320", 7, 960, 320),   dw("mbv2_dw_7_960", 7, 960, 1),
      LayerShape{"resnet50_3x3_56_64x64", false, 56, 56, 64, 64, 3, 1, 1, 1},
  };
  s.push_back(LayerShape{"gemm_1x768x3072", true, 1, 1, 0, 0, 1, 1, 0, 1, 1, 768, 3072});
  s.push_back(LayerShape{"gemm_128x768x768", true, 1, 1, 0, 0, 1, 1, 0, 1, 128, 768, 768});
  // BERT-base's feed-forward pair around it, 128 tokens: 768→3072 (B 2.4 MB, past one core's L2)
  // and 3072→768 (k past 2048, which the streamed form takes in chunks).
  s.push_back(LayerShape{"gemm_128x768x3072", true, 1, 1, 0, 0, 1, 1, 0, 1, 128, 768, 3072});
  s.push_back(LayerShape{"gemm_128x3072x768", true, 1, 1, 0, 0, 1, 1, 0, 1, 128, 3072, 768});
  return s;
}

}  // namespace qfarm::bench
