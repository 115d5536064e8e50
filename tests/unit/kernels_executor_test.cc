// Conv/matmul tester through the kernel paths and the whole-model check: every host path equals
// the reference, bit for bit, for every profile it claims, over conv shape sweeps (groups,
// depthwise, pads, strides, dilations, channels 1..67) and on every built-in model, with 1 and
// several threads.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <set>

#include "kernels/devices.h"
#include "kernels/executor.h"
#include "kernels/layout.h"
#include "model/builtin.h"
#include "model/graph_builder.h"
#include "model/qdq_fusion.h"
#include "reference/ops.h"
#include "tests/support/conv_node.h"

namespace qfarm::kernels {
namespace {

// Profiles a path claims among the named ones.
std::vector<std::string> ClaimedProfiles(Isa isa) {
  std::vector<std::string> out;
  for (const NamedProfile& np : NamedProfiles()) {
    if (PathComputes(isa, *ParseProfile(np.name))) out.emplace_back(np.name);
  }
  return out;
}

TEST(KernelsExecutor, PathsClaimTheRightProfiles) {
  for (const HostPath& p : AvailableHostPaths()) {
    const auto claimed = ClaimedProfiles(p.isa);
    ASSERT_FALSE(claimed.empty()) << p.device;
    EXPECT_TRUE(PathComputes(p.isa, *ParseProfile(p.declared_profile))) << p.device;
    const bool sat = FindQGemmKernel(p.isa)->pair_sat16;
    EXPECT_EQ(std::count(claimed.begin(), claimed.end(), "avx2-u8s8"), sat ? 1 : 0) << p.device;
    EXPECT_EQ(std::count(claimed.begin(), claimed.end(), "dsp-sat32"), 0) << p.device;
  }
}

struct ConvCase {
  int64_t c, m, h, w, k, group, stride, dilation, pad;
  DType x_type;
};

TEST(KernelsExecutor, ConvSweepEqualsReferenceOnEveryPathAndClaimedProfile) {
  const uint32_t seed = ::testing::UnitTest::GetInstance()->random_seed();
  std::mt19937 rng(seed);
  std::vector<ConvCase> cases;
  for (int64_t ch : {1, 2, 3, 7, 16, 31, 67}) {
    cases.push_back({ch, 1 + static_cast<int64_t>(rng() % 9), 5, 7, 3, 1, 1, 1, 1, DType::kUInt8});
    cases.push_back({ch, ch, 6, 5, 3, ch, 1 + static_cast<int64_t>(rng() % 2), 1, 1, DType::kInt8});  // depthwise 3×3
    cases.push_back({ch, ch, 9, 9, 5, ch, 2, 1, 2, DType::kUInt8});                                     // depthwise 5×5
  }
  cases.push_back({8, 12, 9, 8, 3, 4, 3, 2, 2, DType::kInt8});   // groups, odd stride, dilation
  cases.push_back({6, 4, 7, 7, 1, 1, 2, 1, 0, DType::kUInt8});   // pointwise, stride 2
  for (const HostPath& path : AvailableHostPaths()) {
    const QGemmKernel& kernel = *FindQGemmKernel(path.isa);
    for (const std::string& prof_name : ClaimedProfiles(path.isa)) {
      const Profile prof = *ParseProfile(prof_name);
      for (const ConvCase& t : cases) {
        GraphBuilder b("c", 13, rng());
        const Tensor x = t.x_type == DType::kUInt8 ? b.RandomInts(DType::kUInt8, {1, t.c, t.h, t.w}, 0, 255)
                                                   : b.RandomInts(DType::kInt8, {1, t.c, t.h, t.w}, -128, 127);
        const Tensor w = b.RandomInts(DType::kInt8, {t.m, t.c / t.group, t.k, t.k}, -128, 127);
        const Tensor bias = b.RandomInts(DType::kInt32, {t.m}, -20000, 20000);
        const Tensor sx = Tensor::Scalar(DType::kFloat32, 0.02), sy = Tensor::Scalar(DType::kFloat32, 0.3);
        const Tensor zx = Tensor::Scalar(t.x_type, t.x_type == DType::kUInt8 ? 255 : -128);  // extreme zero point
        const Tensor zy = Tensor::Scalar(t.x_type, t.x_type == DType::kUInt8 ? 128 : 0);
        const Tensor sw = Tensor::FromDoubles(DType::kFloat32, {t.m}, b.RandomReals(static_cast<size_t>(t.m), 0.001, 0.02));
        const Tensor zw(DType::kInt8, {t.m});
        Node n;
        n.name = "conv";
        n.op_type = "QLinearConv";
        n.inputs = {"x", "sx", "zx", "w", "sw", "zw", "sy", "zy", "b"};
        n.outputs = {"y"};
        n.attrs["group"] = Attribute::Int(t.group);
        n.attrs["strides"] = Attribute::Ints({t.stride, t.stride});
        n.attrs["dilations"] = Attribute::Ints({t.dilation, t.dilation});
        n.attrs["pads"] = Attribute::Ints({t.pad, t.pad, t.pad, t.pad});
        const std::vector<const Tensor*> in = {&x, &sx, &zx, &w, &sw, &zw, &sy, &zy, &bias};
        auto want = RunReferenceNode(n, prof, in);
        ASSERT_TRUE(want.ok()) << want.status().message();
        for (int threads : {1, 3}) {
          auto got = RunKernelNode(n, kernel, prof, in, threads);
          ASSERT_TRUE(got.ok()) << got.status().message();
          ASSERT_EQ((*got)[0], (*want)[0]) << path.device << " profile=" << prof_name << " c=" << t.c
                                           << " m=" << t.m << " k=" << t.k << " group=" << t.group
                                           << " stride=" << t.stride << " dilation=" << t.dilation
                                           << " threads=" << threads << " seed=" << seed;
        }
      }
    }
  }
}

// The channels-last conversions are exact permutations and each other's inverse, for every
// element size and for shapes around the 16×16 byte tiles.
TEST(KernelsExecutor, ChannelsLastConversionsPermuteExactly) {
  GraphBuilder b("layout", 13, 7);
  for (DType dt : {DType::kUInt8, DType::kInt16, DType::kInt32}) {
    for (int64_t c : {1, 3, 16, 17, 33}) {
      for (auto [h, w] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {4, 4}, {5, 7}, {16, 16}, {17, 3}}) {
        const Tensor t = b.RandomInts(dt, {2, c, h, w}, 0, 100);
        const Tensor cl = ToChannelsLast(t);
        ASSERT_EQ(cl.shape(), t.shape());
        const size_t es = DTypeSize(t.dtype());
        bool same = true;
        for (int64_t n = 0; n < 2; ++n)
          for (int64_t ch = 0; ch < c; ++ch)
            for (int64_t p = 0; p < h * w; ++p) {
              const size_t from = static_cast<size_t>((n * c + ch) * h * w + p) * es;
              const size_t to = static_cast<size_t>((n * h * w + p) * c + ch) * es;
              same = same && std::memcmp(t.bytes().data() + from, cl.bytes().data() + to, es) == 0;
            }
        EXPECT_TRUE(same) << DTypeName(t.dtype()) << " c=" << c << " hw=" << h << "x" << w;
        EXPECT_EQ(ToChannelsFirst(cl), t) << DTypeName(t.dtype()) << " c=" << c << " hw=" << h << "x" << w;
      }
    }
  }
}

// A residual conv chain: 3×3 conv → 1×1 conv → QLinearAdd with the first conv's output → 3×3
// stride-2 conv → global pool. On the exact paths the three convolutions and the add run
// channels-last (kernels/layout.h) and every captured value is still the reference's, byte for
// byte; a lone convolution keeps the standard order.
Graph ConvChain(uint64_t seed, DType xt) {
  GraphBuilder b("chain", 13, seed);
  const DType f32 = DType::kFloat32, i8 = DType::kInt8;
  const bool u8 = xt == DType::kUInt8;
  b.Input("x", xt, {2, 5, 9, 7});
  b.Output("y", xt, {2, 12, 1, 1});
  const std::string z = b.Scalar("z", xt, u8 ? 131 : -3), s = b.Scalar("s", f32, 0.05);
  auto conv = [&](const std::string& name, const std::string& x, int64_t cin, int64_t m, int64_t k, int64_t stride) {
    const std::string w = b.Init(name + ".w", b.RandomInts(i8, {m, cin, k, k}, -128, 127));
    const std::string sw = b.Vector(name + ".sw", f32, b.RandomReals(static_cast<size_t>(m), 0.002, 0.02));
    const std::string zw = b.Scalar(name + ".zw", i8, 0);
    const std::string bias = b.Init(name + ".b", b.RandomInts(DType::kInt32, {m}, -3000, 3000));
    std::map<std::string, Attribute> attrs = {{"strides", Attribute::Ints({stride, stride})}};
    if (k == 3) attrs["pads"] = Attribute::Ints({1, 1, 1, 1});
    return b.Op("QLinearConv", name, {x, s, z, w, sw, zw, s, z, bias}, {name + "_out"}, attrs);
  };
  const std::string c1 = conv("c1", "x", 5, 12, 3, 1);
  const std::string c2 = conv("c2", c1, 12, 12, 1, 1);
  const std::string sum = b.Op("QLinearAdd", "add", {c2, s, z, c1, s, z, s, z}, {"sum"}, {}, "com.microsoft");
  const std::string c3 = conv("c3", sum, 12, 12, 3, 2);
  b.Op("QLinearGlobalAveragePool", "gap", {c3, s, z, s, z}, {"y"}, {}, "com.microsoft");
  return b.Build();
}

TEST(KernelsExecutor, ConvChainRunsChannelsLastAndEqualsTheReference) {
  const uint32_t seed = ::testing::UnitTest::GetInstance()->random_seed();
  for (DType xt : {DType::kUInt8, DType::kInt8}) {
    const Graph g = ConvChain(seed, xt);
    GraphBuilder inputs("in", 13, seed + 1);
    const TensorMap in = {{"x", xt == DType::kUInt8 ? inputs.RandomInts(xt, {2, 5, 9, 7}, 0, 255)
                                                    : inputs.RandomInts(xt, {2, 5, 9, 7}, -128, 127)}};
    for (const HostPath& path : AvailableHostPaths()) {
      auto pg = PreparedGraph::Prepare(g, path.isa);
      ASSERT_TRUE(pg.ok());
      EXPECT_EQ(pg->channels_last_nodes(), FindQGemmKernel(path.isa)->pair_sat16 ? 0 : 3) << path.device;
      for (const std::string& prof_name : ClaimedProfiles(path.isa)) {
        const Profile prof = *ParseProfile(prof_name);
        ExecOptions opts;
        opts.capture_intermediates = true;
        auto want = RunReference(g, prof, in, opts);
        ASSERT_TRUE(want.ok()) << want.status().message();
        for (int threads : {1, 3}) {
          auto got = pg->Run(prof, in, opts, threads);
          ASSERT_TRUE(got.ok()) << got.status().message();
          EXPECT_EQ(got->outputs.at("y"), want->outputs.at("y"));
          ASSERT_EQ(got->intermediates.size(), want->intermediates.size());
          for (const auto& [name, t] : want->intermediates) {
            ASSERT_EQ(got->intermediates.at(name), t) << path.device << " profile=" << prof_name << " value=" << name
                                                       << " threads=" << threads << " seed=" << seed;
          }
        }
      }
    }
  }
  // A lone convolution: nothing next to it runs channels-last, so a short one (k = 5·3·3) keeps
  // the standard order, and a long one (k = 16·3·3) does not.
  Graph lone = ConvChain(seed, DType::kUInt8);
  lone.nodes.resize(1);
  lone.outputs = {{"c1_out", DType::kUInt8, {2, 12, 9, 7}}};
  GraphBuilder lb("lone_long", 13, seed + 3);  // one 3×3 convolution, 16 channels in: k = 144
  lb.Input("x", DType::kUInt8, {1, 16, 6, 6});
  lb.Output("y", DType::kUInt8, {1, 8, 6, 6});
  const std::string s = lb.Scalar("s", DType::kFloat32, 0.05), z = lb.Scalar("z", DType::kUInt8, 120);
  const std::string w = lb.Init("w", lb.RandomInts(DType::kInt8, {8, 16, 3, 3}, -128, 127));
  const std::string zw = lb.Scalar("zw", DType::kInt8, 0), sw = lb.Scalar("sw", DType::kFloat32, 0.003);
  lb.Op("QLinearConv", "conv", {"x", s, z, w, sw, zw, s, z}, {"y"}, {{"pads", Attribute::Ints({1, 1, 1, 1})}});
  const Graph lone_long = lb.Build();
  GraphBuilder more("in", 13, seed + 2);
  const TensorMap x_in = {{"x", more.RandomInts(DType::kUInt8, {1, 16, 6, 6}, 0, 255)}};
  for (const HostPath& path : AvailableHostPaths()) {
    EXPECT_EQ(PreparedGraph::Prepare(lone, path.isa)->channels_last_nodes(), 0);
    auto pg = PreparedGraph::Prepare(lone_long, path.isa);
    ASSERT_TRUE(pg.ok());
    EXPECT_EQ(pg->channels_last_nodes(), FindQGemmKernel(path.isa)->pair_sat16 ? 0 : 1) << path.device;
    const Profile prof = *ParseProfile(path.declared_profile);
    auto want = RunReference(lone_long, prof, x_in, {});
    auto got = pg->Run(prof, x_in, {}, 3);
    ASSERT_TRUE(want.ok() && got.ok());
    EXPECT_EQ(got->outputs.at("y"), want->outputs.at("y")) << path.device;
  }
}

// PrepareWeights packs only the form of the layout it is asked for (PreparedGraph asks for the
// one each node runs in); a run in the other layout is refused with one line, never a crash.
TEST(KernelsExecutor, PreparedWeightsHoldOnlyTheRequestedForm) {
  const uint32_t seed = ::testing::UnitTest::GetInstance()->random_seed();
  const Graph g = ConvChain(seed, DType::kUInt8);
  const Node& conv = g.nodes[1];  // c2: 1×1, group 1
  const Tensor& w = g.initializers.at(conv.inputs[3]);
  GraphBuilder b("in", 13, seed + 4);
  const Tensor x = b.RandomInts(DType::kUInt8, {2, 12, 9, 7}, 0, 255);
  std::vector<const Tensor*> in;
  for (const std::string& name : conv.inputs) in.push_back(name == conv.inputs[0] ? &x : &g.initializers.at(name));
  for (const HostPath& path : AvailableHostPaths()) {
    const QGemmKernel& kernel = *FindQGemmKernel(path.isa);
    if (kernel.pair_sat16) continue;  // one packed form only (PreparedWeights::groups)
    const PreparedWeights first = PrepareWeights(conv, kernel, w, WeightForms::kChannelsFirst);
    const PreparedWeights last = PrepareWeights(conv, kernel, w, WeightForms::kChannelsLast);
    const PreparedWeights both = PrepareWeights(conv, kernel, w);
    EXPECT_EQ(first.rows.size(), 1u) << path.device;
    EXPECT_TRUE(first.channels_last.empty()) << path.device;
    EXPECT_TRUE(last.rows.empty() && last.rows_raw.empty()) << path.device;
    EXPECT_EQ(last.channels_last.size(), 1u) << path.device;
    EXPECT_EQ(both.rows.size(), 1u) << path.device;
    EXPECT_EQ(both.channels_last.size(), 1u) << path.device;
    const Profile prof = *ParseProfile(path.declared_profile);
    auto want = RunReferenceNode(conv, prof, in);
    ASSERT_TRUE(want.ok());
    auto nchw = RunKernelNode(conv, kernel, prof, in, 2, &first, false);
    ASSERT_TRUE(nchw.ok()) << nchw.status().message();
    EXPECT_EQ(nchw->at(0), want->at(0)) << path.device;
    auto wrong = RunKernelNode(conv, kernel, prof, in, 2, &last, false);
    ASSERT_FALSE(wrong.ok()) << path.device;
    EXPECT_NE(wrong.status().message().find("channels-first weights not packed"), std::string::npos);
    const Tensor x_cl = ToChannelsLast(x);
    in[0] = &x_cl;
    wrong = RunKernelNode(conv, kernel, prof, in, 2, &first, true);
    ASSERT_FALSE(wrong.ok()) << path.device;
    EXPECT_NE(wrong.status().message().find("channels-last weights not packed"), std::string::npos);
    auto cl = RunKernelNode(conv, kernel, prof, in, 2, &last, true);
    ASSERT_TRUE(cl.ok()) << cl.status().message();
    EXPECT_EQ(ToChannelsFirst(cl->at(0)), want->at(0)) << path.device;
    in[0] = &x;
  }
}

TEST(KernelsExecutor, BuiltinSuiteOnEveryHostPathEqualsTheReference) {
  for (const BuiltinModel& m : BuiltinSuite()) {
    const Graph g = FuseQdq(m.graph, nullptr);
    for (const HostPath& path : AvailableHostPaths()) {
      for (const std::string& prof_name : ClaimedProfiles(path.isa)) {
        const Profile prof = *ParseProfile(prof_name);
        ExecOptions opts;
        opts.capture_intermediates = true;
        auto want = RunReference(g, prof, m.sample_inputs, opts);
        ASSERT_TRUE(want.ok());
        for (int threads : {1, 4}) {
          auto got = RunKernels(g, path.isa, prof, m.sample_inputs, opts, threads);
          ASSERT_TRUE(got.ok()) << got.status().message();
          for (const auto& [name, t] : want->intermediates) {
            ASSERT_EQ(got->intermediates.at(name), t) << m.name << " on " << path.device << " profile="
                                                       << prof_name << " value=" << name << " threads=" << threads;
          }
        }
      }
    }
  }
}

TEST(KernelsExecutor, Avx2PathIsTheFarmsFirstHardwareDivergence) {
  const auto paths = AvailableHostPaths();
  if (std::none_of(paths.begin(), paths.end(), [](const HostPath& p) { return p.isa == Isa::kAvx2; })) {
    GTEST_SKIP() << "no AVX2";
  }
  // The device computes avx2-u8s8; judged against `ort` it diverges on full-range weights.
  for (const BuiltinModel& m : BuiltinSuite()) {
    if (m.name != "mlp") continue;
    auto dev = RunKernels(m.graph, Isa::kAvx2, *ParseProfile("avx2-u8s8"), m.sample_inputs, {}, 1);
    auto ort = RunReference(m.graph, *ParseProfile("ort"), m.sample_inputs);
    auto avx2 = RunReference(m.graph, *ParseProfile("avx2-u8s8"), m.sample_inputs);
    ASSERT_TRUE(dev.ok() && ort.ok() && avx2.ok());
    EXPECT_EQ(dev->outputs.at("y"), avx2->outputs.at("y"));
    EXPECT_NE(dev->outputs.at("y"), ort->outputs.at("y"));
    auto refused = RunKernels(m.graph, Isa::kAvx2, *ParseProfile("ort"), m.sample_inputs, {}, 1);
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.status().message().find("pair_sat16"), std::string::npos);
  }
}

