#include "kernels/dwconv.h"

namespace qfarm::kernels {
namespace {

// One channel plane; K is the kernel size (0: any, read from the geometry).
template <int K, typename T>
void Plane(const ConvGeometry& g, const T* x, int32_t zx, const int8_t* w, int32_t zw, int32_t bias, int32_t* out) {
  const int64_t kh = K ? K : g.kernel[0], kw = K ? K : g.kernel[1];
  for (int64_t oy = 0; oy < g.out[0]; ++oy) {
    for (int64_t ox = 0; ox < g.out[1]; ++ox) {
      uint32_t acc = static_cast<uint32_t>(bias);
      for (int64_t ky = 0; ky < kh; ++ky) {
        const int64_t iy = oy * g.stride[0] - g.pad_begin[0] + ky * g.dilation[0];
        if (iy < 0 || iy >= g.in[0]) continue;  // padding taps contribute (zx − zx)·w = 0
        for (int64_t kx = 0; kx < kw; ++kx) {
          const int64_t ix = ox * g.stride[1] - g.pad_begin[1] + kx * g.dilation[1];
          if (ix < 0 || ix >= g.in[1]) continue;
          const int32_t xv = static_cast<int32_t>(x[iy * g.in[1] + ix]) - zx;
          acc += static_cast<uint32_t>(xv * (int32_t{w[ky * kw + kx]} - zw));
        }
      }
      out[oy * g.out[1] + ox] = static_cast<int32_t>(acc);
    }
  }
}

template <typename T>
void AllPlanes(const DwConvArgs& a) {
  const ConvGeometry& g = *a.g;
  const int64_t in_plane = g.in[0] * g.in[1], out_plane = g.out[0] * g.out[1];
  const int64_t taps = g.kernel[0] * g.kernel[1];
  const T* x = static_cast<const T*>(a.x);
  for (int64_t c = 0; c < a.channels; ++c) {
    const int32_t zw = a.zw ? a.zw[c] : 0, bias = a.bias ? a.bias[c] : 0;
    const int8_t* w = a.w + c * taps;
    int32_t* out = a.acc + c * out_plane;
    const T* plane = x + c * in_plane;
    if (g.kernel[0] == 3 && g.kernel[1] == 3) Plane<3>(g, plane, a.zx, w, zw, bias, out);
    else if (g.kernel[0] == 5 && g.kernel[1] == 5) Plane<5>(g, plane, a.zx, w, zw, bias, out);
    else Plane<0>(g, plane, a.zx, w, zw, bias, out);
  }
}

}  // namespace

void DepthwiseConv(const DwConvArgs& a) {
  if (a.x_signed) AllPlanes<int8_t>(a); else AllPlanes<uint8_t>(a);
}

}  // namespace qfarm::kernels
