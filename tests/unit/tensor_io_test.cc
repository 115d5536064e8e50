// Tensor files: .npy and TensorProto .pb round trips for every element type (int4 packing with
// odd counts, typed fields), and hostile files rejected with errors, never crashes.
#include <gtest/gtest.h>

#include <onnx/onnx_pb.h>

#include <fstream>

#include "model/graph_builder.h"
#include "model/onnx/onnx_io.h"
#include "tests/support/test_util.h"

namespace qfarm {
namespace {

const DType kAll[] = {DType::kInt4, DType::kUInt4, DType::kInt8, DType::kUInt8, DType::kInt16,
                      DType::kUInt16, DType::kInt32, DType::kInt64, DType::kFloat16,
                      DType::kFloat32, DType::kFloat64};

Tensor Sample(DType t, Shape shape) {
  GraphBuilder b("t", 13, static_cast<uint64_t>(t));
  if (IsFloatType(t)) return Tensor::FromDoubles(t, shape, b.RandomReals(static_cast<size_t>(NumElements(shape)), -100, 100));
  return b.RandomInts(t, shape, std::max<int64_t>(DTypeMin(t), DTypeMin(t) / 2 - 1), DTypeMax(t) / 2 + 1);
}

TEST(TensorFiles, RoundTripEveryTypeAsPbAndNpy) {
  qfarm::testing::TempDir dir;
  for (DType t : kAll) {
    const Tensor x = Sample(t, {3, 5});  // 15 elements: odd, so int4 has a half-filled byte
    const std::string pb = dir.File("x.pb"), npy = dir.File("x.npy");
    ASSERT_TRUE(WriteTensorProtoFile(pb, "x", x).ok());
    auto back = ReadTensorFile(pb);
    ASSERT_TRUE(back.ok()) << DTypeName(t) << ": " << back.status().message();
    EXPECT_EQ(back->name, "x");
    EXPECT_EQ(back->tensor, x) << DTypeName(t);
    ASSERT_TRUE(WriteNpy(npy, x).ok());
    auto n = ReadTensorFile(npy);
    ASSERT_TRUE(n.ok()) << n.status().message();
    // NumPy has no int4: those come back as int8/uint8 with the same values.
    for (int64_t i = 0; i < x.numel(); ++i) EXPECT_EQ(n->tensor.GetDouble(i), x.GetDouble(i)) << DTypeName(t);
  }
}

TEST(TensorFiles, Int4PackingLowNibbleFirst) {
  onnx::TensorProto p;
  p.set_name("w");
  p.set_data_type(22);  // INT4
  p.add_dims(3);
  p.set_raw_data(std::string("\x9f\x07", 2));  // elements: 0xf → −1, 0x9 → −7, 0x7 → 7
  qfarm::testing::TempDir dir;
  std::ofstream(dir.File("w.pb"), std::ios::binary) << p.SerializeAsString();
  auto t = ReadTensorFile(dir.File("w.pb"));
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->tensor.GetInt(0), -1);
  EXPECT_EQ(t->tensor.GetInt(1), -7);
  EXPECT_EQ(t->tensor.GetInt(2), 7);
}

TEST(TensorFiles, TypedFieldsAreRead) {
  onnx::TensorProto p;
  p.set_name("v");
  p.set_data_type(onnx::TensorProto::INT8);
  p.add_dims(3);
  for (int v : {-128, 0, 127}) p.add_int32_data(v);
  qfarm::testing::TempDir dir;
  std::ofstream(dir.File("v.pb"), std::ios::binary) << p.SerializeAsString();
  auto t = ReadTensorFile(dir.File("v.pb"));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->tensor, Tensor::FromInts(DType::kInt8, {3}, {-128, 0, 127}));
  p.set_data_type(onnx::TensorProto::FLOAT);
  p.clear_int32_data();
  p.add_float_data(1.5f);
  std::ofstream(dir.File("f.pb"), std::ios::binary) << p.SerializeAsString();
  auto f = ReadTensorFile(dir.File("f.pb"));
  ASSERT_FALSE(f.ok());  // 1 value for 3 elements
  EXPECT_NE(f.status().message().find("float_data holds 1 values, shape needs 3"), std::string::npos);
}

TEST(TensorFiles, HostileFilesAreErrors) {
  qfarm::testing::TempDir dir;
  ASSERT_TRUE(WriteNpy(dir.File("ok.npy"), Sample(DType::kFloat32, {4, 4})).ok());
  const std::string good = qfarm::testing::ReadAll(dir.File("ok.npy"));
  struct Case { std::string label, bytes, fragment; };
  std::string huge = good;
  huge.replace(huge.find("(4,4)"), 5, "(99999999999,9)");
  std::string fortran = good;
  fortran.replace(fortran.find("False"), 5, "True ");
  std::string bad_len = good;
  bad_len[8] = '\xff';
  bad_len[9] = '\x7f';
  const Case cases[] = {{"truncated", good.substr(0, good.size() - 7), "data is"},
                        {"header past end", bad_len, "header length exceeds the file"},
                        {"huge shape", huge, "exceeds the limit"},
                        {"fortran order", fortran, "fortran_order"},
                        {"not npy", "hello", "not a .npy file"},
                        {"empty", "", "not a .npy file"}};
  for (const Case& c : cases) {
    std::ofstream(dir.File("bad.npy"), std::ios::binary) << c.bytes;
    auto t = ReadTensorFile(dir.File("bad.npy"));
    ASSERT_FALSE(t.ok()) << c.label;
    EXPECT_NE(t.status().message().find(c.fragment), std::string::npos) << c.label << ": " << t.status().message();
    EXPECT_NE(t.status().message().find("bad.npy"), std::string::npos);
  }
  std::ofstream(dir.File("junk.pb"), std::ios::binary) << std::string("\xff\xff\xff\xff", 4);
  EXPECT_FALSE(ReadTensorFile(dir.File("junk.pb")).ok());
  EXPECT_FALSE(ReadTensorFile(dir.File("x.txt")).ok());
}

}  // namespace
}  // namespace qfarm
