// The kernel forms of the dot-product ops: data layout and GEMM calls here, arithmetic rules
// from reference/arith.h (Requantize, FinishOutput), so every rule still lives in one place.
#include <cstring>
#include <optional>

#include "kernels/executor.h"
#include "kernels/add_pool.h"
#include "kernels/conv_nchw.h"
#include "kernels/dwconv.h"
#include "kernels/dwconv_nhwc.h"
#include "kernels/gemm.h"
#include "kernels/op_plan.h"
#include "kernels/parallel.h"
#include "kernels/requant.h"
#include "model/conv_geometry.h"
#include "reference/arith.h"
#include "reference/ops.h"

namespace qfarm::kernels {
namespace {

Status NotCovered() { return NotFound("not covered by the kernels"); }

// The node's outputs, uninitialized (the kernels write every element); inferred once per input
// signature when the weights were prepared, and then with the plan remembered for it, if any.
StatusOr<InferMemo::Allocation> Outputs(const Node& node, const std::vector<const Tensor*>& in,
                                        const PreparedWeights* prepared) {
  if (prepared && prepared->infer) return prepared->infer->Allocate(node, in);
  QFARM_ASSIGN_OR_RETURN(std::vector<Tensor> out, AllocateOutputs(node, in, /*zero=*/false));
  return InferMemo::Allocation{std::move(out), nullptr, 0};
}

InferMemo* MemoOf(const PreparedWeights* prepared) { return prepared ? prepared->infer.get() : nullptr; }

// The depthwise loops' level for a GEMM path.
DwIsa DepthwiseIsa(const QGemmKernel& kernel) {
  return HasAvx512Vnni(kernel.isa) ? DwIsa::kAvx512 : kernel.isa == Isa::kAvxVnni ? DwIsa::kAvx2 : DwIsa::kPortable;
}

bool Is8(DType t) { return t == DType::kInt8 || t == DType::kUInt8; }

// QLinearMatMul / MatMulInteger with 2-D int8 B: A's leading dims flattened into rows.
StatusOr<std::vector<Tensor>> MatMul(const Node& node, const QGemmKernel& kernel, const Profile& p,
                                     const std::vector<const Tensor*>& in, int threads,
                                     const PreparedWeights* prepared) {
  const bool qlinear = node.op_type == "QLinearMatMul";
  const Tensor* a = in[0];
  const Tensor* b = in[qlinear ? 3 : 1];
  if (!a || !b || b->dtype() != DType::kInt8 || b->rank() != 2 || a->rank() < 2 || !Is8(a->dtype())) return NotCovered();
  QFARM_ASSIGN_OR_RETURN(InferMemo::Allocation alloc, Outputs(node, in, prepared));
  QFARM_ASSIGN_OR_RETURN(std::shared_ptr<const MatMulPlan> plan,
                         PlanFor<MatMulPlan>(
                             MemoOf(prepared), alloc, in, {0, qlinear ? 3u : 1u},
                             [&](const MatMulPlan& plan) { return plan.profile == p; },
                             [&] { return StatusOr<std::shared_ptr<const MatMulPlan>>(MakeMatMulPlan(node, p, in)); }));
  std::vector<Tensor> out = std::move(alloc.outputs);
  const int64_t k = b->dim(0), n = b->dim(1), m = a->numel() / k;
  const PreparedWeights local = prepared ? PreparedWeights{} : PrepareWeights(node, kernel, *b);
  const PackedWeights& packed = (prepared ? *prepared : local).groups.at(0);
  const Tensor* za = qlinear ? in[2] : (in.size() > 2 ? in[2] : nullptr);
  std::vector<int32_t> za_rows;
  GemmProblem g;
  g.m = m;
  g.a = a->bytes().data();
  g.lda = k;
  g.a_signed = a->dtype() == DType::kInt8;
  if (!qlinear && za && za->numel() > 1) {
    const int64_t rows_per = a->dim(a->rank() - 2);
    za_rows.resize(static_cast<size_t>(m));
    for (int64_t r = 0; r < m; ++r) za_rows[static_cast<size_t>(r)] = static_cast<int32_t>(za->GetInt(r % rows_per));
    g.a_row_zero = za_rows.data();
  } else {
    g.a_zero = za ? static_cast<int32_t>(za->GetInt(0)) : 0;
  }
  g.b = &packed;
  g.b_zero = plan->zw.data();
  // Each finished tile goes straight to the output: rows of C are rows of Y.
  const std::optional<Requantizer>& rq = plan->rq;
  Tensor& y = out[0];
  const TileSink sink = [&](const CTile& t) {
    const AccBlock block{t.data, t.rows, t.cols, t.n0, t.m0 * n + t.n0, n, 1, false, t.ld};
    rq ? rq->Run(block, y) : StoreBlock(block, y);
  };
  g.sink = &sink;
  const bool fusable = rq && rq->Fusable(y.dtype());
  const FusedRequant fused{fusable ? rq->multipliers() : nullptr, rq ? rq->zero_point() : 0,
                           y.dtype() == DType::kInt8, reinterpret_cast<uint8_t*>(y.mutable_bytes().data()), n,
                           fusable && rq->MultipliersBelowOne()};
  if (fusable) g.fused = &fused;
  QGemm(kernel, g, threads);
  return out;
}

// im2col of one image and group into packed A rows (kernels/gemm.h GemmProblem::a_packed):
// x is [cpg, H, W] bytes; each row gets the raw bytes XOR `flip` (+128 for int8), the padding
// taps the zero point's byte, zeros after the taps, and its Σ of original values (pad taps as
// the zero point, wrapping) in row_sum. Rows where the whole window is inside the image take
// the fast path: kernel-row runs copied without bounds checks.
void Im2Col(const ConvGeometry& gm, const uint8_t* x, int64_t cpg, uint8_t pad, uint8_t flip, int64_t lda,
            uint8_t* cols, int32_t* row_sum) {
  const int64_t kh = gm.kernel[0], kw = gm.kernel[1], H = gm.in[0], W = gm.in[1];
  const int64_t s0 = gm.stride[0], s1 = gm.stride[1], d0 = gm.dilation[0], d1 = gm.dilation[1];
  const int64_t taps = cpg * kh * kw;
  const bool pointwise = kh == 1 && kw == 1 && s0 == 1 && s1 == 1 && gm.pad_begin[0] == 0 &&
                         gm.pad_begin[1] == 0 && gm.out[0] == H && gm.out[1] == W;
  if (pointwise) {  // a transpose: row = pixel, column = channel
    for (int64_t c = 0; c < cpg; ++c) {
      const uint8_t* src = x + c * H * W;
      for (int64_t px = 0; px < H * W; ++px) cols[px * lda + c] = src[px];
    }
  }
  for (int64_t oy = 0, row = 0; oy < gm.out[0]; ++oy) {
    const int64_t iy0 = oy * s0 - gm.pad_begin[0];
    const bool rows_inside = iy0 >= 0 && iy0 + (kh - 1) * d0 < H;
    for (int64_t ox = 0; ox < gm.out[1]; ++ox, ++row) {
      const int64_t ix0 = ox * s1 - gm.pad_begin[1];
      uint8_t* dst = cols + row * lda;
      if (pointwise) {
        // already transposed above
      } else if (rows_inside && ix0 >= 0 && ix0 + (kw - 1) * d1 < W) {
        for (int64_t c = 0; c < cpg; ++c)
          for (int64_t ky = 0; ky < kh; ++ky) {
            const uint8_t* src = x + (c * H + iy0 + ky * d0) * W + ix0;
            if (d1 == 1 && kw >= 8) {
              std::memcpy(dst, src, static_cast<size_t>(kw));
              dst += kw;
            } else {
              for (int64_t kx = 0; kx < kw; ++kx) *dst++ = src[kx * d1];
            }
          }
      } else {
        for (int64_t c = 0; c < cpg; ++c)
          for (int64_t ky = 0; ky < kh; ++ky) {
            const int64_t iy = iy0 + ky * d0;
            const uint8_t* src = x + (c * H + iy) * W;
            const bool y_in = iy >= 0 && iy < H;
            for (int64_t kx = 0; kx < kw; ++kx) {
              const int64_t ix = ix0 + kx * d1;
              *dst++ = y_in && ix >= 0 && ix < W ? src[ix] : pad;
            }
          }
      }
      // Offset and sum: Σ raw values as their type (int8 when flip), modulo 2^32.
      uint8_t* r = cols + row * lda;
      uint32_t sum = 0;
      if (flip) {
        for (int64_t t = 0; t < taps; ++t) {
          sum += static_cast<uint32_t>(int32_t{static_cast<int8_t>(r[t])});
          r[t] ^= flip;
        }
      } else {
        for (int64_t t = 0; t < taps; ++t) sum += r[t];
      }
      row_sum[row] = static_cast<int32_t>(sum);
    }
  }
}

// Depthwise convolution of one image on an exact path: the direct kernel over chunks of channel
// planes small enough to stay in cache, each requantized (or stored) right after it is summed;
// threads take whole chunks.
void Depthwise(const ConvGeometry& gm, const QGemmKernel& kernel, const std::byte* x, bool x_signed, int32_t zx,
               const int8_t* w, const int32_t* zw, const int32_t* bias, int64_t channels, int threads,
               const Requantizer* rq, int64_t offset, Tensor& y) {
  const int64_t positions = gm.out[0] * gm.out[1], plane = gm.in[0] * gm.in[1], taps = gm.kernel[0] * gm.kernel[1];
  const int64_t chunk = std::max<int64_t>(1, (int64_t{1} << 14) / std::max<int64_t>(1, positions));
  const DwIsa isa = DepthwiseIsa(kernel);
#if defined(__x86_64__)
  if (HasAvx512Vnni(kernel.isa) && rq && rq->Fusable(y.dtype()) && DwSmallEligible(gm) && DwSmallAvailable()) {
    const DwSmallArgs args{&gm, x, x_signed, zx, w, zw, bias, channels, rq->multipliers(), rq->zero_point(),
                           y.dtype() == DType::kInt8, reinterpret_cast<uint8_t*>(y.mutable_bytes().data()) + offset};
    ParallelFor(channels, threads, 32, [&](int64_t begin, int64_t end) { DepthwiseSmallRequantAvx512(args, begin, end); });
    return;
  }
#endif
  ParallelFor(channels, threads, chunk, [&](int64_t begin, int64_t end) {
    std::vector<int32_t> acc(static_cast<size_t>(std::min(chunk, end - begin) * positions));
    for (int64_t c0 = begin; c0 < end; c0 += chunk) {
      const int64_t nc = std::min(chunk, end - c0);
      DepthwiseConv({&gm, x + c0 * plane, x_signed, zx, w + c0 * taps, zw + c0, bias ? bias + c0 : nullptr, nc,
                     acc.data(), isa, 1});
      // acc is [nc × positions]: row = channel, column = position, exactly the NCHW output.
      const AccBlock block{acc.data(), nc, positions, c0, offset + c0 * positions, positions, 1, true};
      rq ? rq->Run(block, y) : StoreBlock(block, y);
    }
  });
}

// The exact paths: per (image, group) the activations packed as panels, the weight rows as A,
// tiles of [output channels × positions] requantized (fused where the kernel can) or stored
// straight into the NCHW output.
void ConvNchw(const ConvGeometry& gm, const QGemmKernel& kernel, const PreparedWeights& weights, const uint8_t* x,
              bool x_signed, int32_t zx, const std::vector<int32_t>& zw, const int32_t* bias, int64_t batch,
              int64_t cin, int64_t cout, int64_t group, int threads, const Requantizer* rq, Tensor& y) {
  const int64_t cpg = cin / group, mpg = cout / group, positions = gm.out[0] * gm.out[1];
  thread_local PackedWeights panels;  // reused: packed afresh on every call, never reallocated
  const bool s8u8 = kernel.fused_s8u8 && rq && rq->Fusable(y.dtype()) && !weights.rows_raw.empty();
  // The panels' zero point, as the per-column array GemmProblem takes (the unfused path only).
  const std::vector<int32_t> zb(s8u8 ? 0 : static_cast<size_t>(positions), PanelZeroPoint(x_signed, zx, PanelType::kS8));
  for (int64_t n = 0; n < batch; ++n) {
    for (int64_t g = 0; g < group; ++g) {
      const uint8_t* xg = x + (n * cin + g * cpg) * gm.in[0] * gm.in[1];
      const int64_t base = (n * cout + g * mpg) * positions;
      if (s8u8) {
        FusedConvS8U8({&gm, &kernel, &weights.rows_raw.at(static_cast<size_t>(g)), xg, cpg, x_signed, zx,
                       zw.data() + g * mpg, bias ? bias + g * mpg : nullptr, rq->multipliers() + g * mpg,
                       rq->zero_point(), y.dtype() == DType::kInt8,
                       reinterpret_cast<uint8_t*>(y.mutable_bytes().data()) + base, threads},
                      panels);
        continue;
      }
      const WeightRows& rows = weights.rows.at(static_cast<size_t>(g));
      PackIm2ColPanels(gm, xg, cpg, x_signed, zx, kernel.nr, PanelType::kS8, true, panels, threads);
      const TileSink sink = [&](const CTile& t) {
        const AccBlock b{t.data, t.rows, t.cols, g * mpg + t.m0, base + t.m0 * positions + t.n0, positions, 1, true, t.ld};
        rq ? rq->Run(b, y) : StoreBlock(b, y);
      };
      GemmProblem prob;
      prob.m = mpg;
      prob.a = rows.data.data();
      prob.lda = rows.lda;
      prob.a_signed = true;
      prob.a_packed = true;
      prob.a_row_sum = rows.row_sum.data();
      prob.a_row_zero = zw.data() + g * mpg;
      prob.b = &panels;
      prob.b_zero = zb.data();
      prob.row_bias = bias ? bias + g * mpg : nullptr;
      prob.sink = &sink;
      prob.columns_outer = true;
      QGemm(kernel, prob, threads);
    }
  }
}

// QLinearConv / ConvInteger with int8 weights: im2col per (image, group) then GEMM.
StatusOr<std::vector<Tensor>> Conv(const Node& node, const QGemmKernel& kernel, const Profile& p,
                                   const std::vector<const Tensor*>& in, int threads,
                                   const PreparedWeights* prepared, bool channels_last) {
  const bool qlinear = node.op_type == "QLinearConv";
  const Tensor* x = in[0];
  const Tensor* w = in[qlinear ? 3 : 1];
  if (!x || !w || w->dtype() != DType::kInt8 || !Is8(x->dtype())) return NotCovered();
  QFARM_ASSIGN_OR_RETURN(InferMemo::Allocation alloc, Outputs(node, in, prepared));
  QFARM_ASSIGN_OR_RETURN(std::shared_ptr<const ConvPlan> plan,
                         PlanFor<ConvPlan>(
                             MemoOf(prepared), alloc, in, {0, qlinear ? 3u : 1u},
                             [&](const ConvPlan& plan) { return plan.profile == p && plan.kernel == &kernel; },
                             [&] { return MakeConvPlan(node, kernel, p, in); }));
  std::vector<Tensor> out = std::move(alloc.outputs);
  const ConvGeometry& gm = plan->gm;
  const int64_t batch = x->dim(0), cin = x->dim(1), cout = w->dim(0), group = plan->group;
  const int64_t cpg = w->dim(1), mpg = cout / group, taps = cpg * gm.kernel[0] * gm.kernel[1];
  const int64_t positions = gm.out[0] * gm.out[1];
  const int32_t zx = plan->zx;
  const std::vector<int32_t>& zw = plan->zw;
  const int32_t* bias = plan->bias.empty() ? nullptr : plan->bias.data();
  const Requantizer* rq = plan->rq ? &*plan->rq : nullptr;
  Tensor& y = out[0];
  const PreparedWeights local =
      prepared ? PreparedWeights{}
               : PrepareWeights(node, kernel, *w, channels_last ? WeightForms::kChannelsLast : WeightForms::kChannelsFirst);
  const PreparedWeights& weights = prepared ? *prepared : local;
  const uint8_t* xbytes = reinterpret_cast<const uint8_t*>(x->bytes().data());
  if (channels_last) {
    if (!plan->channels_last_form) {
      return Internal("node '" + node.name + "': no channels-last form on " + std::string(kernel.name));
    }
    if (plan->depthwise) {
      for (int64_t n = 0; n < batch; ++n) {
        DepthwiseNhwc({&gm, xbytes + n * cin * gm.in[0] * gm.in[1], x->dtype() == DType::kInt8, zx,
                       w->data<int8_t>().data(), zw.data(), bias, cout, rq,
                       &y, n * cout * positions, DepthwiseIsa(kernel), threads, &weights.depthwise_nhwc});
      }
      return out;
    }
    if (weights.channels_last.empty()) return Internal("node '" + node.name + "': channels-last weights not packed");
    for (int64_t n = 0; n < batch; ++n) {
      ConvNhwc({&gm, &kernel, &weights.channels_last[0], xbytes + n * cin * gm.in[0] * gm.in[1], cin,
                x->dtype() == DType::kInt8, zx, zw.data(), bias, rq, &y,
                n * cout * positions, threads});
    }
    return out;
  }
  if (!kernel.pair_sat16 && plan->depthwise) {
    for (int64_t n = 0; n < batch; ++n) {
      Depthwise(gm, kernel, x->bytes().data() + n * cin * gm.in[0] * gm.in[1], x->dtype() == DType::kInt8, zx,
                w->data<int8_t>().data(), zw.data(), bias, cout, threads,
                rq, n * cout * positions, y);
    }
    return out;
  }
  if (!kernel.pair_sat16) {
    if (weights.rows.size() != static_cast<size_t>(group)) {
      return Internal("node '" + node.name + "': channels-first weights not packed");
    }
    ConvNchw(gm, kernel, weights, xbytes, x->dtype() == DType::kInt8, zx, zw, bias, batch,
             cin, cout, group, threads, rq, y);
    return out;
  }
  // VPMADDUBSW path: im2col straight into the microkernels' packed A form: row = output position, column =
  // (channel, ky, kx) of this group, padding taps = zx; int8 values offset by +128.
  const int64_t lda = (taps + 3) / 4 * 4;
  const bool x_signed = x->dtype() == DType::kInt8;
  const uint8_t flip = x_signed ? 0x80 : 0x00;
  std::vector<uint8_t> cols(static_cast<size_t>(positions * lda), 0);
  std::vector<int32_t> row_sum(static_cast<size_t>(positions));
  for (int64_t g = 0; g < group; ++g) {
    const PackedWeights& packed = weights.groups.at(static_cast<size_t>(g));
    for (int64_t n = 0; n < batch; ++n) {
      Im2Col(gm, xbytes + (n * cin + g * cpg) * gm.in[0] * gm.in[1], cpg, static_cast<uint8_t>(zx), flip, lda,
             cols.data(), row_sum.data());
      // Tile row r = output position m0 + r, column j = channel g·mpg + n0 + j of image n (NCHW).
      const int64_t base = (n * cout + g * mpg) * positions;
      const TileSink sink = [&](const CTile& t) {
        const AccBlock block{t.data, t.rows, t.cols, g * mpg + t.n0, base + t.n0 * positions + t.m0, 1, positions,
                             false, t.ld};
        rq ? rq->Run(block, y) : StoreBlock(block, y);
      };
      GemmProblem prob;
      prob.m = positions;
      prob.a = cols.data();
      prob.lda = lda;
      prob.a_signed = x_signed;
      prob.a_packed = true;
      prob.a_row_sum = row_sum.data();
      prob.a_zero = zx;
      prob.b = &packed;
      prob.b_zero = zw.data() + g * mpg;
      prob.bias = bias ? bias + g * mpg : nullptr;
      prob.sink = &sink;
      QGemm(kernel, prob, threads);
    }
  }
  return out;
}

}  // namespace

bool HasChannelsLastForm(const Node& node, const QGemmKernel& kernel, const Tensor& w) {
  const bool conv = node.domain.empty() && (node.op_type == "QLinearConv" || node.op_type == "ConvInteger");
  return conv && !kernel.pair_sat16 && w.dtype() == DType::kInt8 && w.rank() == 4 &&
         (node.AttrInt("group", 1) == 1 || IsDepthwise(node, w));
}

PreparedWeights PrepareWeights(const Node& node, const QGemmKernel& kernel, const Tensor& w, WeightForms forms) {
  PreparedWeights prepared;
  const bool first = forms != WeightForms::kChannelsLast, last = forms != WeightForms::kChannelsFirst;
  prepared.infer = std::make_shared<InferMemo>();
  const auto data = w.data<int8_t>();
  if (node.op_type == "QLinearMatMul" || node.op_type == "MatMulInteger") {
    const int64_t k = w.dim(0), n = w.dim(1);
    prepared.groups.push_back(PackWeights(k, n, kernel.nr, [&](int64_t kk, int64_t j) {
      return data[static_cast<size_t>(kk * n + j)];
    }));
    return prepared;
  }
  // Conv weights [M, C/group, kh, kw]: one B [taps × M/group] per group.
  const int64_t group = node.AttrInt("group", 1), mpg = w.dim(0) / group, taps = w.numel() / w.dim(0);
  if (!kernel.pair_sat16) {
    if (IsDepthwise(node, w)) {  // NCHW depthwise reads the tensor itself
      if (last) {
        prepared.depthwise_nhwc = PrepareDwNhwcWeights(data.data(), w.dim(0), w.dim(2), w.dim(3), DepthwiseIsa(kernel));
      }
      return prepared;
    }
    if (last && HasChannelsLastForm(node, kernel, w)) {
      prepared.channels_last.push_back(PackConvWeightsNhwc(data.data(), w.dim(0), w.dim(1), w.dim(2), w.dim(3), kernel.nr));
    }
    for (int64_t g = 0; first && g < group; ++g) {
      prepared.rows.push_back(PackWeightRows(data.data() + g * mpg * taps, mpg, taps, true));
      if (kernel.fused_s8u8) prepared.rows_raw.push_back(PackWeightRows(data.data() + g * mpg * taps, mpg, taps, false));
    }
    return prepared;
  }
  for (int64_t g = 0; g < group; ++g) {
    prepared.groups.push_back(PackWeights(taps, mpg, kernel.nr, [&](int64_t t, int64_t j) {
      return data[static_cast<size_t>((g * mpg + j) * taps + t)];
    }));
  }
  return prepared;
}

StatusOr<std::vector<Tensor>> RunKernelNode(const Node& node, const QGemmKernel& kernel,
                                            const Profile& profile,
                                            const std::vector<const Tensor*>& inputs, int threads,
                                            const PreparedWeights* prepared, bool channels_last) {
  const bool ms = node.domain == "com.microsoft";
  if (ms && node.op_type == "QLinearAdd") return KernelQLinearAdd(node, profile, inputs, threads);
  if (ms && node.op_type == "QLinearAveragePool") return KernelQLinearAveragePool(node, profile, inputs, false, threads);
  if (ms && node.op_type == "QLinearGlobalAveragePool") {
    return KernelQLinearAveragePool(node, profile, inputs, true, threads, channels_last);
  }
  if (!node.domain.empty()) return NotCovered();
  if (node.op_type == "QLinearMatMul" || node.op_type == "MatMulInteger") {
    return MatMul(node, kernel, profile, inputs, threads, prepared);
  }
  if (node.op_type == "QLinearConv" || node.op_type == "ConvInteger") {
    return Conv(node, kernel, profile, inputs, threads, prepared, channels_last);
  }
  return NotCovered();
}

}  // namespace qfarm::kernels