TEST(KernelsExecutor, HostDevicesRunTheSuiteWithTheirDeclaredProfileAndRefuseOthers) {
  const std::vector<HostDeviceInfo> devices = HostDevices();
  ASSERT_FALSE(devices.empty());
  ASSERT_EQ(devices.front().name, "host-scalar");
  EXPECT_TRUE(devices.front().available);
  EXPECT_EQ(devices.back().name, "host");
  const BuiltinModel suite_mlp = BuiltinSuite().front();
  for (const HostDeviceInfo& dev : devices) {
    EXPECT_NE(std::find(dev.profiles.begin(), dev.profiles.end(), dev.declared_profile), dev.profiles.end()) << dev.name;
    if (!dev.available) {
      auto refused = RunOnDevice(dev.name, suite_mlp.graph, "", suite_mlp.sample_inputs, {});
      ASSERT_FALSE(refused.ok()) << dev.name;
      EXPECT_NE(refused.status().message().find(dev.name), std::string::npos) << refused.status().message();
      continue;
    }
    for (const BuiltinModel& m : BuiltinSuite()) {
      auto want = RunReference(m.graph, *ParseProfile(dev.declared_profile), m.sample_inputs);
      ASSERT_TRUE(want.ok()) << want.status().message();
      for (int threads : {1, 3}) {
        auto got = RunOnDevice(dev.name, m.graph, "", m.sample_inputs, {}, threads);
        ASSERT_TRUE(got.ok()) << dev.name << " " << m.name << ": " << got.status().message();
        EXPECT_EQ(got->outputs.at("y"), want->outputs.at("y")) << dev.name << " " << m.name << " threads=" << threads;
      }
    }
    // A profile the path cannot compute exactly is refused, naming the device and the profile.
    auto refused = RunOnDevice(dev.name, suite_mlp.graph, "dsp-sat32", suite_mlp.sample_inputs, {});
    ASSERT_FALSE(refused.ok()) << dev.name;
    EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(refused.status().message().find("'" + dev.name + "'"), std::string::npos) << refused.status().message();
    EXPECT_NE(refused.status().message().find("dsp-sat32"), std::string::npos) << refused.status().message();
  }
  auto unknown = RunOnDevice("host-z80", suite_mlp.graph, "", suite_mlp.sample_inputs, {});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("host-z80"), std::string::npos);
}

