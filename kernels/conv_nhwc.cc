#include "kernels/conv_nhwc.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <vector>

#include "kernels/parallel.h"

namespace qfarm::kernels {
namespace {

bool IsPointwise(const ConvGeometry& g) {
  return g.kernel[0] == 1 && g.kernel[1] == 1 && g.stride[0] == 1 && g.stride[1] == 1 && g.out[0] == g.in[0] &&
         g.out[1] == g.in[1];
}

// One im2col row: output position (oy, ox), taps in (ky, kx) order, each tap cin bytes of x
// (zx's byte where the tap falls in the padding).
void FillRow(const ConvGeometry& g, const uint8_t* x, int64_t cin, uint8_t pad, int64_t oy, int64_t ox,
             uint8_t* dst) {
  const int64_t H = g.in[0], W = g.in[1], kh = g.kernel[0], kw = g.kernel[1];
  const int64_t iy0 = oy * g.stride[0] - g.pad_begin[0], ix0 = ox * g.stride[1] - g.pad_begin[1];
  for (int64_t ky = 0; ky < kh; ++ky) {
    const int64_t iy = iy0 + ky * g.dilation[0];
    if (iy < 0 || iy >= H) {
      std::memset(dst, pad, static_cast<size_t>(kw * cin));
      dst += kw * cin;
      continue;
    }
    const uint8_t* row = x + iy * W * cin;
    if (g.dilation[1] == 1) {  // adjacent pixels: padding taps, then one run of pixels, then padding
      const int64_t lo = std::clamp<int64_t>(-ix0, 0, kw), hi = std::clamp<int64_t>(W - ix0, lo, kw);
      if (lo > 0) std::memset(dst, pad, static_cast<size_t>(lo * cin));
      if (hi > lo) std::memcpy(dst + lo * cin, row + (ix0 + lo) * cin, static_cast<size_t>((hi - lo) * cin));
      if (hi < kw) std::memset(dst + hi * cin, pad, static_cast<size_t>((kw - hi) * cin));
      dst += kw * cin;
      continue;
    }
    for (int64_t kx = 0; kx < kw; ++kx, dst += cin) {
      const int64_t ix = ix0 + kx * g.dilation[1];
      if (ix < 0 || ix >= W) {
        std::memset(dst, pad, static_cast<size_t>(cin));
      } else {
        std::memcpy(dst, row + ix * cin, static_cast<size_t>(cin));
      }
    }
  }
}

// Rows [p0, p0 + rows) of im2col in the microkernels' A form (GemmProblem::a_packed): each row
// gathered, then offset, zero-padded and summed in place by the driver's own PackARow.
void FillRows(const ConvGeometry& g, const uint8_t* x, int64_t cin, bool x_signed, int32_t zx, int64_t p0,
              int64_t rows, int64_t k, int64_t lda, uint8_t* a, int32_t* row_sum) {
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t p = p0 + r;
    uint8_t* dst = a + r * lda;
    FillRow(g, x, cin, static_cast<uint8_t>(zx), p / g.out[1], p % g.out[1], dst);
    row_sum[r] = PackARow(dst, x_signed, k, lda, dst);
  }
}

// The GEMM of one image; A is the input itself (pointwise) or made a row tile at a time.
void Multiply(const ConvNhwcArgs& a, const GemmProblem& rows) {
  const int64_t m = a.w->n;
  Tensor& y = *a.y;
  const TileSink sink = [&](const CTile& t) {
    const AccBlock b{t.data, t.rows, t.cols, t.n0, a.offset + t.m0 * m + t.n0, m, 1, false, t.ld};
    a.rq ? a.rq->Run(b, y) : StoreBlock(b, y);
  };
  const bool fusable = a.rq && a.rq->Fusable(y.dtype());
  const FusedRequant fused{fusable ? a.rq->multipliers() : nullptr, a.rq ? a.rq->zero_point() : 0,
                           y.dtype() == DType::kInt8,
                           reinterpret_cast<uint8_t*>(y.mutable_bytes().data()) + a.offset, m,
                           fusable && a.rq->MultipliersBelowOne()};
  GemmProblem prob = rows;
  prob.m = a.g->out[0] * a.g->out[1];
  prob.a_signed = a.x_signed;
  prob.a_zero = a.zx;
  prob.b = a.w;
  prob.b_zero = a.zw;
  prob.bias = a.bias;
  prob.sink = &sink;
  if (fusable) prob.fused = &fused;
  QGemm(*a.kernel, prob, a.threads);
}

}  // namespace

