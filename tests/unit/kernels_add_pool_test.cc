// Add and pooling tester (STYLE.md item 7): the kernel forms of QLinearAdd, QLinearAveragePool
// and QLinearGlobalAveragePool against reference/'s RunReferenceNode on one-node graphs, zero
// tolerance, for every named profile: where the kernels claim the arithmetic (float32, float64;
// integer pooling) they must run and agree, elsewhere they must decline (NotFound) so the
// executor uses the reference. Sweeps broadcasting shapes, int8/uint8 in and out, zero points
// and values at the type extremes, scale ratios, pooling windows with pads, strides, dilation,
// ceil_mode and count_include_pad; 1 and 3 threads.
#include <gtest/gtest.h>

#include <random>
#include <sstream>

#include "kernels/add_pool.h"
#include "kernels/executor.h"
#include "reference/ops.h"

namespace qfarm::kernels {
namespace {

std::string ShapeText(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out + "]";
}

// The first differing element, for the failure message.
std::string FirstDifference(const Tensor& got, const Tensor& want) {
  if (got.dtype() != want.dtype() || got.shape() != want.shape()) {
    return "type/shape differ: " + ShapeText(got.shape()) + " vs " + ShapeText(want.shape());
  }
  for (int64_t i = 0; i < got.numel(); ++i) {
    if (got.GetInt(i) != want.GetInt(i)) {
      return "element " + std::to_string(i) + ": kernel " + std::to_string(got.GetInt(i)) + ", reference " +
             std::to_string(want.GetInt(i));
    }
  }
  return "equal";
}

Tensor RandomTensor(std::mt19937& rng, DType t, const Shape& shape, bool extremes) {
  Tensor x(t, shape);
  const int64_t lo = DTypeMin(t), hi = DTypeMax(t);
  for (int64_t i = 0; i < x.numel(); ++i) {
    x.SetInt(i, extremes ? (rng() % 2 ? lo : hi) : lo + static_cast<int64_t>(rng() % 256));
  }
  return x;
}

int64_t ExtremeOrRandomZero(std::mt19937& rng, DType t) {
  switch (rng() % 4) {
    case 0: return DTypeMin(t);
    case 1: return DTypeMax(t);
    default: return DTypeMin(t) + static_cast<int64_t>(rng() % 256);
  }
}

// Kernel vs reference for one node under one profile; `claims`: whether the kernel must run.
void ExpectAgrees(const Node& node, const std::vector<const Tensor*>& in, const std::string& prof_name,
                  bool claims, const std::string& what, uint32_t seed) {
  const Profile prof = *ParseProfile(prof_name);
  auto want = RunReferenceNode(node, prof, in);
  ASSERT_TRUE(want.ok()) << what << ": " << want.status().message();
  for (int threads : {1, 3}) {
    auto got = node.op_type == "QLinearAdd" ? KernelQLinearAdd(node, prof, in, threads)
                                            : KernelQLinearAveragePool(node, prof, in, node.op_type != "QLinearAveragePool", threads);
    if (!claims) {
      ASSERT_FALSE(got.ok()) << what << " profile=" << prof_name << ": the kernel should decline";
      ASSERT_EQ(got.status().code(), StatusCode::kNotFound) << got.status().message();
      return;
    }
    ASSERT_TRUE(got.ok()) << what << " profile=" << prof_name << ": " << got.status().message();
    ASSERT_EQ((*got)[0], (*want)[0]) << what << " profile=" << prof_name << " threads=" << threads
                                     << " seed=" << seed << ": " << FirstDifference((*got)[0], (*want)[0]);
  }
}

bool AddClaims(const Profile& p) { return p.requant == Requant::kFloat32 || p.requant == Requant::kFloat64; }

struct AddCase {
  Shape a, b;
  DType ta, tb, ty;
  double sa, sb, sy;
  bool extremes;
  std::string Describe() const {
    std::ostringstream s;
    s << "QLinearAdd a=" << ShapeText(a) << DTypeName(ta) << " b=" << ShapeText(b) << DTypeName(tb)
      << " y=" << DTypeName(ty) << " sa=" << sa << " sb=" << sb << " sy=" << sy << " extremes=" << extremes;
    return s.str();
  }
};

TEST(KernelsAddPool, QLinearAddEqualsReferenceForEveryProfile) {
  const uint32_t seed = ::testing::UnitTest::GetInstance()->random_seed();
  std::mt19937 rng(seed);
  const DType u8 = DType::kUInt8, s8 = DType::kInt8;
  std::vector<AddCase> cases = {
      {{1, 128}, {1, 128}, s8, s8, s8, 0.05, 0.02, 0.04, false},
      {{2, 3, 5, 7}, {2, 3, 5, 7}, u8, u8, u8, 0.1, 0.1, 0.2, true},     // exact ties: halves
      {{3, 1, 1}, {2, 3, 5, 7}, s8, s8, s8, 0.4, 0.013, 0.05, false},    // constant a over the span
      {{5, 1}, {5, 1}, u8, u8, u8, 0.25, 0.5, 0.125, false},            // innermost run of 1
      {{2, 3, 5, 7}, {3, 1, 1}, s8, s8, s8, 0.013, 0.7, 0.05, false},    // channel broadcast
      {{4, 1, 6}, {1, 5, 1}, u8, u8, u8, 0.5, 0.25, 0.125, true},        // both broadcast
      {{67}, {1}, u8, u8, u8, 1e-3, 3.0, 1e-2, false},                   // scalar operand
      {{}, {}, s8, s8, s8, 0.3, 0.3, 0.3, false},                         // rank 0
      {{1, 16, 16, 16}, {1, 16, 16, 16}, u8, u8, u8, 0.02, 0.03, 1e-6, false},  // saturating
  };
  int checked = 0;
  for (const AddCase& t : cases) {
    const Tensor a = RandomTensor(rng, t.ta, t.a, t.extremes), b = RandomTensor(rng, t.tb, t.b, t.extremes);
    const Tensor sa = Tensor::Scalar(DType::kFloat32, t.sa), sb = Tensor::Scalar(DType::kFloat32, t.sb),
                 sy = Tensor::Scalar(DType::kFloat32, t.sy);
    const Tensor za = Tensor::Scalar(t.ta, static_cast<double>(ExtremeOrRandomZero(rng, t.ta)));
    const Tensor zb = Tensor::Scalar(t.tb, static_cast<double>(ExtremeOrRandomZero(rng, t.tb)));
    const Tensor zy = Tensor::Scalar(t.ty, static_cast<double>(ExtremeOrRandomZero(rng, t.ty)));
    Node n;
    n.name = "add";
    n.op_type = "QLinearAdd";
    n.domain = "com.microsoft";
    n.inputs = {"a", "sa", "za", "b", "sb", "zb", "sy", "zy"};
    n.outputs = {"y"};
    const std::vector<const Tensor*> in = {&a, &sa, &za, &b, &sb, &zb, &sy, &zy};
    const std::string what = t.Describe() + " za=" + std::to_string(za.GetInt(0)) + " zb=" +
                             std::to_string(zb.GetInt(0)) + " zy=" + std::to_string(zy.GetInt(0));
    for (const NamedProfile& np : NamedProfiles()) {
      ExpectAgrees(n, in, std::string(np.name), AddClaims(*ParseProfile(np.name)), what, seed);
      ++checked;
    }
    for (const char* text : {"requant=float32,rounding=half_away", "requant=float64,rounding=floor",
                             "requant=float32,rounding=trunc"}) {
      ExpectAgrees(n, in, text, true, what, seed);
    }
  }
  EXPECT_EQ(checked, static_cast<int>(cases.size() * NamedProfiles().size()));
}

struct PoolCase {
  Shape x;
  DType tx, ty;
  bool global;
  int64_t k0, k1, stride, dilation, pad_begin, pad_end;
  bool ceil_mode, include_pad, same_scale, extremes;
  std::string Describe() const {
    std::ostringstream s;
    s << (global ? "QLinearGlobalAveragePool" : "QLinearAveragePool") << " x=" << ShapeText(x) << DTypeName(tx)
      << " y=" << DTypeName(ty) << " kernel=" << k0 << "x" << k1 << " stride=" << stride << " dilation=" << dilation
      << " pads=" << pad_begin << "/" << pad_end << " ceil_mode=" << ceil_mode << " count_include_pad="
      << include_pad << " same_scale=" << same_scale << " extremes=" << extremes;
    return s.str();
  }
};

TEST(KernelsAddPool, AveragePoolsEqualReferenceForEveryProfile) {
  const uint32_t seed = ::testing::UnitTest::GetInstance()->random_seed();
  std::mt19937 rng(seed);
  const DType u8 = DType::kUInt8, s8 = DType::kInt8;
  std::vector<PoolCase> cases = {
      {{1, 16, 8, 8}, u8, u8, false, 2, 2, 2, 1, 0, 0, false, false, true, false},
      {{2, 3, 9, 7}, s8, s8, false, 3, 3, 1, 1, 1, 1, false, false, false, false},
      {{2, 3, 9, 7}, s8, s8, false, 3, 3, 1, 1, 1, 1, false, true, true, true},
      {{1, 5, 10, 11}, u8, u8, false, 3, 2, 2, 1, 1, 0, true, false, false, false},
      {{1, 4, 12, 12}, s8, s8, false, 5, 5, 3, 1, 2, 2, true, true, false, true},
      {{1, 2, 13, 9}, u8, u8, false, 3, 3, 2, 2, 2, 1, false, false, true, false},
      {{1, 67, 1, 1}, u8, u8, false, 1, 1, 1, 1, 0, 0, false, false, false, false},
      {{1, 16, 8, 8}, u8, u8, true, 0, 0, 1, 1, 0, 0, false, false, false, false},
      {{3, 7, 5, 3}, s8, s8, true, 0, 0, 1, 1, 0, 0, false, false, true, true},
      {{1, 2, 56, 56}, u8, u8, true, 0, 0, 1, 1, 0, 0, false, false, false, false},
  };
  int checked = 0;
  for (const PoolCase& t : cases) {
    const Tensor x = RandomTensor(rng, t.tx, t.x, t.extremes);
    const double s = 0.001 + (rng() % 1000) * 1e-4;
    const Tensor sx = Tensor::Scalar(DType::kFloat32, s);
    const Tensor sy = Tensor::Scalar(DType::kFloat32, t.same_scale ? s : s * (0.3 + (rng() % 100) * 0.02));
    const Tensor zx = Tensor::Scalar(t.tx, static_cast<double>(ExtremeOrRandomZero(rng, t.tx)));
    const Tensor zy = Tensor::Scalar(t.ty, t.same_scale && t.tx == t.ty ? zx.GetDouble(0)
                                                                       : static_cast<double>(ExtremeOrRandomZero(rng, t.ty)));
    Node n;
    n.name = "pool";
    n.op_type = t.global ? "QLinearGlobalAveragePool" : "QLinearAveragePool";
    n.domain = "com.microsoft";
    n.inputs = {"x", "sx", "zx", "sy", "zy"};
    n.outputs = {"y"};
    if (!t.global) {
      n.attrs["kernel_shape"] = Attribute::Ints({t.k0, t.k1});
      n.attrs["strides"] = Attribute::Ints({t.stride, t.stride});
      if (t.dilation != 1) n.attrs["dilations"] = Attribute::Ints({t.dilation, t.dilation});
      n.attrs["pads"] = Attribute::Ints({t.pad_begin, t.pad_begin, t.pad_end, t.pad_end});
      n.attrs["ceil_mode"] = Attribute::Int(t.ceil_mode);
      n.attrs["count_include_pad"] = Attribute::Int(t.include_pad);
    }
    // The output's element type comes from its zero point.
    const std::vector<const Tensor*> in = {&x, &sx, &zx, &sy, &zy};
    const std::string what = t.Describe() + " sx=" + std::to_string(sx.GetDouble(0)) + " sy=" +
                             std::to_string(sy.GetDouble(0)) + " zx=" + std::to_string(zx.GetInt(0)) +
                             " zy=" + std::to_string(zy.GetInt(0));
    for (const NamedProfile& np : NamedProfiles()) {
      ExpectAgrees(n, in, std::string(np.name), true, what, seed);
      ++checked;
    }
  }
  EXPECT_EQ(checked, static_cast<int>(cases.size() * NamedProfiles().size()));
}

TEST(KernelsAddPool, ExecutorRoutesAddAndPoolsToTheKernels) {
  // A node the kernels decline (fixed-point Add) still runs, on the reference.
  const Tensor a = Tensor::FromInts(DType::kInt8, {2}, {-128, 127});
  const Tensor s = Tensor::Scalar(DType::kFloat32, 0.5), z = Tensor::Scalar(DType::kInt8, 0);
  Node n;
  n.name = "add";
  n.op_type = "QLinearAdd";
  n.domain = "com.microsoft";
  n.inputs = {"a", "s", "z", "a", "s", "z", "s", "z"};
  n.outputs = {"y"};
  const std::vector<const Tensor*> in = {&a, &s, &z, &a, &s, &z, &s, &z};
  auto declined = KernelQLinearAdd(n, *ParseProfile("tflite"), in, 1);
  ASSERT_FALSE(declined.ok());
  EXPECT_EQ(declined.status().code(), StatusCode::kNotFound);
  auto via_node = RunKernelNode(n, *FindQGemmKernel(Isa::kScalar), *ParseProfile("ort"), in, 1);
  ASSERT_TRUE(via_node.ok()) << via_node.status().message();
  EXPECT_EQ((*via_node)[0], (*RunReferenceNode(n, *ParseProfile("ort"), in))[0]);
}

}  // namespace
}  // namespace qfarm::kernels