TEST(KernelsExecutor, PreparedGraphPacksOnceAndHonoursOverriddenWeights) {
  for (const BuiltinModel& m : BuiltinSuite()) {
    for (const HostPath& path : AvailableHostPaths()) {
      auto pg = PreparedGraph::Prepare(m.graph, path.isa);
      ASSERT_TRUE(pg.ok()) << pg.status().message();
      const Profile prof = *ParseProfile(path.declared_profile);
      auto want = RunReference(m.graph, prof, m.sample_inputs);
      ASSERT_TRUE(want.ok());
      for (int run = 0; run < 2; ++run) {
        auto got = pg->Run(prof, m.sample_inputs, {}, 1 + run * 2);
        ASSERT_TRUE(got.ok()) << got.status().message();
        EXPECT_EQ(got->outputs.at("y"), want->outputs.at("y")) << m.name << " on " << path.device << " run " << run;
      }
      // Inputs may override an initializer: the packed copy must not be used for it.
      for (const Node& node : m.graph.nodes) {
        if (node.op_type != "QLinearMatMul" && node.op_type != "QLinearConv") continue;
        const std::string& wname = node.inputs[3];
        if (!m.graph.initializers.count(wname)) continue;
        TensorMap inputs = m.sample_inputs;
        Tensor w = m.graph.initializers.at(wname);
        for (int64_t i = 0; i < w.numel(); i += 3) w.SetInt(i, -w.GetInt(i) / 2);
        inputs[wname] = w;
        auto want2 = RunReference(m.graph, prof, inputs);
        auto got2 = pg->Run(prof, inputs, {}, 1);
        ASSERT_TRUE(want2.ok() && got2.ok());
        EXPECT_EQ(got2->outputs.at("y"), want2->outputs.at("y")) << m.name << " on " << path.device << " with "
                                                                  << wname << " overridden";
        EXPECT_NE(want2->outputs.at("y"), want->outputs.at("y")) << "the override should matter: " << wname;
        break;
      }
      if (m.name == "mlp" || m.name == "mobilenet_block") {
        EXPECT_GT(pg->packed_nodes(), 0) << m.name;
      }
    }
  }
}