PackedWeights PackConvWeightsNhwc(const int8_t* w, int64_t m, int64_t cin, int64_t kh, int64_t kw, int nr) {
  const int64_t taps = kh * kw;
  return PackWeights(taps * cin, m, nr, [&](int64_t k, int64_t o) {
    const int64_t tap = k / cin, c = k % cin;
    return w[(o * cin + c) * taps + tap];
  });
}

// The output coordinates along dimension d whose taps all lie inside the image: [lo, hi]
// (empty when hi < lo). A tap's input coordinate is o·stride − pad + t·dilation, t < kernel.
struct Interior {
  int64_t lo, hi;
  bool Contains(int64_t o) const { return o >= lo && o <= hi; }
};
Interior InteriorOf(const ConvGeometry& g, int d) {
  const int64_t s = g.stride[d], p = g.pad_begin[d], last = g.in[d] - 1 - (g.kernel[d] - 1) * g.dilation[d] + p;
  return {(p + s - 1) / s, last < 0 ? -1 : std::min(g.out[d] - 1, last / s)};
}

// The layout of InPlaceRuns' runs, fixed per call of ConvNhwc.
struct RunsLayout {
  const ConvNhwcArgs* a;
  int64_t run, k;  // bytes per run, per row
  int segments;
  std::vector<int64_t> offset;  // run s relative to the window's first tap
  Interior ys, xs;
  std::vector<int64_t> ky;      // run s's kernel row
  std::vector<uint8_t> pad;     // one run of the zero point's byte
};

// Rows [m0, m0 + rows) of im2col as run pointers into ptrs (segments per row); kSegments: the
// count when known at compile time (3: the kernel rows of a 3×3 convolution), else 0.
template <int kSegments>
void RowPointers(const RunsLayout& l, int64_t m0, int rows, const uint8_t** ptrs) {
  const ConvNhwcArgs& a = *l.a;
  const ConvGeometry& g = *a.g;
  const int segments = kSegments ? kSegments : l.segments;
  thread_local std::vector<uint8_t, NoInitAllocator<uint8_t>> scratch;
  if (scratch.size() < static_cast<size_t>(rows * l.k)) scratch.resize(static_cast<size_t>(rows * l.k));
  // Read once (the stores below are of pointers): the window's first byte, as an offset into x,
  // advances by step along an output row.
  const int64_t ow = g.out[1], cin = a.cin, step = g.stride[1] * cin;
  const int64_t sy = g.stride[0], py = g.pad_begin[0], px = g.pad_begin[1], w = g.in[1];
  const uint8_t* x = a.x;
  const int64_t* off = l.offset.data();
  int64_t oy = m0 / ow, ox = m0 % ow;
  int64_t window = ((oy * sy - py) * w + ox * g.stride[1] - px) * cin;
  bool row_inside = l.ys.Contains(oy);
  for (int r = 0; r < rows; ++r) {
    const uint8_t** row = ptrs + r * segments;
    if (row_inside && l.xs.Contains(ox)) {
      for (int s = 0; s < segments; ++s) row[s] = x + window + off[s];
    } else if (l.xs.Contains(ox)) {  // only kernel rows fall outside: those read the padding run
      for (int s = 0; s < segments; ++s) {
        const int64_t iy = oy * sy - py + l.ky[static_cast<size_t>(s)] * g.dilation[0];
        row[s] = iy >= 0 && iy < g.in[0] ? x + (window + off[s]) : l.pad.data();
      }
    } else {
      uint8_t* dst = scratch.data() + r * l.k;
      FillRow(g, x, cin, static_cast<uint8_t>(a.zx), oy, ox, dst);
      for (int s = 0; s < segments; ++s) row[s] = dst + s * l.run;
    }
    if (++ox < ow) {
      window += step;
      continue;
    }
    ox = 0;
    ++oy;
    window = ((oy * sy - py) * w - px) * cin;
    row_inside = l.ys.Contains(oy);
  }
}

