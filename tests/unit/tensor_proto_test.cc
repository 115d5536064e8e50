// TensorProto .pb files (model/onnx/onnx_io.h): round trips per element type (int4 packing with
// odd counts), the typed fields as ONNX writes them, and every malformed-file class rejected with
// an error that names the file and the tensor or field.
#include <gtest/gtest.h>

#include <onnx/onnx_pb.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "model/graph_builder.h"
#include "model/onnx/onnx_io.h"
#include "tests/support/test_util.h"

namespace qfarm {
namespace {

using qfarm::testing::TempDir;

const DType kAllTypes[] = {DType::kInt4,  DType::kUInt4, DType::kInt8,    DType::kUInt8,
                           DType::kInt16, DType::kUInt16, DType::kInt32,  DType::kInt64,
                           DType::kFloat16, DType::kFloat32, DType::kFloat64};

uint64_t TestSeed() {
  const char* env = std::getenv("QFARM_TEST_SEED");
  const uint64_t seed = env ? std::strtoull(env, nullptr, 10) : 20240611;
  std::cout << "seed (QFARM_TEST_SEED): " << seed << "\n";
  return seed;
}

// Full-range random values of `t` (floats: random bit patterns of finite values for float16,
// reals for float/double).
Tensor RandomTensor(SplitMix64& rng, DType t, Shape shape) {
  Tensor x(t, shape);
  for (int64_t i = 0; i < x.numel(); ++i) {
    if (t == DType::kFloat16) {
      x.data<uint16_t>()[static_cast<size_t>(i)] = static_cast<uint16_t>(rng.UniformInt(0, 0x7bff) | (rng.Next() & 0x8000));
    } else if (IsFloatType(t)) {
      x.SetDouble(i, rng.UniformReal(-1e6, 1e6));
    } else if (t == DType::kInt64) {
      x.SetInt(i, static_cast<int64_t>(rng.Next()));
    } else {
      x.SetInt(i, rng.UniformInt(DTypeMin(t), DTypeMax(t)));
    }
  }
  return x;
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string WriteProto(const TempDir& dir, const std::string& file, const onnx::TensorProto& p) {
  const std::string path = dir.File(file);
  WriteBytes(path, p.SerializeAsString());
  return path;
}

// The error of reading `path`, which must fail and name the file.
std::string ReadError(const std::string& path) {
  auto r = ReadTensorFile(path);
  EXPECT_FALSE(r.ok()) << path << " was accepted";
  if (r.ok()) return "";
  EXPECT_NE(r.status().message().find(path), std::string::npos) << r.status().message();
  return r.status().message();
}

TEST(TensorProto, RoundTripsEveryTypeAndShape) {
  SplitMix64 rng(TestSeed());
  TempDir dir;
  const Shape shapes[] = {{7}, {2, 3}, {}, {0}, {3, 1, 5}};  // 7 and 15: odd int4 counts
  for (DType t : kAllTypes) {
    for (const Shape& s : shapes) {
      const Tensor x = RandomTensor(rng, t, s);
      const std::string path = dir.File("x.pb");
      ASSERT_TRUE(WriteTensorProtoFile(path, "input:0", x).ok());
      auto back = ReadTensorFile(path);
      ASSERT_TRUE(back.ok()) << back.status().message();
      EXPECT_EQ(back->name, "input:0");
      EXPECT_EQ(back->tensor, x) << DTypeName(t) << " " << ShapeToString(s);
      // What ONNX sees: the type number and dims, data in raw_data.
      onnx::TensorProto p;
      ASSERT_TRUE(p.ParseFromString(qfarm::testing::ReadAll(path)));
      EXPECT_EQ(p.data_type(), static_cast<int32_t>(t));
      EXPECT_EQ(Shape(p.dims().begin(), p.dims().end()), s);
      EXPECT_TRUE(p.has_raw_data());
    }
  }
}

TEST(TensorProto, Int4IsPackedLowNibbleFirst) {
  TempDir dir;
  const std::string path = dir.File("w.pb");
  ASSERT_TRUE(WriteTensorProtoFile(path, "w", Tensor::FromInts(DType::kInt4, {5}, {-8, 7, -1, 0, 3})).ok());
  onnx::TensorProto p;
  ASSERT_TRUE(p.ParseFromString(qfarm::testing::ReadAll(path)));
  EXPECT_EQ(p.data_type(), 22);
  // (7 << 4) | 0x8, (0 << 4) | 0xf, 3 with an empty high nibble.
  EXPECT_EQ(p.raw_data(), std::string("\x78\x0f\x03", 3));

  ASSERT_TRUE(WriteTensorProtoFile(path, "u", Tensor::FromInts(DType::kUInt4, {3}, {15, 1, 9})).ok());
  ASSERT_TRUE(p.ParseFromString(qfarm::testing::ReadAll(path)));
  EXPECT_EQ(p.data_type(), 21);
  EXPECT_EQ(p.raw_data(), std::string("\x1f\x09", 2));
}

// One TensorProto per typed field, as ONNX's make_tensor writes them (no raw_data).
TEST(TensorProto, ReadsTypedFields) {
  TempDir dir;
  struct Case {
    int32_t type;
    std::vector<int32_t> int32_data;
    std::vector<double> want;
    Shape dims;
  };
  const Case cases[] = {
      {3, {-128, 0, 127}, {-128, 0, 127}, {3}},                   // int8
      {2, {0, 200, 255}, {0, 200, 255}, {3}},                     // uint8
      {5, {-32768, 7, 32767}, {-32768, 7, 32767}, {3}},           // int16
      {4, {0, 40000, 65535}, {0, 40000, 65535}, {3}},             // uint16
      {6, {-2147483647 - 1, 5, 2147483647}, {-2147483648.0, 5, 2147483647}, {3}},  // int32
      {10, {0x3c00, 0xc000, 0x3800}, {1.0, -2.0, 0.5}, {3}},      // float16 bit patterns
      {22, {0x9f, 0x07}, {-1, -7, 7}, {3}},                       // int4, one packed byte per entry
      {22, {-97, 0x07}, {-1, -7, 7}, {3}},                        // the same byte sign-extended
      {21, {0x1f, 0xf9}, {15, 1, 9, 15}, {2, 2}},                 // uint4
  };
  for (const Case& c : cases) {
    onnx::TensorProto p;
    p.set_name("t");
    p.set_data_type(c.type);
    for (int64_t d : c.dims) p.add_dims(d);
    for (int32_t v : c.int32_data) p.add_int32_data(v);
    auto t = ReadTensorFile(WriteProto(dir, "t.pb", p));
    ASSERT_TRUE(t.ok()) << c.type << ": " << t.status().message();
    ASSERT_EQ(t->tensor.numel(), static_cast<int64_t>(c.want.size()));
    EXPECT_EQ(static_cast<int32_t>(t->tensor.dtype()), c.type);
    for (size_t i = 0; i < c.want.size(); ++i) {
      EXPECT_EQ(t->tensor.GetDouble(static_cast<int64_t>(i)), c.want[i]) << "type " << c.type << " [" << i << "]";
    }
  }
  onnx::TensorProto f;
  f.set_name("f");
  f.set_data_type(1);
  f.add_dims(2);
  f.add_float_data(0.1f);
  f.add_float_data(-3.5f);
  auto ft = ReadTensorFile(WriteProto(dir, "f.pb", f));
  ASSERT_TRUE(ft.ok()) << ft.status().message();
  EXPECT_EQ(ft->tensor.data<float>()[0], 0.1f);
  EXPECT_EQ(ft->tensor.data<float>()[1], -3.5f);

  onnx::TensorProto d;
  d.set_data_type(11);
  d.add_double_data(1.0 / 3);
  auto dt = ReadTensorFile(WriteProto(dir, "d.pb", d));  // no dims: a scalar
  ASSERT_TRUE(dt.ok()) << dt.status().message();
  EXPECT_EQ(dt->tensor.rank(), 0u);
  EXPECT_EQ(dt->tensor.data<double>()[0], 1.0 / 3);

  onnx::TensorProto l;
  l.set_data_type(7);
  l.add_dims(2);
  l.add_int64_data(INT64_MIN);
  l.add_int64_data(INT64_MAX);
  auto lt = ReadTensorFile(WriteProto(dir, "l.pb", l));
  ASSERT_TRUE(lt.ok()) << lt.status().message();
  EXPECT_EQ(lt->tensor.GetInt(0), INT64_MIN);
  EXPECT_EQ(lt->tensor.GetInt(1), INT64_MAX);
}

TEST(TensorProto, MalformedTensorsNameFileAndField) {
  TempDir dir;
  const auto base = [] {
    onnx::TensorProto p;
    p.set_name("w");
    p.set_data_type(3);
    p.add_dims(2);
    p.add_dims(3);
    return p;
  };
  struct Case {
    std::string what;
    onnx::TensorProto proto;
    std::vector<std::string> must_name;
  };
  std::vector<Case> cases;
  {
    auto p = base();
    p.set_raw_data(std::string(5, '\0'));
    cases.push_back({"raw_data too short", p, {"tensor 'w'", "raw_data is 5 bytes", "needs 6"}});
  }
  {
    auto p = base();
    for (int i = 0; i < 5; ++i) p.add_int32_data(1);
    cases.push_back({"typed count", p, {"tensor 'w'", "int32_data holds 5"}});
  }
  {
    auto p = base();
    for (int v : {1, 2, 3, 300, 5, 6}) p.add_int32_data(v);
    cases.push_back({"int8 out of range", p, {"tensor 'w'", "int32_data value 300"}});
  }
  {
    auto p = base();
    p.set_data_location(onnx::TensorProto::EXTERNAL);
    auto* e = p.add_external_data();
    e->set_key("location");
    e->set_value("weights.bin");
    cases.push_back({"external data", p, {"tensor 'w'", "external data"}});
  }
  {
    auto p = base();
    p.set_data_type(9);  // bool
    p.set_raw_data(std::string(6, '\1'));
    cases.push_back({"bool", p, {"tensor 'w'", "data_type"}});
  }
  {
    auto p = base();
    p.set_dims(0, -2);
    cases.push_back({"negative dim", p, {"tensor 'w'", "negative dimension -2"}});
  }
  {
    auto p = base();
    p.set_dims(0, int64_t{1} << 40);
    p.set_dims(1, int64_t{1} << 40);  // the product overflows int64
    cases.push_back({"dims overflow", p, {"tensor 'w'", "over the limit"}});
  }
  {
    auto p = base();
    p.set_data_type(22);
    p.set_raw_data(std::string(4, '\0'));  // 6 int4 need 3 bytes
    cases.push_back({"int4 raw size", p, {"tensor 'w'", "needs 3"}});
  }
  for (const Case& c : cases) {
    const std::string msg = ReadError(WriteProto(dir, "bad.pb", c.proto));
    for (const std::string& s : c.must_name) EXPECT_NE(msg.find(s), std::string::npos) << c.what << ": " << msg;
  }
}

TEST(TensorProto, HostileFilesAreErrors) {
  TempDir dir;
  const uint64_t seed = TestSeed();
  SplitMix64 rng(seed);
  // Truncated: cut a tensor in the middle of its raw_data.
  const std::string good = dir.File("good.pb");
  ASSERT_TRUE(WriteTensorProtoFile(good, "x", RandomTensor(rng, DType::kFloat32, {64})).ok());
  const std::string bytes = qfarm::testing::ReadAll(good);
  WriteBytes(dir.File("cut.pb"), bytes.substr(0, bytes.size() / 2));
  EXPECT_NE(ReadError(dir.File("cut.pb")).find("protobuf parse failed"), std::string::npos);
  WriteBytes(dir.File("empty.pb"), "");
  EXPECT_NE(ReadError(dir.File("empty.pb")).find("empty file"), std::string::npos);
  for (int k = 0; k < 20; ++k) {
    std::string junk(1 + rng.UniformInt(0, 300), '\0');
    for (char& ch : junk) ch = static_cast<char>(rng.Next());
    WriteBytes(dir.File("junk.pb"), junk);
    ReadError(dir.File("junk.pb"));
  }
  EXPECT_EQ(ReadTensorFile(dir.File("missing.pb")).status().code(), StatusCode::kNotFound);
  ReadError(dir.File("missing.pb"));
  WriteBytes(dir.File("x.txt"), "1 2 3");
  EXPECT_NE(ReadError(dir.File("x.txt")).find("'.txt'"), std::string::npos);
  // A tensor over the caller's element limit.
  auto big = ReadTensorProtoFile(good, 63);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(big.status().message().find(good), std::string::npos);
}

TEST(TensorProto, DispatchesOnExtensionAndWritesAtomically) {
  TempDir dir;
  const Tensor x = Tensor::FromInts(DType::kUInt8, {2, 2}, {1, 2, 3, 250});
  ASSERT_TRUE(WriteNpy(dir.File("x.npy"), x).ok());
  auto n = ReadTensorFile(dir.File("x.npy"));
  ASSERT_TRUE(n.ok()) << n.status().message();
  EXPECT_EQ(n->name, "");
  EXPECT_EQ(n->tensor, x);
  ASSERT_TRUE(WriteTensorProtoFile(dir.File("X.PB"), "x", x).ok());
  auto p = ReadTensorFile(dir.File("X.PB"));
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->tensor, x);
  // A write that cannot happen reports the path and leaves nothing behind.
  const std::string bad = dir.File("no_such_dir/x.pb");
  Status s = WriteTensorProtoFile(bad, "x", x);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(bad), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir.File("no_such_dir")));
  // Overwriting replaces the whole file; no temporary file is left beside it.
  ASSERT_TRUE(WriteTensorProtoFile(dir.File("X.PB"), "y", Tensor::FromInts(DType::kInt8, {1}, {-5})).ok());
  EXPECT_EQ(ReadTensorFile(dir.File("X.PB"))->name, "y");
  int files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++files;
  EXPECT_EQ(files, 2);  // x.npy and X.PB
}

}  // namespace
}  // namespace qfarm