// A prepared graph remembers its nodes' inferred output shapes (kernels/infer_memo.h); a run
// whose inputs override a scale or zero point with a bad value must still be refused, and a good
// run after it must still succeed with the same bytes.
TEST(KernelsExecutor, PreparedGraphStillChecksEveryRunsQuantizationParameters) {
  const BuiltinModel m = BuiltinSuite()[2];  // mobilenet_block
  ASSERT_EQ(m.name, "mobilenet_block");
  for (const HostPath& path : AvailableHostPaths()) {
    auto pg = PreparedGraph::Prepare(m.graph, path.isa);
    ASSERT_TRUE(pg.ok());
    const Profile prof = *ParseProfile(path.declared_profile);
    auto good = pg->Run(prof, m.sample_inputs, {}, 1);
    ASSERT_TRUE(good.ok()) << good.status().message();
    const std::pair<std::string, Tensor> bad[] = {
        {"pw_expand.out_scale", Tensor::Scalar(DType::kFloat32, 0.0)},
        {"pw_expand.out_scale", Tensor::Scalar(DType::kFloat32, std::nan(""))},
        {"dw3x3.in_scale", Tensor::Scalar(DType::kFloat32, -0.5)},
        {"pw_project.w_scale", Tensor::FromDoubles(DType::kFloat32, {16}, std::vector<double>(16, 0.0))},
    };
    for (const auto& [name, value] : bad) {
      ASSERT_TRUE(m.graph.initializers.count(name)) << name;
      TensorMap inputs = m.sample_inputs;
      inputs[name] = value;
      auto got = pg->Run(prof, inputs, {}, 1);
      EXPECT_FALSE(got.ok()) << path.device << ": " << name << " overridden with a bad value was accepted";
      auto again = pg->Run(prof, m.sample_inputs, {}, 1);
      ASSERT_TRUE(again.ok()) << again.status().message();
      EXPECT_EQ(again->outputs.at("y"), good->outputs.at("y")) << path.device << " after " << name;
    }
  }
}