// The im2col rows as runs of the input read in place (GemmProblem::a_runs): one run per kernel
// row (kw·cin adjacent bytes) when dilation along x is 1, else one per tap. A position whose
// taps leave the image only above or below points those runs at a run of the zero point's
// byte; one with a tap outside to the left or right gets its row built in a per-thread buffer.
// Empty when a run is not a whole number of k-quads.
std::optional<GemmProblem::RowRuns> InPlaceRuns(const ConvNhwcArgs& a) {
  const ConvGeometry& g = *a.g;
  const bool per_row = g.dilation[1] == 1;
  const int64_t run = per_row ? g.kernel[1] * a.cin : a.cin;
  if (run % 4 != 0) return std::nullopt;
  RunsLayout l{&a, run, a.w->k, static_cast<int>(per_row ? g.kernel[0] : g.kernel[0] * g.kernel[1]), {},
               InteriorOf(g, 0), InteriorOf(g, 1), {}, std::vector<uint8_t>(static_cast<size_t>(run), static_cast<uint8_t>(a.zx))};
  for (int s = 0; s < l.segments; ++s) {
    const int64_t ky = per_row ? s : s / g.kernel[1], kx = per_row ? 0 : s % g.kernel[1];
    l.offset.push_back((ky * g.dilation[0] * g.in[1] + kx * g.dilation[1]) * a.cin);
    l.ky.push_back(ky);
  }
  const int segments = l.segments;
  if (segments == 3) {
    return GemmProblem::RowRuns{segments, run / 4, [l](int64_t m0, int rows, const uint8_t** ptrs) {
                                  RowPointers<3>(l, m0, rows, ptrs);
                                }};
  }
  return GemmProblem::RowRuns{segments, run / 4, [l = std::move(l)](int64_t m0, int rows, const uint8_t** ptrs) {
                                RowPointers<0>(l, m0, rows, ptrs);
                              }};
}

// Stride-1, undilated convolutions on kernels with a fused segments form (AMX, whose 16-row tiles
// need equally spaced rows): the image is copied once into a plane padded with the zero point's
// byte, Hp × Wp pixels (the padded size), and output positions are taken across that width:
// "wide" row p = oy·Wp + ox, ox < Wp. Kernel row ky of wide row p is then the kw·cin bytes at
// plane + (p + ky·Wp)·cin: every run's rows are equally spaced, with no row built and no
// pointer per row. The Wp − OW wide rows after each output row's last are computed into the
// wide output buffer too and dropped when it is copied out (2 of 58 on a 56-wide 3×3 layer).
bool PaddedPlaneApplies(const ConvNhwcArgs& a) {
  const ConvGeometry& g = *a.g;
  return a.kernel->fused_segments && a.rq && a.rq->Fusable(a.y->dtype()) && !a.x_signed && g.stride[0] == 1 &&
         g.stride[1] == 1 && g.dilation[0] == 1 && g.dilation[1] == 1 && g.kernel[0] <= kMaxSegments &&
         (g.kernel[1] * a.cin) % 4 == 0 && g.out[0] > 0 && g.out[1] > 0 && g.pad_begin[0] >= 0 &&
         g.pad_begin[1] >= 0 && g.out[1] + g.kernel[1] - 1 >= g.pad_begin[1] + g.in[1];  // the plane holds the image
}

