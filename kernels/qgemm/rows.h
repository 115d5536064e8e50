// Calls f(std::integral_constant<int, R>{}) with R = mr (1..8), so a microkernel written as a
// template on its row count gets one unrolled instance per row count. Header-only: each ISA
// file instantiates it with its own lambda, under its own compile flags.
#pragma once

#include <type_traits>

namespace qfarm::kernels {

template <typename F>
inline void DispatchRows(int mr, F&& f) {
  switch (mr) {
    case 8: return f(std::integral_constant<int, 8>{});
    case 7: return f(std::integral_constant<int, 7>{});
    case 6: return f(std::integral_constant<int, 6>{});
    case 5: return f(std::integral_constant<int, 5>{});
    case 4: return f(std::integral_constant<int, 4>{});
    case 3: return f(std::integral_constant<int, 3>{});
    case 2: return f(std::integral_constant<int, 2>{});
    default: return f(std::integral_constant<int, 1>{});
  }
}

}  // namespace qfarm::kernels
