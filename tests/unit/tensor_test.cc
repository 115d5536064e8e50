// Tensor IR: float16 conversions (every half value, ties, subnormals, overflow, one rounding from
// double), element access across every dtype, factories, Reshape errors, and graph helpers.
// Expected values come from IEEE definitions computed independently here (ldexp, exact
// arithmetic), never from the code under test.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

#include "model/graph.h"
#include "model/tensor.h"

namespace qfarm {
namespace {

// Value of a half bit pattern from the IEEE binary16 definition.
double HalfValue(uint16_t h) {
  const int sign = h >> 15, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  double v;
  if (exp == 0) v = std::ldexp(mant, -24);
  else if (exp == 31) v = mant ? std::nan("") : INFINITY;
  else v = std::ldexp(1024 + mant, exp - 25);
  return sign ? -v : v;
}

TEST(Float16, EveryHalfWidensExactlyAndRoundTrips) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const double want = HalfValue(static_cast<uint16_t>(h));
    const float f = HalfToFloat(static_cast<uint16_t>(h));
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(f)) << h;
      EXPECT_EQ(FloatToHalf(f) & 0x7c00, 0x7c00) << h;
      EXPECT_NE(FloatToHalf(f) & 0x3ff, 0) << h;  // stays a NaN, not inf
      continue;
    }
    ASSERT_EQ(static_cast<double>(f), want) << h;
    ASSERT_EQ(FloatToHalf(f), h) << h;
  }
}

// Between consecutive finite halves a < b: the midpoint rounds to the one with an even
// mantissa, anything a float ulp away rounds to the nearer one.
TEST(Float16, MidpointsRoundHalfEvenAndNeighboursToNearest) {
  for (uint16_t a = 0; a < 0x7bff; ++a) {
    const uint16_t b = a + 1;
    const double lo = HalfValue(a), hi = HalfValue(b);
    const float mid = static_cast<float>((lo + hi) / 2);  // exact: halves have 11 bits
    ASSERT_EQ(static_cast<double>(mid), (lo + hi) / 2);
    const uint16_t even = (a & 1) ? b : a;
    ASSERT_EQ(FloatToHalf(mid), even) << "between " << a << " and " << b;
    ASSERT_EQ(FloatToHalf(std::nextafter(mid, 0.0f)), a) << a;
    ASSERT_EQ(FloatToHalf(std::nextafter(mid, INFINITY)), b) << a;
    ASSERT_EQ(FloatToHalf(-mid), even | 0x8000) << a;
  }
}

TEST(Float16, EdgeValues) {
  EXPECT_EQ(FloatToHalf(0.0f), 0x0000);
  EXPECT_EQ(FloatToHalf(-0.0f), 0x8000);
  EXPECT_EQ(FloatToHalf(65504.0f), 0x7bff);                 // max finite
  EXPECT_EQ(FloatToHalf(65519.99f), 0x7bff);                // below the tie
  EXPECT_EQ(FloatToHalf(65520.0f), 0x7c00);                 // tie with 2^16: even is inf
  EXPECT_EQ(FloatToHalf(1e10f), 0x7c00);
  EXPECT_EQ(FloatToHalf(-INFINITY), 0xfc00);
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -24)), 0x0001);   // smallest subnormal
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -25)), 0x0000);   // tie with 0: even is 0
  EXPECT_EQ(FloatToHalf(std::ldexp(3.0f, -26)), 0x0001);   // 0.75 ulp: up
  EXPECT_EQ(FloatToHalf(std::ldexp(3.0f, -25)), 0x0002);   // 1.5 ulp: tie, even is 2
  EXPECT_EQ(FloatToHalf(std::ldexp(1023.5f, -24)), 0x0400);  // largest subnormal tie → min normal
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -14)), 0x0400);   // smallest normal
  EXPECT_EQ(FloatToHalf(1e-30f), 0x0000);
  EXPECT_EQ(HalfToFloat(0x3c00), 1.0f);
  EXPECT_EQ(HalfToFloat(0xc000), -2.0f);
}

TEST(Float16, SetDoubleRoundsOnceFromDouble) {
  // 1 + 2^-11 + 2^-40 lies just above the midpoint of 1 and 1 + 2^-10. Rounding to float first
  // would land exactly on the midpoint and then tie to even (1.0); one rounding gives 1 + 2^-10.
  Tensor t(DType::kFloat16, {2});
  t.SetDouble(0, 1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40));
  t.SetDouble(1, 1.0 + std::ldexp(1.0, -11));  // the exact tie: even → 1.0
  EXPECT_EQ(t.data<uint16_t>()[0], 0x3c01);
  EXPECT_EQ(t.data<uint16_t>()[1], 0x3c00);
  EXPECT_EQ(t.GetDouble(0), 1.0 + std::ldexp(1.0, -10));
}

