#include "tests/bench/peers.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <immintrin.h>
#include <random>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>
#include <pthreadpool.h>
#include <xnnpack.h>

#include "common/no_init_allocator.h"
#include "kernels/qgemm/qgemm.h"

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

namespace {

// A peak loop's throughput is the best of many short trials: on a shared VM a trial only ever
// runs slower than the core can (another guest, a frequency dip), so one long trial can read
// below what the kernels measured beside it reach.
constexpr int kPeakTrials = 15;

template <typename Trial>
double BestOf(Trial trial) {
  double best = 0;
  for (int t = 0; t < kPeakTrials; ++t) best = std::max(best, trial());
  return best;
}

// Throughput of VPDPBUSD (zmm) on one core, measured: 12 independent accumulator chains so
// latency is hidden; returns int8 MACs per second.
__attribute__((target("avx512f,avx512vnni"))) double VnniTrial() {
  // Distinct start values so the compiler cannot merge the chains.
  __m512i a0 = _mm512_set1_epi32(0), a1 = _mm512_set1_epi32(1), a2 = _mm512_set1_epi32(2),
          a3 = _mm512_set1_epi32(3), a4 = _mm512_set1_epi32(4), a5 = _mm512_set1_epi32(5),
          a6 = _mm512_set1_epi32(6), a7 = _mm512_set1_epi32(7), a8 = _mm512_set1_epi32(8),
          a9 = _mm512_set1_epi32(9), a10 = _mm512_set1_epi32(10), a11 = _mm512_set1_epi32(11);
  const __m512i x = _mm512_set1_epi8(3), w = _mm512_set1_epi8(5);
  constexpr int64_t kIters = 2'000'000;
  const auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < kIters; ++i) {
// One VPDPBUSD per chain, written as the instruction: with the intrinsic GCC 12 copied every
// accumulator into and out of a second register each iteration (24 moves to 12 products), and
// the loop read 11% low (330 G MACs/s against 369-370 as written here; docs/kernels.md).
#define QFARM_DP(a) asm("vpdpbusd %2, %1, %0" : "+v"(a) : "v"(x), "v"(w))
    QFARM_DP(a0); QFARM_DP(a1); QFARM_DP(a2); QFARM_DP(a3); QFARM_DP(a4); QFARM_DP(a5);
    QFARM_DP(a6); QFARM_DP(a7); QFARM_DP(a8); QFARM_DP(a9); QFARM_DP(a10); QFARM_DP(a11);
#undef QFARM_DP
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // Keep the results alive so the loop is not removed.
  __m512i sum = _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3)),
                                 _mm512_add_epi32(_mm512_add_epi32(a4, a5), _mm512_add_epi32(a6, a7)));
  sum = _mm512_add_epi32(sum, _mm512_add_epi32(_mm512_add_epi32(a8, a9), _mm512_add_epi32(a10, a11)));
  // (Summed through memory: GCC 12 warns falsely inside _mm512_reduce_add_epi32, bug 105593.)
  alignas(64) int32_t lanes[16];
  _mm512_store_si512(lanes, sum);
  int32_t total = 0;
  for (int32_t v : lanes) total += v;
  volatile int32_t sink = total;
  (void)sink;
  return 12.0 * 64.0 * static_cast<double>(kIters) / s;
}

// Every tile 16 rows × 64 bytes (palette 1), as our AMX kernels configure them.
__attribute__((target("amx-tile"))) void ConfigureTiles() {
  struct alignas(64) Config {
    uint8_t palette = 1, start_row = 0, reserved[14] = {};
    uint16_t colsb[16] = {};
    uint8_t rows[16] = {};
  } config;
  for (int t = 0; t < 8; ++t) {
    config.colsb[t] = 64;
    config.rows[t] = 16;
  }
  _tile_loadconfig(&config);
}

// Throughput of TDPBUSD (AMX) on one core, measured: four independent 16×16 int32 tiles, their
// operands loaded once (the instruction alone, as the VPDPBUSD loop); int8 MACs per second.
__attribute__((target("amx-tile,amx-int8"))) double AmxTrial() {
  alignas(64) static uint8_t operands[2048];
  for (size_t i = 0; i < sizeof(operands); ++i) operands[i] = static_cast<uint8_t>(i * 7);
  ConfigureTiles();
  _tile_loadd(4, operands, 64);
  _tile_loadd(5, operands + 1024, 64);
  _tile_loadd(6, operands, 64);
  _tile_loadd(7, operands + 1024, 64);
  constexpr int64_t kIters = 200'000;
  const auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < kIters; ++i) {
    _tile_dpbusd(0, 4, 6);
    _tile_dpbusd(1, 4, 7);
    _tile_dpbusd(2, 5, 6);
    _tile_dpbusd(3, 5, 7);
  }
  alignas(64) static int32_t out[256];
  _tile_stored(0, out, 64);  // the sums are used: the loop cannot be dropped
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  _tile_release();
  volatile int32_t sink = out[0];
  (void)sink;
  return 4.0 * 16 * 16 * 64 * static_cast<double>(kIters) / s;
}

// The tile loop of our AMX GEMM schedule alone (kernels/qgemm/qgemm_amx.cc StreamedBlocks), for
// the ceiling it sets under the peak: rows outermost in 32-row blocks, each meeting every
// 32-column panel of B in turn, B streamed from L2 with TILELOADDT1 and A from L1, a 2×2 block
// of sum tiles per 64-byte k step; at each block and panel's end the next one's first operands
// loaded, then each sum tile stored, zeroed and given its first product there. No output
// stage, no driver, no threads. Operands from a fixed seed (with zero bytes the loop runs
// faster). m and n multiples of 32, k of 64; only where our kernel runs this schedule over all
// of B at once (k ≤ 2048, B ≤ 1 MiB: qgemm_amx.cc kStreamMaxK4, kStreamGroupBytes).
class AmxTileLoop : public PeerOp {
 public:
  explicit AmxTileLoop(const LayerShape& s) : m_(s.m), k_(s.k), n_(s.n), a_(Random(s.m * s.k)), b_(Random(s.k * s.n)) {}
  static bool Fits(const LayerShape& s) {
    return s.gemm && s.m % 32 == 0 && s.n % 32 == 0 && s.k % 64 == 0 && s.k <= 2048 && s.k * s.n <= (1 << 20);
  }