// A prepared node keeps its plan (geometry, zero points, biases, requantization parameters:
// kernels/op_plan.h) per input signature and profile: runs that change the profile or a small
// input between them must each equal the reference for what they were given.
TEST(KernelsExecutor, PreparedNodesPlanAfreshWhenTheProfileOrASmallInputChanges) {
  const std::map<std::string, std::vector<std::string>> changed = {
      {"mobilenet_block", {"pw_expand.out_scale", "pw_project.bias", "pw_project.w_scale"}},
      {"mlp", {"w.scale", "w.zp", "logits.scale"}}};
  for (const BuiltinModel& m : BuiltinSuite()) {
    if (!changed.count(m.name)) continue;
    for (const HostPath& path : AvailableHostPaths()) {
      auto pg = PreparedGraph::Prepare(m.graph, path.isa);
      ASSERT_TRUE(pg.ok()) << pg.status().message();
      for (int round = 0; round < 2; ++round) {
        for (const std::string& name : ClaimedProfiles(path.isa)) {
          const Profile prof = *ParseProfile(name);
          auto want = RunReference(m.graph, prof, m.sample_inputs);
          auto got = pg->Run(prof, m.sample_inputs, {}, 1);
          ASSERT_TRUE(want.ok() && got.ok()) << m.name << " " << name;
          EXPECT_EQ(got->outputs.at("y"), want->outputs.at("y")) << m.name << " on " << path.device << " as " << name;
        }
      }
      const Profile prof = *ParseProfile(path.declared_profile);
      auto base = RunReference(m.graph, prof, m.sample_inputs);
      ASSERT_TRUE(base.ok());
      for (const std::string& name : changed.at(m.name)) {
        ASSERT_TRUE(m.graph.initializers.count(name)) << name;
        Tensor t = m.graph.initializers.at(name);
        for (int64_t i = 0; i < t.numel(); ++i) {
          if (t.dtype() == DType::kFloat32) t.SetDouble(i, t.GetDouble(i) * 1.5);
          else if (t.dtype() == DType::kInt32) t.SetInt(i, -t.GetInt(i));
          else t.SetInt(i, t.GetInt(i) + 3);
        }
        TensorMap inputs = m.sample_inputs;
        inputs[name] = t;
        auto want = RunReference(m.graph, prof, inputs);
        auto got = pg->Run(prof, inputs, {}, 1);
        ASSERT_TRUE(want.ok() && got.ok()) << name;
        EXPECT_EQ(got->outputs.at("y"), want->outputs.at("y")) << m.name << " on " << path.device << " with " << name;
        EXPECT_NE(want->outputs.at("y"), base->outputs.at("y")) << "the change should matter: " << name;
        auto again = pg->Run(prof, m.sample_inputs, {}, 1);
        ASSERT_TRUE(again.ok());
        EXPECT_EQ(again->outputs.at("y"), base->outputs.at("y")) << m.name << " on " << path.device << " after " << name;
      }
    }
  }
}