TEST(Tensor, IntegerRoundTripsAtTheEdgesOfEveryType) {
  const DType types[] = {DType::kInt4, DType::kUInt4, DType::kInt8, DType::kUInt8, DType::kInt16,
                         DType::kUInt16, DType::kInt32, DType::kInt64};
  for (DType t : types) {
    SCOPED_TRACE(std::string(DTypeName(t)));
    const std::vector<int64_t> v = {DTypeMin(t), DTypeMin(t) + 1, 0, 1, DTypeMax(t) - 1, DTypeMax(t)};
    Tensor x = Tensor::FromInts(t, {2, 3}, v);
    EXPECT_EQ(x.numel(), 6);
    EXPECT_EQ(x.bytes().size(), 6 * DTypeSize(t));
    for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(x.GetInt(i), v[static_cast<size_t>(i)]);
    // SetDouble on integers truncates toward zero and saturates to the range.
    x.SetDouble(0, -2.9);
    EXPECT_EQ(x.GetInt(0), DTypeMin(t) < 0 ? -2 : 0);
    x.SetDouble(1, 1e300);
    EXPECT_EQ(x.GetInt(1), DTypeMax(t));
    x.SetDouble(2, -1e300);
    EXPECT_EQ(x.GetInt(2), DTypeMin(t));
    x.SetDouble(3, std::nan(""));
    EXPECT_EQ(x.GetInt(3), 0);
  }
  EXPECT_EQ(DTypeMin(DType::kInt4), -8);
  EXPECT_EQ(DTypeMax(DType::kUInt4), 15);
}

TEST(Tensor, SetIntWrapsLikeATwosComplementStore) {
  Tensor x(DType::kInt8, {2});
  x.SetInt(0, 200);
  x.SetInt(1, -129);
  EXPECT_EQ(x.GetInt(0), 200 - 256);
  EXPECT_EQ(x.GetInt(1), 127);
}

TEST(Tensor, FloatAccessAcrossFloatTypes) {
  Tensor f32 = Tensor::FromDoubles(DType::kFloat32, {3}, {0.1, -2.5, 1e39});
  EXPECT_EQ(f32.GetDouble(0), static_cast<double>(0.1f));
  EXPECT_EQ(f32.GetDouble(1), -2.5);
  EXPECT_TRUE(std::isinf(f32.GetDouble(2)));
  EXPECT_EQ(f32.GetInt(1), -2);  // truncates toward zero
  EXPECT_EQ(f32.GetInt(2), std::numeric_limits<int64_t>::max());  // saturates
  Tensor f64 = Tensor::FromDoubles(DType::kFloat64, {1}, {0.1});
  EXPECT_EQ(f64.GetDouble(0), 0.1);
  Tensor f16 = Tensor::FromDoubles(DType::kFloat16, {2}, {0.1, 70000});
  EXPECT_EQ(f16.GetDouble(0), HalfValue(0x2e66));  // 0.1 → nearest half 0x2e66
  EXPECT_TRUE(std::isinf(f16.GetDouble(1)));
  // SetInt on floats: one rounding from the exact integer.
  Tensor g(DType::kFloat32, {1});
  g.SetInt(0, (int64_t{1} << 53) + 1);  // rounds to 2^53 in float32 (ties even), not via double
  EXPECT_EQ(g.GetDouble(0), std::ldexp(1.0, 53));
  g.SetInt(0, (int64_t{1} << 24) + 1);
  EXPECT_EQ(g.GetDouble(0), std::ldexp(1.0, 24));
  Tensor d(DType::kFloat64, {1});
  d.SetInt(0, (int64_t{1} << 53) + 1);
  EXPECT_EQ(d.GetDouble(0), std::ldexp(1.0, 53));
}

TEST(Tensor, RandomRoundTripThroughGetSet) {
  const uint32_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (DType t : {DType::kInt8, DType::kUInt8, DType::kInt16, DType::kUInt16, DType::kInt32,
                  DType::kInt64, DType::kInt4, DType::kUInt4}) {
    Tensor x(t, {7, 5});
    std::vector<int64_t> want;
    for (int64_t i = 0; i < x.numel(); ++i) {
      const uint64_t span = static_cast<uint64_t>(DTypeMax(t)) - static_cast<uint64_t>(DTypeMin(t));
      const uint64_t r = span == UINT64_MAX ? rng() : rng() % (span + 1);
      const int64_t v = static_cast<int64_t>(static_cast<uint64_t>(DTypeMin(t)) + r);
      want.push_back(v);
      x.SetInt(i, v);
    }
    Tensor y = Tensor::FromInts(t, {7, 5}, want);
    EXPECT_TRUE(x == y);
    for (int64_t i = 0; i < x.numel(); ++i) ASSERT_EQ(x.GetInt(i), want[static_cast<size_t>(i)]);
  }
}