// Rows [py0, py1) of the padded plane: rows of Wp pixels, the image's inside [pad_begin,
// pad_begin + W).
void FillPlaneRows(const ConvNhwcArgs& a, int64_t wp, int64_t py0, int64_t py1, uint8_t* plane) {
  const ConvGeometry& g = *a.g;
  const int64_t h = g.in[0], w = g.in[1], c = a.cin, left = g.pad_begin[1];
  const uint8_t pad = static_cast<uint8_t>(a.zx);
  plane += py0 * wp * c;
  for (int64_t py = py0; py < py1; ++py, plane += wp * c) {
    const int64_t iy = py - g.pad_begin[0];
    if (iy < 0 || iy >= h) {
      std::memset(plane, pad, static_cast<size_t>(wp * c));
      continue;
    }
    std::memset(plane, pad, static_cast<size_t>(left * c));
    std::memcpy(plane + left * c, a.x + iy * w * c, static_cast<size_t>(w * c));
    std::memset(plane + (left + w) * c, pad, static_cast<size_t>((wp - left - w) * c));
  }
}

// A fused GEMM of the convolution's weights over rows read as kernel-row segments (prob's
// a_segments, or a_pieces with them), requantized into the output from `out` with row stride
// ldo (rows wide where wide_period > 0: FusedRequant), on `threads` threads.
void FusedSegmentsGemm(const ConvNhwcArgs& a, GemmProblem prob, uint8_t* out, int64_t ldo, int threads,
                       int64_t wide_period = 0, int64_t wide_valid = 0) {
  const FusedRequant fused{a.rq->multipliers(), a.rq->zero_point(), a.y->dtype() == DType::kInt8, out, ldo,
                           a.rq->MultipliersBelowOne(), wide_period, wide_valid};
  prob.a_zero = a.zx;
  prob.b = a.w;
  prob.b_zero = a.zw;
  prob.bias = a.bias;
  prob.fused = &fused;
  QGemm(*a.kernel, prob, threads);
}

// The pieces (qgemm.h SegmentPiece) as one fused GEMM on this thread, each piece's rows stored
// from its out with row stride M.
void PiecesGemm(const ConvNhwcArgs& a, const SegmentPiece* pieces, int count) {
  const GemmProblem::RowSegments segs{static_cast<int>(a.g->kernel[0]), a.g->kernel[1] * a.cin / 4, {}, 0};
  GemmProblem prob;
  prob.a_segments = &segs;
  prob.a_pieces = pieces;
  prob.a_piece_count = count;
  FusedSegmentsGemm(a, prob, nullptr, a.w->n, 1);
}

void ConvPaddedPlane(const ConvNhwcArgs& a) {
  const ConvGeometry& g = *a.g;
  const int64_t oh = g.out[0], ow = g.out[1], kh = g.kernel[0], kw = g.kernel[1], c = a.cin, m = a.w->n;
  const int64_t hp = oh + kh - 1, wp = ow + kw - 1;  // stride 1: the padded image's size
  // Per calling thread; the lambdas below run on the pool's threads too, so they take the
  // buffers' addresses, never the thread_local names.
  thread_local std::vector<uint8_t, NoInitAllocator<uint8_t>> plane_buffer;
  plane_buffer.resize(static_cast<size_t>(hp * wp * c));
  uint8_t* const plane = plane_buffer.data();
  // The threads fill the rows about where their GEMM rows read them (rows split in order, as
  // QGemm splits its rows), so each mostly touches its own lines.
  const int threads = static_cast<int>(std::min<int64_t>(a.threads, oh));
  RunRanges(threads, [&](int i) { FillPlaneRows(a, wp, hp * i / threads, hp * (i + 1) / threads, plane); });
  const int64_t rows = (oh - 1) * wp + ow;  // wide rows up to the last output position
  GemmProblem::RowSegments segs{static_cast<int>(kh), kw * c / 4, {}, c};
  for (int64_t ky = 0; ky < kh; ++ky) segs.base[ky] = plane + ky * wp * c;
  GemmProblem prob;
  prob.m = rows;
  prob.a_segments = &segs;
  // Wide row p is output position (p / wp, p % wp): the kernels store the positions inside the
  // image straight into y and skip the kw − 1 padding columns of each row.
  uint8_t* y = reinterpret_cast<uint8_t*>(a.y->mutable_bytes().data()) + a.offset;
  FusedSegmentsGemm(a, prob, y, m, a.threads, wp, ow);
}

