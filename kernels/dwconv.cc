#include "kernels/dwconv.h"

#include "kernels/dwconv_impl.h"
#include "kernels/parallel.h"

namespace qfarm::kernels {

#if defined(__x86_64__)
void DepthwiseConvAvx2(const DwConvArgs& a);    // dwconv_avx2.cc
void DepthwiseConvAvx512(const DwConvArgs& a);  // dwconv_avx512.cc
#endif

bool DwIsaAvailable(DwIsa isa) {
  switch (isa) {
    case DwIsa::kPortable: return true;
#if defined(__x86_64__)
    case DwIsa::kAvx2: return __builtin_cpu_supports("avx2");
    case DwIsa::kAvx512: return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
#endif
    default: return false;
  }
}

namespace {

DwIsa BestAvailable(DwIsa isa) {
  while (isa != DwIsa::kPortable && !DwIsaAvailable(isa)) isa = static_cast<DwIsa>(static_cast<int>(isa) - 1);
  return isa;
}

// Channels [begin, end) of `a` as a call of their own.
DwConvArgs Slice(const DwConvArgs& a, int64_t begin, int64_t end) {
  const ConvGeometry& g = *a.g;
  const int64_t in_plane = g.in[0] * g.in[1], out_plane = g.out[0] * g.out[1];
  const int64_t elem = a.x_signed ? sizeof(int8_t) : sizeof(uint8_t);
  DwConvArgs s = a;
  s.x = static_cast<const uint8_t*>(a.x) + begin * in_plane * elem;
  s.w = a.w + begin * g.kernel[0] * g.kernel[1];
  s.zw = a.zw ? a.zw + begin : nullptr;
  s.bias = a.bias ? a.bias + begin : nullptr;
  s.acc = a.acc + begin * out_plane;
  s.channels = end - begin;
  return s;
}

void RunOne([[maybe_unused]] DwIsa isa, const DwConvArgs& a) {
#if defined(__x86_64__)
  if (isa == DwIsa::kAvx512) return DepthwiseConvAvx512(a);
  if (isa == DwIsa::kAvx2) return DepthwiseConvAvx2(a);
#endif
  DepthwiseConvImpl(a);
}

}  // namespace

void DepthwiseConv(const DwConvArgs& a) {
  const DwIsa isa = BestAvailable(a.isa);
  // Enough planes per thread that starting it pays off (~64k MACs).
  const ConvGeometry& g = *a.g;
  const int64_t macs_per_plane = std::max<int64_t>(1, g.out[0] * g.out[1] * g.kernel[0] * g.kernel[1]);
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 16) / macs_per_plane);
  ParallelFor(a.channels, a.threads, grain, [&](int64_t begin, int64_t end) { RunOne(isa, Slice(a, begin, end)); });
}

}  // namespace qfarm::kernels
