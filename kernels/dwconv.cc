#include "kernels/dwconv.h"

#include "kernels/dwconv_impl.h"

namespace qfarm::kernels {

#if defined(__x86_64__)
void DepthwiseConvAvx2(const DwConvArgs& a);  // dwconv_avx2.cc
#endif

void DepthwiseConv(const DwConvArgs& a) {
#if defined(__x86_64__)
  if (a.avx2) return DepthwiseConvAvx2(a);
#endif
  DepthwiseConvImpl(a);
}

}  // namespace qfarm::kernels