// Stride-1 convolutions that keep the width (OW = W) read the image in place instead of a
// padded plane. Taken as one flat run of H·W pixels, kernel row ky of output position p = oy·W +
// ox starts at pixel p + (ky − pad_top)·W − pad_left: a constant offset for every position whose
// taps lie inside the image's rows, except that a tap past a row's left or right end reads the
// neighbouring row's pixel where it should read the padding. So the positions from the first
// interior row's first inside column to the last interior row's last are one GEMM read from the
// image, with no plane to fill and no padding columns computed. The rest are GEMMs of their own,
// each with equally spaced rows: the rows above and below the interior, inside columns only, read
// from the image with a row of the zero point's byte for their taps outside it; then the edge
// columns together, read from a plane of their own (kw pixels per column and row: 3 KiB per 8
// rows of a 64-channel 3×3's two edge columns), whose outputs overwrite what the first GEMM wrote
// there. The output rows are cut into bands, one per thread, each doing all of this for its rows.
bool FlatApplies(const ConvNhwcArgs& a) {
  const ConvGeometry& g = *a.g;
  const Interior ys = InteriorOf(g, 0), xs = InteriorOf(g, 1);
  const bool avx512 = HasAvx512Vnni(a.kernel->isa);  // the edges' copies use it (QFARM_FLAT_EDGES)
  return avx512 && g.out[1] == g.in[1] && ys.hi >= ys.lo && xs.hi >= xs.lo;
}

// The output columns outside the interior columns, n of them, in order: column j is j
// for j < left, else right + j − left.
struct EdgeColumns {
  int64_t left = 0, right = 0, n = 0;
  int64_t operator[](int64_t j) const { return j < left ? j : right + j - left; }
};
EdgeColumns EdgeColumnsOf(const ConvGeometry& g) {
  const Interior xs = InteriorOf(g, 1);
  const int64_t w = g.out[1], left = std::min(xs.lo, w), right = std::max<int64_t>(xs.hi + 1, left);
  return {left, right, left + std::max<int64_t>(0, w - right)};
}

// Output rows [lo, hi], inside columns only, as one stretch of positions read from the image in
// place, from row lo's first inside column to row hi's last, kernel row ky at a constant offset:
// the interior rows' dense stretch (lo < hi runs through the rows' edge columns too, whose
// outputs ColumnPlane overwrites), or one row outside the interior rows (lo = hi), whose kernel
// rows outside the image read `pad` (a row of the zero point's byte, W pixels).
SegmentPiece StretchPiece(const ConvNhwcArgs& a, int64_t lo, int64_t hi, const uint8_t* pad, uint8_t* y) {
  const ConvGeometry& g = *a.g;
  const int64_t w = g.in[1], c = a.cin;
  const Interior xs = InteriorOf(g, 1);
  const int64_t first = lo * w + xs.lo, last = hi * w + xs.hi;
  SegmentPiece piece;
  piece.rows = static_cast<int>(last - first + 1);
  piece.lda = c;
  piece.out = y + first * a.w->n;
  for (int64_t ky = 0; ky < g.kernel[0]; ++ky) {
    const int64_t iy = lo + ky - g.pad_begin[0];
    piece.base[ky] = iy < 0 || iy >= g.in[0] ? pad : a.x + (iy * w + xs.lo - g.pad_begin[1]) * c;
  }
  return piece;
}

// The edge columns' copies are a few pixels each, 58 × 2 × 3 per band of a 56×56 3×3 layer:
// inline 64-byte moves, not library calls or 16-byte SSE moves (which after the AMX kernels'
// AVX-512 code took 1.4 µs there against 0.7). Only reached with the AMX kernels (FlatApplies), so
// AVX-512 is there.
#if defined(__x86_64__)
#define QFARM_FLAT_EDGES __attribute__((target("avx512f,avx512bw")))
#else
#define QFARM_FLAT_EDGES
#endif