// Inputs of more than kInferConstantElements elements are not compared by the memo, so a plan
// that read one must not be kept — nor may an earlier signature's plan outlive a change of
// signature to such inputs: runs of one prepared node (4100 output channels) alternate a
// per-tensor and a per-channel weight scale, no bias and two different biases.
TEST(KernelsExecutor, PreparedNodesDoNotKeepTheValuesOfLargeInputs) {
  constexpr int64_t kCout = kInferConstantElements + 4;
  GraphBuilder b("large_inputs", 13, 7);
  const Tensor x = b.RandomInts(DType::kUInt8, {1, 4, 1, 2}, 0, 255), w = b.RandomInts(DType::kInt8, {kCout, 4, 1, 1}, -128, 127);
  const Tensor sx = Tensor::Scalar(DType::kFloat32, 0.02), zx = Tensor::Scalar(DType::kUInt8, 7);
  const Tensor sw = Tensor::Scalar(DType::kFloat32, 0.01), zw = Tensor::Scalar(DType::kInt8, 0);
  const Tensor sy = Tensor::Scalar(DType::kFloat32, 0.5), zy = Tensor::Scalar(DType::kUInt8, 100);
  Tensor sw_channels(DType::kFloat32, {kCout}), zw_channels(DType::kInt8, {kCout});
  for (int64_t i = 0; i < kCout; ++i) sw_channels.SetDouble(i, 0.002 + 0.001 * static_cast<double>(i % 17));
  Tensor bias0 = b.RandomInts(DType::kInt32, {kCout}, -5000, 5000), bias1 = bias0;
  for (int64_t i = 0; i < kCout; ++i) bias1.SetInt(i, -bias0.GetInt(i));
  struct Variant {
    const char* what;
    const Tensor *sw, *zw, *bias;
  };
  const Variant scalar{"per-tensor scale", &sw, &zw, nullptr}, channels{"per-channel scale", &sw_channels, &zw_channels, nullptr};
  const Variant b0{"bias", &sw, &zw, &bias0}, b1{"bias negated", &sw, &zw, &bias1};
  for (const HostPath& path : AvailableHostPaths()) {
    if (path.isa == Isa::kScalar) continue;
    const QGemmKernel& kernel = *FindQGemmKernel(path.isa);
    const Profile prof = *ParseProfile(path.declared_profile);
    std::vector<const Tensor*> in;
    const Node with_bias = MakeConvNode(false, {}, {&x, &sx, &zx, &w, &sw, &zw, &sy, &zy, &bias0}, &in);
    const PreparedWeights prepared = PrepareWeights(with_bias, kernel, w);
    std::map<std::string, Tensor> wants;
    for (const Variant* v : {&scalar, &scalar, &channels, &channels, &b0, &b0, &b1, &b1, &scalar}) {
      const Node node = MakeConvNode(false, {}, {&x, &sx, &zx, &w, v->sw, v->zw, &sy, &zy, v->bias}, &in);
      auto want = RunReferenceNode(node, prof, in);
      auto got = RunKernelNode(node, kernel, prof, in, 1, &prepared);
      ASSERT_TRUE(want.ok() && got.ok()) << path.device << " " << v->what;
      EXPECT_EQ(got->at(0), want->at(0)) << path.device << " with the " << v->what;
      wants[v->what] = want->at(0);
    }
    EXPECT_NE(wants.at("per-tensor scale"), wants.at("per-channel scale")) << "the scales should matter";
    EXPECT_NE(wants.at("bias"), wants.at("bias negated")) << "the bias should matter";
  }
}