TEST(Tensor, ScalarShapesAndNames) {
  Tensor s = Tensor::Scalar(DType::kFloat32, 0.5);
  EXPECT_EQ(s.rank(), 0u);
  EXPECT_EQ(s.numel(), 1);
  EXPECT_EQ(s.GetDouble(0), 0.5);
  EXPECT_EQ(NumElements({2, 0, 5}), 0);
  EXPECT_EQ(NumElements({2, -1}), -1);
  EXPECT_EQ(NumElements({int64_t{1} << 40, int64_t{1} << 40}), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(ShapeToString({1, 3, 224, 224}), "[1,3,224,224]");
  EXPECT_EQ(ShapeToString({}), "[]");
  EXPECT_EQ(DTypeName(DType::kFloat32), "float");
  EXPECT_EQ(DTypeSize(DType::kInt4), 1u);
  EXPECT_EQ(DTypeSize(DType::kFloat16), 2u);
  EXPECT_TRUE(IsIntegerType(DType::kUInt4));
  EXPECT_FALSE(IsIntegerType(DType::kFloat16));
  EXPECT_FALSE(IsIntegerType(DType::kUndefined));
  ASSERT_TRUE(DTypeFromOnnx(22).ok());
  EXPECT_EQ(*DTypeFromOnnx(22), DType::kInt4);
  EXPECT_FALSE(DTypeFromOnnx(9).ok());   // bool
  EXPECT_FALSE(DTypeFromOnnx(13).ok());  // uint32
  EXPECT_FALSE(DTypeFromOnnx(-1).ok());
}

TEST(Tensor, ReshapeKeepsBytesOrFailsWithBothShapes) {
  Tensor x = Tensor::FromInts(DType::kInt16, {2, 6}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
  const Tensor before = x;
  ASSERT_TRUE(x.Reshape({3, 4}).ok());
  EXPECT_EQ(x.shape(), (Shape{3, 4}));
  EXPECT_EQ(x.GetInt(11), 12);
  const Status bad = x.Reshape({5, 5});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("[3,4]"), std::string::npos) << bad.message();
  EXPECT_NE(bad.message().find("[5,5]"), std::string::npos) << bad.message();
  EXPECT_EQ(x.shape(), (Shape{3, 4}));  // unchanged on failure
  EXPECT_FALSE(x.Reshape({-1, 12}).ok());
  ASSERT_TRUE(x.Reshape({2, 6}).ok());
  EXPECT_TRUE(x == before);
}

TEST(Graph, AttributesNodesAndProducers) {
  Node n;
  n.name = "c";
  n.op_type = "Conv";
  n.inputs = {"x", "", "b"};
  n.outputs = {"y"};
  n.attrs["group"] = Attribute::Int(2);
  n.attrs["alpha"] = Attribute::Float(0.25f);
  n.attrs["auto_pad"] = Attribute::String("VALID");
  n.attrs["pads"] = Attribute::Ints({1, 2});
  n.attrs["f"] = Attribute::Floats({1.5f});
  n.attrs["t"] = Attribute::FromTensor(Tensor::Scalar(DType::kInt8, 3));
  EXPECT_EQ(n.AttrInt("group", 1), 2);
  EXPECT_EQ(n.AttrInt("missing", 7), 7);
  EXPECT_EQ(n.AttrFloat("alpha", 0), 0.25f);
  EXPECT_EQ(n.AttrString("auto_pad", "NOTSET"), "VALID");
  EXPECT_EQ(n.AttrString("nope", "NOTSET"), "NOTSET");
  EXPECT_EQ(n.AttrInts("pads"), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(n.AttrInts("strides", {1, 1}), (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(n.attrs["f"].kind, Attribute::Kind::kFloats);
  EXPECT_EQ(n.attrs["t"].t.GetInt(0), 3);
  EXPECT_TRUE(n.HasInput(0));
  EXPECT_FALSE(n.HasInput(1));
  EXPECT_TRUE(n.HasInput(2));
  EXPECT_FALSE(n.HasInput(3));
  Graph g;
  g.nodes.push_back(n);
  Node m = n;
  m.name = "d";
  m.inputs = {"y"};
  m.outputs = {"z", "w"};
  g.nodes.push_back(m);
  EXPECT_EQ(g.FindNode("d"), &g.nodes[1]);
  EXPECT_EQ(g.FindNode("e"), nullptr);
  EXPECT_EQ(g.ProducerIndex("y"), 0);
  EXPECT_EQ(g.ProducerIndex("w"), 1);
  EXPECT_EQ(g.ProducerIndex("x"), -1);
}

}  // namespace
}  // namespace qfarm
