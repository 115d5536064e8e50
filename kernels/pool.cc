// QLinearAveragePool / QLinearGlobalAveragePool (kernels/add_pool.h), one channel plane at a
// time. Per output the taps are visited in reference/ops/pool.cc's order (kernel row, then
// column, ascending, skipping taps outside the image), so even the float sums, whose result
// depends on the order, are the reference's bit for bit. For each tap the output columns whose
// input column is inside the image form one contiguous range: no bounds checks inside.
#include <cmath>

#include "kernels/add_pool.h"
#include "kernels/add_pool_common.h"
#include "kernels/parallel.h"
#include "model/conv_geometry.h"
#include "reference/arith.h"
#include "reference/ops.h"

namespace qfarm::kernels {
namespace {

Status NotCovered() { return NotFound("not covered by the kernels"); }

int64_t CeilDiv(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }
int64_t FloorDiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// Per output position: the divisor (taps inside the image, plus padding taps when
// count_include_pad), exactly as the reference counts them, and the taps inside the image.
struct Counts {
  std::vector<int64_t> divisor, inside;
};
Counts WindowCounts(const ConvGeometry& g, bool include_pad) {
  Counts counts;
  counts.divisor.assign(static_cast<size_t>(g.out[0] * g.out[1]), 0);
  counts.inside = counts.divisor;
  for (int64_t oy = 0; oy < g.out[0]; ++oy)
    for (int64_t ox = 0; ox < g.out[1]; ++ox)
      for (int64_t ky = 0; ky < g.kernel[0]; ++ky)
        for (int64_t kx = 0; kx < g.kernel[1]; ++kx) {
          const int64_t iy = oy * g.stride[0] - g.pad_begin[0] + ky * g.dilation[0];
          const int64_t ix = ox * g.stride[1] - g.pad_begin[1] + kx * g.dilation[1];
          const bool in_image = iy >= 0 && iy < g.in[0] && ix >= 0 && ix < g.in[1];
          const bool in_padded = iy >= -g.pad_begin[0] && iy < g.in[0] + g.pad_end[0] &&
                                 ix >= -g.pad_begin[1] && ix < g.in[1] + g.pad_end[1];
          const size_t o = static_cast<size_t>(oy * g.out[1] + ox);
          if (in_image || (include_pad && in_padded)) ++counts.divisor[o];
          if (in_image) ++counts.inside[o];
        }
  return counts;
}

// sums[oy·OW + ox] = Σ term(x) over the window's in-image taps, in tap order.
template <typename Acc, typename T, typename Term>
void PlaneSums(const ConvGeometry& g, const T* x, Acc* sums, Term term) {
  const int64_t s0 = g.stride[0], s1 = g.stride[1], d0 = g.dilation[0], d1 = g.dilation[1];
  for (int64_t oy = 0; oy < g.out[0]; ++oy) {
    Acc* row = sums + oy * g.out[1];
    for (int64_t ox = 0; ox < g.out[1]; ++ox) row[ox] = Acc{0};
    for (int64_t ky = 0; ky < g.kernel[0]; ++ky) {
      const int64_t iy = oy * s0 - g.pad_begin[0] + ky * d0;
      if (iy < 0 || iy >= g.in[0]) continue;
      const T* xr = x + iy * g.in[1];
      for (int64_t kx = 0; kx < g.kernel[1]; ++kx) {
        const int64_t shift = kx * d1 - g.pad_begin[1];  // ix = ox·s1 + shift
        const int64_t lo = std::max<int64_t>(0, CeilDiv(-shift, s1));
        const int64_t hi = std::min<int64_t>(g.out[1], FloorDiv(g.in[1] - 1 - shift, s1) + 1);
        for (int64_t ox = lo; ox < hi; ++ox) row[ox] += term(xr[ox * s1 + shift]);
      }
    }
  }
}

struct PoolJob {
  const ConvGeometry* g;
  Counts counts;
  QuantPair qx, qy;
  const Profile* p;
  int64_t planes;
  bool global;
};

// One output from its window sums (float, double, integer: whichever the scheme uses), as
// reference/ops/pool.cc's AverageOf computes it, saturated to the output type.
struct Averager {
  const PoolJob& job;
  DType yt;
  int64_t lo, hi;
  std::vector<RequantParams> by_count;  // integer schemes: one multiplier per divisor