// A QLinearMatMul whose requantization lands on ties (multiplier 1/2): the claimed profiles
// round them differently, and a prepared node must requantize as the profile of each call.
TEST(KernelsExecutor, PreparedMatMulRequantizesAsEachCallsProfile) {
  GraphBuilder b("ties", 13, 11);
  // Small values (|a − za| ≤ 3, |w| ≤ 2): |acc| ≤ 192, so acc/2 stays inside int8 and every odd
  // acc is a tie.
  const Tensor a = b.RandomInts(DType::kUInt8, {4, 32}, 125, 131), w = b.RandomInts(DType::kInt8, {32, 24}, -2, 2);
  const Tensor sa = Tensor::Scalar(DType::kFloat32, 0.5), za = Tensor::Scalar(DType::kUInt8, 128);
  const Tensor sw = Tensor::Scalar(DType::kFloat32, 0.25), zw = Tensor::Scalar(DType::kInt8, 0);
  const Tensor sy = Tensor::Scalar(DType::kFloat32, 0.25), zy = Tensor::Scalar(DType::kInt8, 0);
  Node node;
  node.name = "mm";
  node.op_type = "QLinearMatMul";
  node.inputs = {"a", "sa", "za", "w", "sw", "zw", "sy", "zy"};
  node.outputs = {"y"};
  const std::vector<const Tensor*> in = {&a, &sa, &za, &w, &sw, &zw, &sy, &zy};
  for (const HostPath& path : AvailableHostPaths()) {
    const QGemmKernel& kernel = *FindQGemmKernel(path.isa);
    const PreparedWeights prepared = PrepareWeights(node, kernel, w);
    std::set<std::vector<std::byte>> distinct;
    for (int round = 0; round < 2; ++round) {
      for (const std::string& name : ClaimedProfiles(path.isa)) {
        const Profile prof = *ParseProfile(name);
        auto want = RunReferenceNode(node, prof, in);
        auto got = RunKernelNode(node, kernel, prof, in, 1, &prepared);
        ASSERT_TRUE(want.ok() && got.ok()) << path.device << " " << name;
        EXPECT_EQ(got->at(0), want->at(0)) << path.device << " as " << name << " (round " << round << ")";
        const auto bytes = want->at(0).bytes();
        distinct.emplace(bytes.begin(), bytes.end());
      }
    }
    if (ClaimedProfiles(path.isa).size() > 1) {
      EXPECT_GE(distinct.size(), 2u) << path.device << ": the profiles should round the ties differently";
    }
  }
}

}  // namespace
}  // namespace qfarm::kernels