QFARM_FLAT_EDGES inline void CopyPixels(uint8_t* dst, const uint8_t* src, int64_t n) {
  for (; n >= 64; n -= 64, dst += 64, src += 64) std::memcpy(dst, src, 64);
  for (; n > 0; --n) *dst++ = *src++;
}

// The output columns outside the interior columns, rows [oy0, oy1), as one piece (two GEMMs of
// 56 rows took 3.9 µs, one of 112 2.7): read from a plane of their own holding, per input row or
// padding row, each column's kw pixels side by side (the input's columns ox − pad_left.., or the
// padding), so that position q = (oy − oy0)·n + j (column j of n) reads kernel row ky at piece
// q + ky·n. The outputs go to a buffer (Scatter copies them to their places).
struct ColumnPlane {
  EdgeColumns columns;
  SegmentPiece piece;  // rows 0 where there are none (kw = 1)

  QFARM_FLAT_EDGES void Fill(const ConvNhwcArgs& a, int64_t oy0, int64_t oy1, const uint8_t* pad);
  QFARM_FLAT_EDGES void Scatter(const ConvNhwcArgs& a, int64_t oy0, uint8_t* y) const;
};

QFARM_FLAT_EDGES void ColumnPlane::Fill(const ConvNhwcArgs& a, int64_t oy0, int64_t oy1, const uint8_t* pad) {
  const ConvGeometry& g = *a.g;
  const int64_t w = g.in[1], kh = g.kernel[0], kw = g.kernel[1], c = a.cin, m = a.w->n, run = kw * c;
  columns = EdgeColumnsOf(g);
  const int64_t n = columns.n, rows = oy1 - oy0 + kh - 1, outputs = (oy1 - oy0) * n;
  if (n == 0) return;  // kw = 1: every column is inside
  // Per thread (the bands run on the pool's threads), by address.
  thread_local std::vector<uint8_t, NoInitAllocator<uint8_t>> plane_buffer, out_buffer;
  plane_buffer.resize(static_cast<size_t>(rows * n * run));
  out_buffer.resize(static_cast<size_t>(outputs * m));
  uint8_t* const plane = plane_buffer.data();
  piece.rows = static_cast<int>(outputs);
  piece.lda = run;
  piece.out = out_buffer.data();
  for (int64_t ky = 0; ky < kh; ++ky) piece.base[ky] = plane + ky * n * run;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t iy = oy0 + r - g.pad_begin[0];
    const bool inside = iy >= 0 && iy < g.in[0];
    for (int64_t j = 0; j < n; ++j) {
      uint8_t* dst = plane + (r * n + j) * run;
      const int64_t ix0 = columns[j] - g.pad_begin[1];
      const int64_t lo = std::clamp<int64_t>(-ix0, 0, kw), hi = inside ? std::clamp<int64_t>(w - ix0, lo, kw) : lo;
      CopyPixels(dst, pad, lo * c);
      if (hi > lo) CopyPixels(dst + lo * c, a.x + (iy * w + ix0 + lo) * c, (hi - lo) * c);
      CopyPixels(dst + hi * c, pad, (kw - hi) * c);
    }
  }
}

QFARM_FLAT_EDGES void ColumnPlane::Scatter(const ConvNhwcArgs& a, int64_t oy0, uint8_t* y) const {
  const int64_t w = a.g->in[1], m = a.w->n, n = columns.n;
  for (int64_t q = 0; q < piece.rows; ++q) CopyPixels(y + ((oy0 + q / n) * w + columns[q % n]) * m, piece.out + q * m, m);
}