  Averager(const PoolJob& j, DType t) : job(j), yt(t), lo(DTypeMin(t)), hi(DTypeMax(t)) {
    const Profile& p = *job.p;
    if (p.requant == Requant::kFloat32 || p.requant == Requant::kFloat64 || TflitePool()) return;
    const int64_t max_count = job.g->kernel[0] * job.g->kernel[1];
    by_count.resize(static_cast<size_t>(max_count + 1));
    for (int64_t c = 1; c <= max_count; ++c) {
      by_count[static_cast<size_t>(c)] = MakeRequantParamsFromMultiplier(
          p, double{job.qx.scale} / (double{job.qy.scale} * static_cast<double>(c)));
    }
  }
  bool TflitePool() const { return job.qx.scale == job.qy.scale && job.qx.zero == job.qy.zero; }
  bool FloatSum() const { return job.p->requant == Requant::kFloat32 && !job.global; }

  int64_t Output(size_t o, float fsum, int64_t isum) const {
    const Profile& p = *job.p;
    const int64_t count = job.counts.divisor[o];
    const float sx = job.qx.scale, sy = job.qy.scale;
    const int32_t zx = job.qx.zero, zy = job.qy.zero;
    if (count == 0) return FinishOutput(0, zy, yt, lo, hi);
    if (FloatSum()) {  // ONNX Runtime qlinear_pool.cc
      const float v = fsum / static_cast<float>(count) / sy + static_cast<float>(zy);
      return FinishOutput(RoundToInt(static_cast<double>(v), p.rounding), 0, yt, lo, hi);
    }
    if (p.requant == Requant::kFloat32) {  // MLAS QLinearGlobalAveragePool
      const float scale = sx / static_cast<float>(count) / sy;
      const float v = static_cast<float>(isum) * scale;
      return FinishOutput(RoundToInt(static_cast<double>(v), p.rounding), zy, yt, lo, hi);
    }
    if (p.requant == Requant::kFloat64) {
      const double m = double{sx} / (double{sy} * static_cast<double>(count));
      return FinishOutput(RoundToInt(static_cast<double>(isum) * m, p.rounding), zy, yt, lo, hi);
    }
    if (TflitePool()) {  // raw sum, padding taps count as zx
      const int64_t raw = isum + zx * job.counts.inside[o] + zx * (count - job.counts.inside[o]);
      return FinishOutput(RoundingDivide(raw, count, p.rounding), 0, yt, lo, hi);
    }
    return FinishOutput(Requantize(p, by_count[static_cast<size_t>(count)], isum), zy, yt, lo, hi);
  }
};

template <typename T, typename TY>
void PoolTyped(const PoolJob& job, const T* x, TY* y, DType yt, int threads) {
  const ConvGeometry& g = *job.g;
  const int64_t in_plane = g.in[0] * g.in[1], out_plane = g.out[0] * g.out[1];
  const Averager avg(job, yt);
  const float sx = job.qx.scale;
  const int32_t zx = job.qx.zero;
  ParallelFor(job.planes, threads, 1, [&](int64_t c0, int64_t c1) {
    std::vector<float> fs(static_cast<size_t>(out_plane), 0.0f);
    std::vector<int64_t> is(static_cast<size_t>(out_plane), 0);
    for (int64_t c = c0; c < c1; ++c) {
      const T* xp = x + c * in_plane;
      TY* yp = y + c * out_plane;
      if (avg.FloatSum()) {
        PlaneSums(g, xp, fs.data(), [=](T v) { return sx * static_cast<float>(int32_t{v} - zx); });
      } else {  // Σ(x − zx), exact
        PlaneSums(g, xp, is.data(), [=](T v) { return int64_t{v} - zx; });
      }
      for (int64_t o = 0; o < out_plane; ++o) {
        yp[o] = static_cast<TY>(avg.Output(static_cast<size_t>(o), fs[static_cast<size_t>(o)], is[static_cast<size_t>(o)]));
      }
    }
  });
}

// Global pooling of channels-last images ([N, H·W, C] elements): Σ(x − zx) per channel over the
// positions — integer sums, so their order cannot change them — then the same Output.
template <typename T, typename TY>
void GlobalChannelsLast(const PoolJob& job, const T* x, TY* y, DType yt, int64_t batch, int64_t channels) {
  const Averager avg(job, yt);
  const int64_t positions = job.g->in[0] * job.g->in[1];
  const int32_t zx = job.qx.zero;
  std::vector<int64_t> sums(static_cast<size_t>(channels));
  for (int64_t n = 0; n < batch; ++n) {
    std::fill(sums.begin(), sums.end(), int64_t{0});
    for (int64_t p = 0; p < positions; ++p) {
      const T* xp = x + (n * positions + p) * channels;
      for (int64_t c = 0; c < channels; ++c) sums[static_cast<size_t>(c)] += int64_t{xp[c]} - zx;
    }
    for (int64_t c = 0; c < channels; ++c) y[n * channels + c] = static_cast<TY>(avg.Output(0, 0.0f, sums[static_cast<size_t>(c)]));
  }
}

template <typename T>
void PoolOutType(const PoolJob& job, const Tensor& x, Tensor& y, bool channels_last, int threads) {
  if (channels_last) {
    if (y.dtype() == DType::kInt8) {
      return GlobalChannelsLast(job, x.data<T>().data(), y.data<int8_t>().data(), y.dtype(), x.dim(0), x.dim(1));
    }
    return GlobalChannelsLast(job, x.data<T>().data(), y.data<uint8_t>().data(), y.dtype(), x.dim(0), x.dim(1));
  }
  if (y.dtype() == DType::kInt8) return PoolTyped(job, x.data<T>().data(), y.data<int8_t>().data(), y.dtype(), threads);
  PoolTyped(job, x.data<T>().data(), y.data<uint8_t>().data(), y.dtype(), threads);
}

}  // namespace

StatusOr<std::vector<Tensor>> KernelQLinearAveragePool(const Node& node, const Profile& p,
                                                       const std::vector<const Tensor*>& in,
                                                       bool global, int threads, bool channels_last) {
  if (in.size() < 4 || !in[0] || in[0]->rank() != 4 || !Is8Bit(in[0]->dtype())) return NotCovered();
  if (channels_last && !global) return NotCovered();
  if (global && node.AttrInt("channels_last", 0) != 0) return NotCovered();
  const Tensor& x = *in[0];
  QFARM_ASSIGN_OR_RETURN(std::vector<Tensor> out, AllocateOutputs(node, in));
  if (out.size() != 1 || !Is8Bit(out[0].dtype())) return NotCovered();
  const auto qx = ReadPerTensor(in[1], in[2], x.dtype());
  const auto qy = ReadPerTensor(in[3], in.size() > 4 ? in[4] : nullptr, out[0].dtype());
  if (!qx || !qy) return NotCovered();
  ConvGeometry g;
  if (global) {
    g.in = {x.dim(2), x.dim(3)};
    g.kernel = g.in;
  } else {
    auto r = ResolveConvGeometry(node, x.shape(), node.AttrInts("kernel_shape"), true);
    if (!r.ok()) return NotCovered();  // the reference reports the attribute
    g = *r;
  }
  if (out[0].numel() != x.dim(0) * x.dim(1) * g.out[0] * g.out[1]) return NotCovered();
  // Integer sums must be exact within the profile's accumulator: ≤ 2^23 taps of |x − zx| ≤ 255.
  if (p.acc_bits < 32 || g.kernel[0] * g.kernel[1] > (int64_t{1} << 23)) return NotCovered();
  PoolJob job{&g, WindowCounts(g, node.AttrInt("count_include_pad", 0) != 0), *qx, *qy, &p,
              x.dim(0) * x.dim(1), global};
  if (x.dtype() == DType::kInt8) PoolOutType<int8_t>(job, x, out[0], channels_last, threads);
  else PoolOutType<uint8_t>(job, x, out[0], channels_last, threads);
  return out;
}

}  // namespace qfarm::kernels
