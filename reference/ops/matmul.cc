// QLinearMatMul, MatMulInteger and the float MatMul/Gemm (numpy.matmul batching).
// Integer ops: one output = DotAccumulate over k ascending, then Requantize (arith.h).
#include <functional>

#include "reference/ops/op_context.h"

namespace qfarm::ref {
namespace {

struct MatDims {
  int64_t m = 0, k = 0, n = 0;
  int64_t batches = 1;
  Shape out_batch, a_batch, b_batch;
};

MatDims MatMulDims(Shape a, Shape b) {
  if (a.size() == 1) a.insert(a.begin(), 1);
  if (b.size() == 1) b.push_back(1);
  MatDims d;
  d.m = a[a.size() - 2];
  d.k = a.back();
  d.n = b.back();
  d.a_batch.assign(a.begin(), a.end() - 2);
  d.b_batch.assign(b.begin(), b.end() - 2);
  const size_t rank = std::max(d.a_batch.size(), d.b_batch.size());
  d.out_batch.assign(rank, 1);
  for (size_t i = 0; i < rank; ++i) {
    const size_t ia = i + d.a_batch.size(), ib = i + d.b_batch.size();
    const int64_t da = ia >= rank ? d.a_batch[ia - rank] : 1;
    const int64_t db = ib >= rank ? d.b_batch[ib - rank] : 1;
    d.out_batch[i] = da == 1 ? db : da;
  }
  d.batches = NumElements(d.out_batch);
  return d;
}

// Calls fn(a_offset, b_offset, out_offset) for every batch of a numpy matmul.
void ForEachBatch(const MatDims& d, const std::function<void(int64_t, int64_t, int64_t)>& fn) {
  for (int64_t bi = 0; bi < d.batches; ++bi) {
    const int64_t ai = BroadcastIndex(d.out_batch, d.a_batch, bi);
    const int64_t bj = BroadcastIndex(d.out_batch, d.b_batch, bi);
    fn(ai * d.m * d.k, bj * d.k * d.n, bi * d.m * d.n);
  }
}

// Gathers row m of A and column n of B as int32 vectors.
void Gather(const Tensor& a, const Tensor& b, const MatDims& d, int64_t a_off, int64_t b_off,
            int64_t m, int64_t n, std::vector<int32_t>& x, std::vector<int32_t>& w) {
  for (int64_t k = 0; k < d.k; ++k) {
    x[static_cast<size_t>(k)] = static_cast<int32_t>(a.GetInt(a_off + m * d.k + k));
    w[static_cast<size_t>(k)] = static_cast<int32_t>(b.GetInt(b_off + k * d.n + n));
  }
}

}  // namespace

Status RunQLinearMatMul(const OpContext& ctx) {
  const Tensor& a = *ctx.Input(0);
  const Tensor& b = *ctx.Input(3);
  Tensor& y = ctx.out[0];
  QFARM_ASSIGN_OR_RETURN(QuantParams qa, ReadQuantParams(ctx, 1, 2, a.dtype()));
  QFARM_ASSIGN_OR_RETURN(QuantParams qb, ReadQuantParams(ctx, 4, 5, b.dtype()));
  QFARM_ASSIGN_OR_RETURN(QuantParams qy, ReadQuantParams(ctx, 6, 7, y.dtype()));
  const MatDims d = MatMulDims(a.shape(), b.shape());
  if (qb.scale.size() > 1 && static_cast<int64_t>(qb.scale.size()) != d.n) {
    return ctx.Err(ctx.Field(4), "per-column scale needs " + std::to_string(d.n) + " values");
  }
  std::vector<RequantParams> rp;
  for (int64_t n = 0; n < d.n; ++n) {
    rp.push_back(MakeRequantParams(ctx.profile, qa.Scale(0), qb.Scale(n), qy.Scale(0)));
  }
  std::vector<int32_t> x(static_cast<size_t>(d.k)), w(static_cast<size_t>(d.k));
  ForEachBatch(d, [&](int64_t a_off, int64_t b_off, int64_t y_off) {
    for (int64_t m = 0; m < d.m; ++m) {
      for (int64_t n = 0; n < d.n; ++n) {
        Gather(a, b, d, a_off, b_off, m, n, x, w);
        const int64_t acc = DotAccumulate(ctx.profile, x, w, qa.Zero(0), qb.Zero(n), a.dtype(),
                                          nullptr);
        const int64_t v = Requantize(ctx.profile, rp[static_cast<size_t>(n)], acc);
        y.SetInt(y_off + m * d.n + n, FinishOutput(v, qy.Zero(0), y.dtype(), TypeLo(y.dtype()),
                                                   TypeHi(y.dtype())));
      }
    }
  });
  return Status::Ok();
}

// The int32 output of MatMulInteger/ConvInteger is the accumulator; beyond 32 bits it wraps or
// saturates to int32 as the profile's overflow rule says.
int64_t AccumulatorToInt32(const Profile& p, int64_t acc) {
  return p.acc_overflow == AccOverflow::kSaturate ? SaturateToBits(acc, 32) : WrapToBits(acc, 32);
}

Status RunMatMulInteger(const OpContext& ctx) {
  const Tensor& a = *ctx.Input(0);
  const Tensor& b = *ctx.Input(1);
  Tensor& y = ctx.out[0];
  const MatDims d = MatMulDims(a.shape(), b.shape());
  auto zero_points = [&](size_t idx, DType t, int64_t len) -> StatusOr<std::vector<int32_t>> {
    const Tensor* z = ctx.Input(idx);
    if (!z) return std::vector<int32_t>(static_cast<size_t>(len), 0);
    if (z->dtype() != t) return ctx.Err(ctx.Field(idx), "zero point type does not match");
    if (z->numel() != 1 && z->numel() != len) {
      return ctx.Err(ctx.Field(idx), "zero point must be a scalar or have " +
                                         std::to_string(len) + " values");
    }
    std::vector<int32_t> v(static_cast<size_t>(len));
    for (int64_t i = 0; i < len; ++i) {
      v[static_cast<size_t>(i)] = static_cast<int32_t>(z->GetInt(z->numel() == 1 ? 0 : i));
    }
    return v;
  };
  QFARM_ASSIGN_OR_RETURN(auto za, zero_points(2, a.dtype(), d.m));
  QFARM_ASSIGN_OR_RETURN(auto zb, zero_points(3, b.dtype(), d.n));
  std::vector<int32_t> x(static_cast<size_t>(d.k)), w(static_cast<size_t>(d.k));
  ForEachBatch(d, [&](int64_t a_off, int64_t b_off, int64_t y_off) {
    for (int64_t m = 0; m < d.m; ++m) {
      for (int64_t n = 0; n < d.n; ++n) {
        Gather(a, b, d, a_off, b_off, m, n, x, w);
        const int64_t acc = DotAccumulate(ctx.profile, x, w, za[static_cast<size_t>(m)],
                                          zb[static_cast<size_t>(n)], a.dtype(), nullptr);
        y.SetInt(y_off + m * d.n + n, AccumulatorToInt32(ctx.profile, acc));
      }
    }
  });
  return Status::Ok();
}

Status RunMatMulFloat(const OpContext& ctx) {
  const Tensor& a = *ctx.Input(0);
  const Tensor& b = *ctx.Input(1);
  Tensor& y = ctx.out[0];
  const MatDims d = MatMulDims(a.shape(), b.shape());
  const auto av = a.data<float>();
  const auto bv = b.data<float>();
  auto yv = y.data<float>();
  ForEachBatch(d, [&](int64_t a_off, int64_t b_off, int64_t y_off) {
    for (int64_t m = 0; m < d.m; ++m) {
      for (int64_t n = 0; n < d.n; ++n) {
        float acc = 0.0f;
        for (int64_t k = 0; k < d.k; ++k) {
          acc += av[static_cast<size_t>(a_off + m * d.k + k)] *
                 bv[static_cast<size_t>(b_off + k * d.n + n)];
        }
        yv[static_cast<size_t>(y_off + m * d.n + n)] = acc;
      }
    }
  });
  return Status::Ok();
}

Status RunGemm(const OpContext& ctx) {
  const Tensor& a = *ctx.Input(0);
  const Tensor& b = *ctx.Input(1);
  const Tensor* c = ctx.Input(2);
  Tensor& y = ctx.out[0];
  const bool ta = ctx.node.AttrInt("transA", 0) != 0, tb = ctx.node.AttrInt("transB", 0) != 0;
  const float alpha = ctx.node.AttrFloat("alpha", 1.0f), beta = ctx.node.AttrFloat("beta", 1.0f);
  const int64_t m_dim = y.dim(0), n_dim = y.dim(1), k_dim = ta ? a.dim(0) : a.dim(1);
  const auto av = a.data<float>();
  const auto bv = b.data<float>();
  for (int64_t m = 0; m < m_dim; ++m) {
    for (int64_t n = 0; n < n_dim; ++n) {
      float acc = 0.0f;
      for (int64_t k = 0; k < k_dim; ++k) {
        const float x = av[static_cast<size_t>(ta ? k * m_dim + m : m * k_dim + k)];
        const float w = bv[static_cast<size_t>(tb ? n * k_dim + k : k * n_dim + n)];
        acc += x * w;
      }
      float v = alpha * acc;
      if (c) v += beta * static_cast<float>(c->GetDouble(BroadcastIndex(y.shape(), c->shape(),
                                                                         m * n_dim + n)));
      y.data<float>()[static_cast<size_t>(m * n_dim + n)] = v;
    }
  }
  return Status::Ok();
}

}  // namespace qfarm::ref