  __attribute__((target("amx-tile,amx-int8"))) void Run() override {
    ConfigureTiles();
    const int64_t steps = k_ / 64, panels = n_ / 32, panel_bytes = k_ * 32;  // a k step: 16 quads × 32 columns × 4
    const int64_t units = m_ / 32 * panels;
    auto load_first = [&](int64_t u) __attribute__((always_inline)) {  // unit u: block u / panels, panel u % panels
      const uint8_t* a = a_.data() + u / panels * 32 * k_;
      const uint8_t* b = b_.data() + u % panels * panel_bytes;
      _tile_stream_loadd(6, b, 128);
      _tile_stream_loadd(7, b + 64, 128);
      _tile_loadd(4, a, k_);
      _tile_loadd(5, a + 16 * k_, k_);
    };
    load_first(0);
    _tile_zero(0);
    _tile_dpbusd(0, 4, 6);
    _tile_zero(1);
    _tile_dpbusd(1, 4, 7);
    _tile_zero(2);
    _tile_dpbusd(2, 5, 6);
    _tile_zero(3);
    _tile_dpbusd(3, 5, 7);
    for (int64_t u = 0; u < units; ++u) {
      const uint8_t* a = a_.data() + u / panels * 32 * k_;
      const uint8_t* b = b_.data() + u % panels * panel_bytes + 2048;
      for (int64_t j = 1; j < steps; ++j, b += 2048) {
        _tile_stream_loadd(6, b, 128);
        _tile_stream_loadd(7, b + 64, 128);
        _tile_loadd(4, a + j * 64, k_);
        _tile_dpbusd(0, 4, 6);
        _tile_loadd(5, a + 16 * k_ + j * 64, k_);
        _tile_dpbusd(1, 4, 7);
        _tile_dpbusd(2, 5, 6);
        _tile_dpbusd(3, 5, 7);
      }
      if (u + 1 == units) break;
      load_first(u + 1);
      _tile_stored(0, sums_, 128);
      _tile_zero(0);
      _tile_dpbusd(0, 4, 6);
      _tile_stored(1, sums_ + 16, 128);
      _tile_zero(1);
      _tile_dpbusd(1, 4, 7);
      _tile_stored(2, sums_ + 512, 128);
      _tile_zero(2);
      _tile_dpbusd(2, 5, 6);
      _tile_stored(3, sums_ + 528, 128);
      _tile_zero(3);
      _tile_dpbusd(3, 5, 7);
    }
    _tile_stored(0, sums_, 128);
    _tile_stored(1, sums_ + 16, 128);
    _tile_stored(2, sums_ + 512, 128);
    _tile_stored(3, sums_ + 528, 128);
    _tile_release();
    sink_ = sums_[0];  // the sums are used: the loop cannot be dropped
  }

 private:
  static std::vector<uint8_t, NoInitAllocator<uint8_t>> Random(int64_t n) {
    std::vector<uint8_t, NoInitAllocator<uint8_t>> v(static_cast<size_t>(n));
    std::mt19937 rng(20261207);
    for (uint8_t& x : v) x = static_cast<uint8_t>(rng());
    return v;
  }
  int64_t m_, k_, n_;
  std::vector<uint8_t, NoInitAllocator<uint8_t>> a_, b_;  // 64-byte aligned
  alignas(64) int32_t sums_[32 * 32];
  volatile int32_t sink_ = 0;
};

}  // namespace

std::unique_ptr<PeerOp> MakeAmxTileLoop(const LayerShape& s, std::string* why) {
  if (!kernels::CpuHas(kernels::Isa::kAmx)) {
    *why = "no AMX here";
    return nullptr;
  }
  if (!AmxTileLoop::Fits(s)) {
    *why = "the tile loop needs a GEMM with m, n multiples of 32, k of 64, k ≤ 2048 and k·n ≤ 1 MiB";
    return nullptr;
  }
  return std::make_unique<AmxTileLoop>(s);
}

double Int8PeakGops(int threads, std::string* assumption) {
  static const double vnni = __builtin_cpu_supports("avx512vnni") ? BestOf(VnniTrial) : 0.0;
  static const double amx = kernels::CpuHas(kernels::Isa::kAmx) ? BestOf(AmxTrial) : 0.0;
  const double macs = std::max(vnni, amx);
  if (macs == 0) {
    *assumption = "no AVX-512 VNNI: peak not measured";
    return 0;
  }
  auto g = [](double m) { return std::to_string(static_cast<int64_t>(m / 1e9)); };
  const std::string vnni_loop = "a VPDPBUSD zmm loop (12 independent chains)";
  *assumption = "measured: one core sustains " +
                (amx > 0 ? g(amx) + " G int8 MACs/s in a TDPBUSD loop (AMX, four independent 16x16 tiles; " +
                               g(vnni) + " G in " + vnni_loop + ")"
                         : g(vnni) + " G int8 MACs/s in " + vnni_loop) +
                ", best of " + std::to_string(kPeakTrials) + " trials; peak = 2 ops/MAC × that × " +
                std::to_string(threads) + " core(s)";
  return 2.0 * macs * threads / 1e9;
}

}  // namespace qfarm::bench
