#include "kernels/layout.h"

#include <cstdint>

#if defined(__SSE2__)
#include "kernels/transpose_sse2.h"
#endif

#include <algorithm>
#include <cstddef>

namespace qfarm::kernels {
namespace {

// dst[n][j][i] = src[n][i][j] for [batch, a, b] elements of ES bytes, in cache-sized tiles.
template <size_t ES>
void Transpose(const std::byte* src, std::byte* dst, int64_t batch, int64_t a, int64_t b) {
  struct Elem { std::byte v[ES]; };
  constexpr int64_t kBlock = 32;
  for (int64_t n = 0; n < batch; ++n) {
    const Elem* s = reinterpret_cast<const Elem*>(src) + n * a * b;
    Elem* d = reinterpret_cast<Elem*>(dst) + n * a * b;
    for (int64_t i0 = 0; i0 < a; i0 += kBlock) {
      for (int64_t j0 = 0; j0 < b; j0 += kBlock) {
        const int64_t i1 = std::min(a, i0 + kBlock), j1 = std::min(b, j0 + kBlock);
        for (int64_t i = i0; i < i1; ++i) {
          for (int64_t j = j0; j < j1; ++j) d[j * a + i] = s[i * b + j];
        }
      }
    }
  }
}

#if defined(__SSE2__)
// The byte case in 16×16 tiles through the SSE2 unpack network (~10× the element loop); the
// ragged edges element by element.
void TransposeBytes(const std::byte* src, std::byte* dst, int64_t batch, int64_t a, int64_t b) {
  const int64_t a16 = a / 16 * 16, b16 = b / 16 * 16;
  for (int64_t n = 0; n < batch; ++n) {
    const uint8_t* s = reinterpret_cast<const uint8_t*>(src) + n * a * b;
    uint8_t* d = reinterpret_cast<uint8_t*>(dst) + n * a * b;
    for (int64_t i0 = 0; i0 < a16; i0 += 16) {
      for (int64_t j0 = 0; j0 < b16; j0 += 16) {
        __m128i r[16];
        for (int i = 0; i < 16; ++i) r[i] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + (i0 + i) * b + j0));
        Transpose16x16Bytes(r);
        for (int i = 0; i < 16; ++i) {
          _mm_storeu_si128(reinterpret_cast<__m128i*>(d + (j0 + kBitReverse4[i]) * a + i0), r[i]);
        }
      }
    }
    for (int64_t i = 0; i < a16; ++i) {  // columns past b16
      for (int64_t j = b16; j < b; ++j) d[j * a + i] = s[i * b + j];
    }
    for (int64_t j = 0; j < b; ++j) {  // rows past a16 (all of them for fewer than 16: 3-channel images)
      for (int64_t i = a16; i < a; ++i) d[j * a + i] = s[i * b + j];
    }
  }
}
#endif

// Copies `t` with [N, A, B] viewed as [N, B, A].
Tensor Permute(const Tensor& t, int64_t a, int64_t b) {
  Tensor out = Tensor::Uninitialized(t.dtype(), t.shape());
  const int64_t batch = a * b == 0 ? 0 : t.numel() / (a * b);
  const std::byte* src = t.bytes().data();
  std::byte* dst = out.mutable_bytes().data();
  switch (DTypeSize(t.dtype())) {
#if defined(__SSE2__)
    case 1: TransposeBytes(src, dst, batch, a, b); break;
#else
    case 1: Transpose<1>(src, dst, batch, a, b); break;
#endif
    case 2: Transpose<2>(src, dst, batch, a, b); break;
    case 4: Transpose<4>(src, dst, batch, a, b); break;
    default: Transpose<8>(src, dst, batch, a, b); break;
  }
  return out;
}

int64_t Spatial(const Tensor& t) {
  int64_t s = 1;
  for (size_t i = 2; i < t.rank(); ++i) s *= t.dim(i);
  return s;
}

}  // namespace

Tensor ToChannelsLast(const Tensor& t) {
  if (t.rank() <= 2) return t;
  return Permute(t, t.dim(1), Spatial(t));
}

Tensor ToChannelsFirst(const Tensor& t) {
  if (t.rank() <= 2) return t;
  return Permute(t, Spatial(t), t.dim(1));
}

}  // namespace qfarm::kernels