// Output rows [oy0, oy1) on this thread as one GEMM of pieces: the dense stretch of its interior
// rows, its edge rows and its part of each edge column, whose outputs are then copied over the
// stretch's wrapped outputs there (all in these rows). One call rather than one per piece: each
// call's first loads and last output stage cost 0.4–0.9 µs (the edge rows of 54 positions took
// 2.1–2.2 µs each, against 1.2 at the stretch's rate).
void FlatBand(const ConvNhwcArgs& a, int64_t oy0, int64_t oy1, const uint8_t* pad, uint8_t* y) {
  const ConvGeometry& g = *a.g;
  const Interior ys = InteriorOf(g, 0);
  thread_local std::vector<SegmentPiece> pieces;  // per thread (the bands run on the pool's)
  pieces.clear();
  const int64_t lo = std::max(oy0, ys.lo), hi = std::min(oy1 - 1, ys.hi);
  if (lo <= hi) pieces.push_back(StretchPiece(a, lo, hi, pad, y));
  for (int64_t oy = oy0; oy < oy1; ++oy) {
    if (!ys.Contains(oy)) pieces.push_back(StretchPiece(a, oy, oy, pad, y));
  }
  ColumnPlane columns;
  columns.Fill(a, oy0, oy1, pad);
  if (columns.piece.rows > 0) pieces.push_back(columns.piece);
  PiecesGemm(a, pieces.data(), static_cast<int>(pieces.size()));
  if (columns.piece.rows > 0) columns.Scatter(a, oy0, y);
}

// The output rows in bands, one per thread, each all on its thread (its edges then overwrite what
// its own dense stretch wrote, and read what it read).
void ConvFlat(const ConvNhwcArgs& a) {
  const ConvGeometry& g = *a.g;
  const int64_t oh = g.out[0];
  uint8_t* const y = reinterpret_cast<uint8_t*>(a.y->mutable_bytes().data()) + a.offset;
  // Per calling thread; the bands run on the pool's threads too, so they take the pad row's
  // address, never its name. Rewritten only when it changes: the other bands' threads hold its
  // lines, and writing them again each call (taking them back from those cores) cost the
  // two-thread ResNet 3×3 0.45 µs.
  thread_local std::vector<uint8_t> pad_row;
  const size_t pad_bytes = static_cast<size_t>(g.in[1] * a.cin);
  const uint8_t zx = static_cast<uint8_t>(a.zx);
  if (pad_row.size() != pad_bytes || (pad_bytes > 0 && pad_row[0] != zx)) pad_row.assign(pad_bytes, zx);
  const uint8_t* const pad = pad_row.data();
  const int bands = static_cast<int>(std::min<int64_t>(a.threads, oh));
  RunRanges(bands, [&](int i) { FlatBand(a, oh * i / bands, oh * (i + 1) / bands, pad, y); });
}

void ConvNhwc(const ConvNhwcArgs& a) {
  const ConvGeometry& g = *a.g;
  GemmProblem rows;
  if (IsPointwise(g)) {
    rows.a = a.x;
    rows.lda = a.cin;
    return Multiply(a, rows);
  }
  const int64_t k = a.w->k, lda = a.w->k4 * 4;
  const std::function<void(int64_t, int, uint8_t*, int32_t*)> fill = [&](int64_t m0, int n, uint8_t* dst,
                                                                          int32_t* row_sum) {
    FillRows(g, a.x, a.cin, a.x_signed, a.zx, m0, n, k, lda, dst, row_sum);
  };
  const bool sums = std::any_of(a.zw, a.zw + a.w->n, [](int32_t z) { return z != 0; });
  if (!sums && PaddedPlaneApplies(a)) return FlatApplies(a) ? ConvFlat(a) : ConvPaddedPlane(a);
  rows.a_rows = &fill;
  // Read in place where the GEMM can (uint8 x, no weight zero point); a_rows otherwise.
  const std::optional<GemmProblem::RowRuns> runs = a.x_signed || sums ? std::nullopt : InPlaceRuns(a);
  if (runs) rows.a_runs = &*runs;
  Multiply(a, rows);
}

}  // namespace qfarm::kernels
