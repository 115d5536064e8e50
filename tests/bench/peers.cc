#include "tests/bench/peers.h"

#include <fstream>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>
#include <pthreadpool.h>
#include <xnnpack.h>

extern "C" void omp_set_num_threads(int);

namespace qfarm::bench {
namespace {

// ---- oneDNN -------------------------------------------------------------------------------------

class OneDnnOp : public PeerOp {
 public:
  OneDnnOp(const LayerShape& s, int threads) : engine_(dnnl::engine::kind::cpu, 0), stream_(engine_), threads_(threads) {
    using tag = dnnl::memory::format_tag;
    using dt = dnnl::memory::data_type;
    dnnl::primitive_attr attr;
    attr.set_output_scales(0, {0.05f});
    omp_set_num_threads(threads);
    if (s.gemm) {
      dnnl::memory::desc src({s.m, s.k}, dt::u8, tag::ab), wei({s.k, s.n}, dt::s8, tag::any),
          dst({s.m, s.n}, dt::u8, tag::ab);
      dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, wei, dst), attr, engine_);
      Bind(pd.src_desc(), pd.weights_desc(), pd.dst_desc(), dnnl::memory::desc({s.k, s.n}, dt::s8, tag::ab));
      prim_ = dnnl::matmul(pd);
      return;
    }
    const dnnl::memory::dims src_dims = {1, s.cin, s.h, s.w}, dst_dims = {1, s.cout, s.OutH(), s.OutW()};
    dnnl::memory::dims wei_dims = s.group > 1 ? dnnl::memory::dims{s.group, s.cout / s.group, s.cin / s.group, s.kernel, s.kernel}
                                              : dnnl::memory::dims{s.cout, s.cin, s.kernel, s.kernel};
    dnnl::memory::desc src(src_dims, dt::u8, tag::nhwc), dst(dst_dims, dt::u8, tag::nhwc),
        wei(wei_dims, dt::s8, tag::any), bias({s.cout}, dt::s32, tag::a);
    dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                      src, wei, bias, dst, {s.stride, s.stride}, {0, 0}, {s.pad, s.pad}, {s.pad, s.pad});
    dnnl::convolution_forward::primitive_desc pd(d, attr, engine_);
    Bind(pd.src_desc(), pd.weights_desc(), pd.dst_desc(),
         dnnl::memory::desc(wei_dims, dt::s8, s.group > 1 ? tag::goihw : tag::oihw));
    bias_ = dnnl::memory(pd.bias_desc(), engine_);
    args_[DNNL_ARG_BIAS] = bias_;
    prim_ = dnnl::convolution_forward(pd);
  }
  void Run() override {
    omp_set_num_threads(threads_);
    prim_.execute(stream_, args_);
    stream_.wait();
  }

 private:
  void Bind(const dnnl::memory::desc& src, const dnnl::memory::desc& wei, const dnnl::memory::desc& dst,
            const dnnl::memory::desc& plain_wei) {
    src_ = dnnl::memory(src, engine_);
    dst_ = dnnl::memory(dst, engine_);
    wei_ = dnnl::memory(wei, engine_);
    // Weights reordered into the primitive's layout once, outside the timing loop.
    dnnl::memory plain(plain_wei, engine_);
    auto* p = static_cast<int8_t*>(plain.get_data_handle());
    for (size_t i = 0; i < plain_wei.get_size(); ++i) p[i] = static_cast<int8_t>((i * 37) % 255 - 127);
    dnnl::reorder(plain, wei_).execute(stream_, plain, wei_);
    auto* x = static_cast<uint8_t*>(src_.get_data_handle());
    for (size_t i = 0; i < src.get_size(); ++i) x[i] = static_cast<uint8_t>((i * 13) % 256);
    args_ = {{DNNL_ARG_SRC, src_}, {DNNL_ARG_WEIGHTS, wei_}, {DNNL_ARG_DST, dst_}};
  }
  dnnl::engine engine_;
  dnnl::stream stream_;
  int threads_;
  dnnl::memory src_, wei_, dst_, bias_;
  std::unordered_map<int, dnnl::memory> args_;
  dnnl::primitive prim_;
};

// ---- XNNPACK ------------------------------------------------------------------------------------

