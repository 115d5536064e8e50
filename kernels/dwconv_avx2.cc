// The depthwise loops compiled with -mavx2 (VPMULLD/VPADDD on eight int32 lanes).
#include "kernels/dwconv_impl.h"

namespace qfarm::kernels {

void DepthwiseConvAvx2(const DwConvArgs& a) { DepthwiseConvImpl(a); }

}  // namespace qfarm::kernels
