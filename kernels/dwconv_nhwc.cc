// The portable channels-last depthwise loops and the dispatch (kernels/dwconv_nhwc.h).
#include "kernels/dwconv_nhwc.h"

#include <algorithm>
#include <vector>

#include "kernels/parallel.h"
#include "kernels/vector_clones.h"

namespace qfarm::kernels {

#if defined(__x86_64__)
bool DepthwiseNhwcAvx512Covers(const DwNhwcArgs& a);  // dwconv_nhwc_avx512.cc
void DepthwiseNhwcAvx512(const DwNhwcArgs& a);        // dwconv_nhwc_avx512.cc
void FillDwNhwcWeightsAvx512(const int8_t* w, int64_t channels, int k, DwNhwcWeights* out);  // dwconv_nhwc_avx512.cc
#endif

DwNhwcWeights PrepareDwNhwcWeights(const int8_t* w, int64_t channels, int64_t kh, int64_t kw, DwIsa isa) {
  DwNhwcWeights out;
#if defined(__x86_64__)
  if (isa == DwIsa::kAvx512 && DwSmallAvailable() && kh == kw && (kh == 3 || kh == 5) && channels > 0) {
    FillDwNhwcWeightsAvx512(w, channels, static_cast<int>(kh), &out);
  }
#else
  (void)w, (void)channels, (void)kh, (void)kw, (void)isa;
#endif
  return out;
}

// Output rows per thread range: enough that starting a thread pays off (~64k MACs).
int64_t DwNhwcRowGrain(const DwNhwcArgs& a) {
  const ConvGeometry& g = *a.g;
  const int64_t macs_per_row = std::max<int64_t>(1, g.out[1] * a.channels * g.kernel[0] * g.kernel[1]);
  return std::max<int64_t>(1, (int64_t{1} << 16) / macs_per_row);
}

namespace {

// int8 inputs are moved to the uint8 domain (x ^ 0x80 = x + 128, zx + 128): x − zx is
// unchanged, and one loop serves both types.
constexpr int64_t kMaxChannels = 256;    // channels per accumulator block
constexpr int64_t kBlockSums = 4096;     // int32 sums per block (16 KiB, stays in L1)

// out[c] += (x[c] ^ flip − zx)·w[c] over one tap's contiguous channels. uint32 sums wrap
// exactly like int32 two's complement without UB; the product (≤ 255·255) is exact.
QFARM_VECTOR_CLONES void AddTap(const uint8_t* x, uint8_t flip, int32_t zx, const int16_t* w, int64_t n, uint32_t* out) {
  for (int64_t c = 0; c < n; ++c) out[c] += static_cast<uint32_t>((int32_t{static_cast<uint8_t>(x[c] ^ flip)} - zx) * w[c]);
}

struct Portable {
  const DwNhwcArgs& a;
  std::vector<int16_t> wt;  // [tap][C]: w − zw, in [−255, 255]
  uint8_t flip;
  int32_t zx;               // in the uint8 domain

  explicit Portable(const DwNhwcArgs& args) : a(args), flip(args.x_signed ? 0x80 : 0), zx(args.zx + (args.x_signed ? 128 : 0)) {
    const int64_t taps = a.g->kernel[0] * a.g->kernel[1], C = a.channels;
    wt.resize(static_cast<size_t>(taps * C));
    for (int64_t c = 0; c < C; ++c) {
      const int32_t zw = a.zw ? a.zw[c] : 0;
      for (int64_t t = 0; t < taps; ++t) wt[static_cast<size_t>(t * C + c)] = static_cast<int16_t>(a.w[c * taps + t] - zw);
    }
  }

  // Sums of output pixels (oy, ox0 .. ox0 + n) for channels [c0, c0 + nc) into acc[pixel][nc];
  // taps outside the image are skipped (they would add (zx − zx)·w = 0).
  void Sums(int64_t oy, int64_t ox0, int64_t n, int64_t c0, int64_t nc, uint32_t* acc) const {
    const ConvGeometry& g = *a.g;
    const int64_t C = a.channels, kh = g.kernel[0], kw = g.kernel[1];
    const uint8_t* x = static_cast<const uint8_t*>(a.x);
    for (int64_t p = 0; p < n; ++p) {
      uint32_t* out = acc + p * nc;
      for (int64_t c = 0; c < nc; ++c) out[c] = a.bias ? static_cast<uint32_t>(a.bias[c0 + c]) : 0;
      for (int64_t ky = 0; ky < kh; ++ky) {
        const int64_t iy = oy * g.stride[0] - g.pad_begin[0] + ky * g.dilation[0];
        if (iy < 0 || iy >= g.in[0]) continue;
        for (int64_t kx = 0; kx < kw; ++kx) {
          const int64_t ix = (ox0 + p) * g.stride[1] - g.pad_begin[1] + kx * g.dilation[1];
          if (ix < 0 || ix >= g.in[1]) continue;
          AddTap(x + (iy * g.in[1] + ix) * C + c0, flip, zx, wt.data() + (ky * kw + kx) * C + c0, nc, out);
        }
      }
    }
  }

  void Rows(int64_t oy0, int64_t oy1) const {
    const ConvGeometry& g = *a.g;
    const int64_t C = a.channels, OW = g.out[1];
    const int64_t nc_max = std::min(C, kMaxChannels), pixels = std::max<int64_t>(1, kBlockSums / nc_max);
    std::vector<uint32_t> acc(static_cast<size_t>(pixels * nc_max));
    for (int64_t oy = oy0; oy < oy1; ++oy) {
      for (int64_t c0 = 0; c0 < C; c0 += nc_max) {
        const int64_t nc = std::min(nc_max, C - c0);
        for (int64_t ox0 = 0; ox0 < OW; ox0 += pixels) {
          const int64_t n = std::min(pixels, OW - ox0);
          Sums(oy, ox0, n, c0, nc, acc.data());
          // Rows of the block are output pixels, columns channels (as in MatMul's tiles).
          const AccBlock b{reinterpret_cast<const int32_t*>(acc.data()), n, nc, c0, a.offset + (oy * OW + ox0) * C + c0,
                           C, 1, false, nc};
          a.rq ? a.rq->Run(b, *a.y) : StoreBlock(b, *a.y);
        }
      }
    }
  }
};

}  // namespace

void DepthwiseNhwc(const DwNhwcArgs& a) {
  if (a.channels <= 0 || a.g->out[0] <= 0 || a.g->out[1] <= 0) return;
#if defined(__x86_64__)
  if (a.isa == DwIsa::kAvx512 && DepthwiseNhwcAvx512Covers(a)) return DepthwiseNhwcAvx512(a);
#endif
  const Portable p(a);
  ParallelFor(a.g->out[0], a.threads, DwNhwcRowGrain(a), [&](int64_t begin, int64_t end) { p.Rows(begin, end); });
}

}  // namespace qfarm::kernels
