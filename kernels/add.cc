// QLinearAdd (kernels/add_pool.h): row-wise loops over the broadcast output. The float32 rule is
// ONNX Runtime's (MLAS), as reference/ops/elementwise.cc writes it: the explicit fused
// multiply-adds are std::fma (one rounding, on any CPU), every other operation a plain IEEE one.
#include <cmath>

#include "kernels/add_pool.h"
#include "kernels/add_pool_common.h"
#include "kernels/parallel.h"
#include "reference/arith.h"
#include "reference/ops.h"

namespace qfarm::kernels {
namespace {

Status NotCovered() { return NotFound("not covered by the kernels"); }

// Strides of `in` over the output's index space (0 along broadcast dimensions).
std::vector<int64_t> BroadcastStrides(const Shape& out, const Shape& in) {
  std::vector<int64_t> s(out.size(), 0);
  int64_t stride = 1;
  for (size_t i = 0; i < in.size(); ++i) {
    const size_t d_in = in.size() - 1 - i, d_out = out.size() - 1 - i;
    s[d_out] = in[d_in] == 1 ? 0 : stride;
    stride *= in[d_in];
  }
  return s;
}

template <typename TA, typename TB, typename TY, typename Fn>
void AddRows(const Shape& out, const TA* a, const std::vector<int64_t>& sa, const TB* b,
             const std::vector<int64_t>& sb, TY* y, int threads, Fn element) {
  const size_t rank = out.size();
  const int64_t inner = rank ? out[rank - 1] : 1;
  const int64_t rows = inner ? [&] { int64_t n = 1; for (size_t i = 0; i + 1 < rank; ++i) n *= out[i]; return n; }() : 0;
  const int64_t ia = rank ? sa[rank - 1] : 0, ib = rank ? sb[rank - 1] : 0;
  ParallelFor(rows, threads, std::max<int64_t>(1, 16384 / std::max<int64_t>(inner, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      int64_t oa = 0, ob = 0, rest = r;  // offsets of row r in a and b
      for (size_t d = rank ? rank - 1 : 0; d-- > 0;) {
        const int64_t i = rest % out[d];
        rest /= out[d];
        oa += i * sa[d];
        ob += i * sb[d];
      }
      const TA* ar = a + oa;
      const TB* br = b + ob;
      TY* yr = y + r * inner;
      for (int64_t j = 0; j < inner; ++j) yr[j] = element(ar[j * ia], br[j * ib]);
    }
  });
}

// Whether input `in` is constant along the innermost run of outputs: ONNX Runtime then folds it
// into the constant part of the sum (reference/ops/elementwise.cc decides it the same way).
bool ConstantOverSpan(const Shape& out, const Shape& in) {
  int64_t n = 1;
  for (int64_t d : in) n *= d;
  if (n == 1) return true;
  return !out.empty() && out.back() > 1 && (in.empty() || in.back() == 1);
}

// Rounds a float that already holds the output zero point and saturates it (MLAS order).
template <typename TY>
struct FloatFinish {
  Rounding rounding;
  int64_t lo, hi;
  DType yt;
  TY operator()(float v) const {
    if (rounding == Rounding::kHalfEven && v > static_cast<float>(lo - 1) && v < static_cast<float>(hi + 1)) {
      const int64_t q = static_cast<int32_t>(std::nearbyintf(v));  // default mode: half-even
      return static_cast<TY>(q < lo ? lo : (q > hi ? hi : q));
    }
    return static_cast<TY>(FinishOutput(RoundToInt(static_cast<double>(v), rounding), 0, yt, lo, hi));
  }
};

template <typename TA, typename TB, typename TY>
void AddTyped(const Profile& p, const Tensor& a, QuantPair qa, const Tensor& b, QuantPair qb,
              Tensor& y, QuantPair qy, int threads) {
  const auto sa = BroadcastStrides(y.shape(), a.shape()), sb = BroadcastStrides(y.shape(), b.shape());
  const TA* ap = a.data<TA>().data();
  const TB* bp = b.data<TB>().data();
  TY* yp = y.data<TY>().data();
  const int64_t lo = DTypeMin(y.dtype()), hi = DTypeMax(y.dtype());
  const int32_t za = qa.zero, zb = qb.zero, zy = qy.zero;
  const DType yt = y.dtype();
  if (p.requant == Requant::kFloat32) {
    // ONNX Runtime MLAS x86 (qladd_avx2.cpp): F = zy − (ra·za + rb·zb); a per-element operand
    // enters by FMA, an operand constant over the span is folded into F by multiply and add.
    const float ra = qa.scale / qy.scale, rb = qb.scale / qy.scale;
    const float base = static_cast<float>(zy) - (ra * static_cast<float>(za) + rb * static_cast<float>(zb));
    const FloatFinish<TY> finish{p.rounding, lo, hi, yt};
    const bool a_const = ConstantOverSpan(y.shape(), a.shape()), b_const = ConstantOverSpan(y.shape(), b.shape());
    if (b_const && !a_const) {
      AddRows(y.shape(), ap, sa, bp, sb, yp, threads, [=](TA x, TB w) {
        return finish(std::fma(static_cast<float>(x), ra, base + static_cast<float>(w) * rb));
      });
    } else if (a_const && !b_const) {
      AddRows(y.shape(), ap, sa, bp, sb, yp, threads, [=](TA x, TB w) {
        return finish(std::fma(static_cast<float>(w), rb, base + static_cast<float>(x) * ra));
      });
    } else {
      AddRows(y.shape(), ap, sa, bp, sb, yp, threads, [=](TA x, TB w) {
        return finish(std::fma(static_cast<float>(x), ra, std::fma(static_cast<float>(w), rb, base)));
      });
    }
    return;
  }
  const double ra = double{qa.scale} / double{qy.scale}, rb = double{qb.scale} / double{qy.scale};
  AddRows(y.shape(), ap, sa, bp, sb, yp, threads, [=, &p](TA x, TB w) {
    const double v = ra * static_cast<double>(int32_t{x} - za) + rb * static_cast<double>(int32_t{w} - zb);
    return static_cast<TY>(FinishOutput(RoundToInt(v, p.rounding), zy, yt, lo, hi));
  });
}

template <typename TA, typename TB>
void AddOutType(const Profile& p, const Tensor& a, QuantPair qa, const Tensor& b, QuantPair qb,
                Tensor& y, QuantPair qy, int threads) {
  if (y.dtype() == DType::kInt8) return AddTyped<TA, TB, int8_t>(p, a, qa, b, qb, y, qy, threads);
  AddTyped<TA, TB, uint8_t>(p, a, qa, b, qb, y, qy, threads);
}

}  // namespace

StatusOr<std::vector<Tensor>> KernelQLinearAdd(const Node& node, const Profile& p,
                                               const std::vector<const Tensor*>& in, int threads) {
  if (p.requant != Requant::kFloat32 && p.requant != Requant::kFloat64) return NotCovered();
  if (in.size() < 8 || !in[0] || !in[3] || !Is8Bit(in[0]->dtype()) || !Is8Bit(in[3]->dtype())) {
    return NotCovered();
  }
  const Tensor& a = *in[0];
  const Tensor& b = *in[3];
  QFARM_ASSIGN_OR_RETURN(std::vector<Tensor> out, AllocateOutputs(node, in));
  if (out.size() != 1 || !Is8Bit(out[0].dtype())) return NotCovered();
  const auto qa = ReadPerTensor(in[1], in[2], a.dtype()), qb = ReadPerTensor(in[4], in[5], b.dtype());
  const auto qy = ReadPerTensor(in[6], in[7], out[0].dtype());
  if (!qa || !qb || !qy) return NotCovered();
  const bool sa = a.dtype() == DType::kInt8, sb = b.dtype() == DType::kInt8;
  if (sa && sb) AddOutType<int8_t, int8_t>(p, a, *qa, b, *qb, out[0], *qy, threads);
  else if (sa) AddOutType<int8_t, uint8_t>(p, a, *qa, b, *qb, out[0], *qy, threads);
  else if (sb) AddOutType<uint8_t, int8_t>(p, a, *qa, b, *qb, out[0], *qy, threads);
  else AddOutType<uint8_t, uint8_t>(p, a, *qa, b, *qb, out[0], *qy, threads);
  return out;
}

}  // namespace qfarm::kernels