class XnnOp : public PeerOp {
 public:
  XnnOp(const LayerShape& s, int threads, std::string* why) {
    static const bool initialized = xnn_initialize(nullptr) == xnn_status_success;
    if (!initialized) {
      *why = "xnn_initialize failed";
      return;
    }
    pool_ = pthreadpool_create(static_cast<size_t>(threads));
    const int64_t in_elems = s.gemm ? s.m * s.k : s.h * s.w * s.cin;
    const int64_t out_elems = s.gemm ? s.m * s.n : s.OutH() * s.OutW() * s.cout;
    const int64_t w_elems = s.gemm ? s.k * s.n : s.cout * (s.cin / s.group) * s.kernel * s.kernel;
    in_.assign(static_cast<size_t>(in_elems + 64), 1);
    out_.assign(static_cast<size_t>(out_elems + 64), 0);
    weights_.resize(static_cast<size_t>(w_elems));
    for (size_t i = 0; i < weights_.size(); ++i) weights_[i] = static_cast<int8_t>((i * 37) % 255 - 127);
    bias_.assign(static_cast<size_t>(s.gemm ? s.n : s.cout), 0);
    xnn_status st;
    if (s.gemm) {
      st = xnn_create_fully_connected_nc_qs8(s.k, s.n, s.k, s.n, 0, 0.02f, 0.01f, weights_.data(), bias_.data(),
                                             0, 0.05f, -128, 127, XNN_FLAG_TRANSPOSE_WEIGHTS, &op_);
      if (st == xnn_status_success) {
        st = xnn_setup_fully_connected_nc_qs8(op_, s.m, in_.data(), out_.data(), pool_);
      }
    } else {
      st = xnn_create_convolution2d_nhwc_qs8(
          s.pad, s.pad, s.pad, s.pad, s.kernel, s.kernel, s.stride, s.stride, 1, 1, s.group, s.cin / s.group,
          s.cout / s.group, s.cin, s.cout, 0, 0.02f, 0.01f, weights_.data(), bias_.data(), 0, 0.05f, -128, 127,
          s.group > 1 ? XNN_FLAG_DEPTHWISE_CONVOLUTION : 0, &op_);
      if (st == xnn_status_success) {
        st = xnn_setup_convolution2d_nhwc_qs8(op_, 1, s.h, s.w, in_.data(), out_.data(), pool_);
      }
    }
    if (st != xnn_status_success) *why = "XNNPACK status " + std::to_string(st);
    ok_ = st == xnn_status_success;
  }
  ~XnnOp() override {
    if (op_) xnn_delete_operator(op_);
    if (pool_) pthreadpool_destroy(pool_);
  }
  bool ok() const { return ok_; }
  void Run() override { xnn_run_operator(op_, pool_); }

 private:
  xnn_operator_t op_ = nullptr;
  pthreadpool_t pool_ = nullptr;
  bool ok_ = false;
  std::vector<int8_t> in_, out_, weights_;
  std::vector<int32_t> bias_;
};

}  // namespace

std::unique_ptr<PeerOp> MakeOneDnn(const LayerShape& s, int threads, std::string* why) {
  try {
    return std::make_unique<OneDnnOp>(s, threads);
  } catch (const dnnl::error& e) {
    *why = std::string("oneDNN: ") + e.what();
    return nullptr;
  }
}

std::unique_ptr<PeerOp> MakeXnnpack(const LayerShape& s, int threads, std::string* why) {
  auto op = std::make_unique<XnnOp>(s, threads, why);
  if (!op->ok()) return nullptr;
  return op;
}

double Int8PeakGops(int threads, std::string* assumption) {
  double mhz = 0;
  std::ifstream f("/proc/cpuinfo");
  for (std::string line; std::getline(f, line);) {
    if (line.rfind("cpu MHz", 0) == 0) {
      mhz = std::stod(line.substr(line.find(':') + 1));
      break;
    }
  }
  const bool vnni512 = __builtin_cpu_supports("avx512vnni");
  // VPDPBUSD: 64 u8·s8 MACs per zmm instruction; assume one zmm VPDPBUSD per cycle per core
  // (Zen 4 issues two 256-bit halves per cycle; Ice Lake one port for 512-bit VNNI); AVX2:
  // VPMADDUBSW+VPMADDWD, 2 ymm pairs per cycle = 32 MACs.
  const double macs_per_cycle = vnni512 ? 64 : 32;
  *assumption = std::to_string(static_cast<int>(macs_per_cycle)) + " int8 MACs/cycle/core (" +
                (vnni512 ? "one AVX-512 VPDPBUSD per cycle" : "AVX2 VPMADDUBSW") + ") at " +
                std::to_string(static_cast<int>(mhz)) + " MHz (/proc/cpuinfo) × " + std::to_string(threads) + " cores";
  return 2.0 * macs_per_cycle * mhz * 1e6 * threads / 1e9;
}

}  // namespace qfarm::bench
