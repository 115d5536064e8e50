// .npy files: round trips of every element type and shape kind, the header bytes NumPy expects,
// headers written by hand in every accepted form (versions 1.0/2.0/3.0, '|' and '<', Python 2
// 'L' suffixes, double quotes), and hostile files (truncated, lying lengths, huge shapes, bad
// dicts, random bytes) that must give an error naming the file, never a crash.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <random>

#include "model/tensor_file.h"
#include "tests/support/test_util.h"

namespace qfarm {
namespace {

using qfarm::testing::ReadAll;
using qfarm::testing::TempDir;

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// A file built from a header dict by hand, as NumPy lays it out (padded to 64 with '\n' last).
std::string NpyBytes(const std::string& dict, const std::string& data, int version = 1) {
  std::string header = dict;
  const size_t pre = version == 1 ? 10 : 12;
  while ((pre + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(version);
  out += '\0';
  for (size_t i = 0; i < pre - 8; ++i) out += static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return out + header + data;
}

std::string Le32(const std::vector<int32_t>& v) {
  std::string s(v.size() * 4, '\0');
  std::memcpy(s.data(), v.data(), s.size());  // the test machine is little-endian (x86, arm64)
  return s;
}

Tensor Pattern(DType t, Shape shape) {
  Tensor x(t, std::move(shape));
  for (int64_t i = 0; i < x.numel(); ++i) {
    if (IsFloatType(t)) x.SetDouble(i, (i - 7) * 0.375);
    else x.SetInt(i, DTypeMin(t) + (i * 37) % 251);  // inside every type's range
  }
  return x;
}

TEST(Npy, RoundTripEveryTypeAndShapeKind) {
  TempDir dir;
  const DType types[] = {DType::kInt8, DType::kUInt8, DType::kInt16, DType::kUInt16,
                         DType::kInt32, DType::kInt64, DType::kFloat16, DType::kFloat32,
                         DType::kFloat64};
  const Shape shapes[] = {{}, {0}, {1}, {7}, {3, 5}, {2, 0, 3}, {1, 2, 3, 4}};
  for (DType t : types) {
    for (const Shape& s : shapes) {
      SCOPED_TRACE(std::string(DTypeName(t)) + " " + ShapeToString(s));
      const Tensor x = Pattern(t, s);
      const std::string path = dir.File("x.npy");
      ASSERT_TRUE(WriteNpy(path, x).ok());
      const std::string bytes = ReadAll(path);
      EXPECT_EQ(bytes.size() % 64, (x.bytes().size()) % 64);  // header padded to 64 bytes
      EXPECT_EQ(bytes[bytes.size() - x.bytes().size() - 1], '\n');
      auto y = ReadNpy(path);
      ASSERT_TRUE(y.ok()) << y.status().message();
      EXPECT_TRUE(*y == x);
    }
  }
}

TEST(Npy, HeaderIsWhatNumpyWrites) {
  TempDir dir;
  ASSERT_TRUE(WriteNpy(dir.File("a.npy"), Tensor(DType::kFloat32, {3, 5})).ok());
  const std::string a = ReadAll(dir.File("a.npy"));
  EXPECT_EQ(a.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  EXPECT_NE(a.find("{'descr': '<f4', 'fortran_order': False, 'shape': (3,5), }"), std::string::npos);
  ASSERT_TRUE(WriteNpy(dir.File("b.npy"), Tensor(DType::kInt8, {4})).ok());
  EXPECT_NE(ReadAll(dir.File("b.npy")).find("'descr': '|i1'"), std::string::npos);
  EXPECT_NE(ReadAll(dir.File("b.npy")).find("(4,)"), std::string::npos);  // a 1-tuple
}

TEST(Npy, Int4IsWrittenOneElementPerByte) {
  TempDir dir;
  const Tensor x = Tensor::FromInts(DType::kInt4, {3}, {-8, 7, -1});
  ASSERT_TRUE(WriteNpy(dir.File("x.npy"), x).ok());
  auto y = ReadNpy(dir.File("x.npy"));
  ASSERT_TRUE(y.ok());
  EXPECT_EQ(y->dtype(), DType::kInt8);
  EXPECT_EQ(y->GetInt(0), -8);
  EXPECT_EQ(y->GetInt(2), -1);
}

TEST(Npy, AcceptedHeaderForms) {
  const std::string data = Le32({1, -2, 3, -4, 5, -6});
  struct Case { std::string label, bytes; };
  const Case cases[] = {
      {"v1", NpyBytes("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }", data)},
      {"v2", NpyBytes("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }", data, 2)},
      {"v3", NpyBytes("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }", data, 3)},
      {"key order", NpyBytes("{'shape': (2,3), 'fortran_order': False, 'descr': '<i4'}", data)},
      {"python2 longs", NpyBytes("{'descr': '<i4', 'fortran_order': False, 'shape': (2L, 3L), }", data)},
      {"double quotes", NpyBytes("{\"descr\": \"<i4\", \"fortran_order\": False, \"shape\": (2, 3)}", data)},
  };
  for (const Case& c : cases) {
    auto t = ParseNpy(c.bytes);
    ASSERT_TRUE(t.ok()) << c.label << ": " << t.status().message();
    EXPECT_EQ(t->dtype(), DType::kInt32) << c.label;
    EXPECT_EQ(t->shape(), (Shape{2, 3})) << c.label;
    EXPECT_EQ(t->GetInt(5), -6) << c.label;
  }
  auto u8 = ParseNpy(NpyBytes("{'descr': 'u1', 'fortran_order': False, 'shape': (2,)}", "\x05\xff"));
  ASSERT_TRUE(u8.ok()) << u8.status().message();
  EXPECT_EQ(u8->GetInt(1), 255);
  auto scalar = ParseNpy(NpyBytes("{'descr': '<i4', 'fortran_order': False, 'shape': ()}", Le32({9})));
  ASSERT_TRUE(scalar.ok());
  EXPECT_EQ(scalar->rank(), 0u);
  EXPECT_EQ(scalar->GetInt(0), 9);
}

TEST(Npy, HostileFilesAreErrorsNamingTheFile) {
  TempDir dir;
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }";
  const std::string good = NpyBytes(dict, std::string(16, '\0'));
  ASSERT_TRUE(ParseNpy(good).ok());
  std::string lying = good;
  lying[8] = '\xff';
  lying[9] = '\x7f';
  std::string lying_v2 = NpyBytes(dict, std::string(16, '\0'), 2);
  lying_v2[11] = '\x7f';
  struct Case { std::string label, bytes, fragment; };
  const Case cases[] = {
      {"empty", "", "not a .npy file"},
      {"magic only", "\x93NUMPY", "not a .npy file"},
      {"v2 preamble cut", std::string("\x93NUMPY\x02\x00\x10\x00", 10), "truncated header"},
      {"version 4", std::string("\x93NUMPY\x04\x00\x00\x00", 10), "version 4"},
      {"header past end", lying, "header length exceeds the file"},
      {"v2 header past end", lying_v2, "header length exceeds the file"},
      {"data short", good.substr(0, good.size() - 1), "(truncated)"},
      {"data long", good + "x", "(trailing bytes)"},
      {"header cut", good.substr(0, 40), "header length exceeds the file"},
      {"huge shape", NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 9)}", ""), "exceeds the limit"},
      {"huge zero-size", NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 999999999999999999)}", ""), "exceeds the limit"},
      {"19 digits", NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (9999999999999999999,)}", ""), "too many digits"},
      {"negative dim", NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", ""), "non-negative"},
      {"fortran", NpyBytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2)}", std::string(16, '\0')), "fortran_order"},
      {"bool", NpyBytes("{'descr': '|b1', 'fortran_order': False, 'shape': (2,)}", "\x01\x00"), "bool"},
      {"big endian", NpyBytes("{'descr': '>f4', 'fortran_order': False, 'shape': (1,)}", "abcd"), "little-endian"},
      {"uint32", NpyBytes("{'descr': '<u4', 'fortran_order': False, 'shape': (1,)}", "abcd"), "unsupported dtype"},
      {"structured", NpyBytes("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}", "abcd"), "structured"},
      {"missing shape", NpyBytes("{'descr': '<f4', 'fortran_order': False}", ""), "lacks 'shape'"},
      {"duplicate key", NpyBytes("{'descr': '<f4', 'shape': (1,), 'fortran_order': False, 'shape': (2,)}", "abcd"), "twice"},
      {"unknown key", NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", "abcd"), "unexpected key"},
      {"unterminated tuple", NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1, ", ""), "shape"},
      {"unterminated string", NpyBytes("{'descr': '<f4", ""), "unterminated string"},
      {"not a dict", NpyBytes("[1, 2]", ""), "does not start with '{'"},
      {"junk after dict", NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': ()} x", "abcd"), "after the header dict"},
      {"bad bool", NpyBytes("{'descr': '<f4', 'fortran_order': 0, 'shape': ()}", "abcd"), "True or False"},
      {"rank 33", NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (" + [] {
         std::string s;
         for (int i = 0; i < 33; ++i) s += "1,";
         return s;
       }() + ")}", "abcd"), "more than 32"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    const std::string path = dir.File("bad.npy");
    WriteBytes(path, c.bytes);
    auto t = ReadNpy(path);
    ASSERT_FALSE(t.ok());
    EXPECT_NE(t.status().message().find(c.fragment), std::string::npos) << t.status().message();
    EXPECT_EQ(t.status().message().rfind(path + ": npy: ", 0), 0u) << t.status().message();
  }
}

TEST(Npy, MissingFilesDirectoriesAndLimits) {
  TempDir dir;
  auto missing = ReadNpy(dir.File("nope.npy"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("nope.npy: npy: no such file"), std::string::npos);
  auto directory = ReadNpy(dir.path());
  ASSERT_FALSE(directory.ok());
  EXPECT_NE(directory.status().message().find("not a regular file"), std::string::npos);
  ASSERT_TRUE(WriteNpy(dir.File("big.npy"), Tensor(DType::kFloat32, {100})).ok());
  EXPECT_TRUE(ReadNpy(dir.File("big.npy"), 100).ok());
  auto over = ReadNpy(dir.File("big.npy"), 99);
  ASSERT_FALSE(over.ok());
  EXPECT_NE(over.status().message().find("exceeds the limit of 99"), std::string::npos);
  const Status unwritable = WriteNpy(dir.File("no/such/dir/x.npy"), Tensor(DType::kInt8, {1}));
  ASSERT_FALSE(unwritable.ok());
  EXPECT_NE(unwritable.message().find("x.npy: npy: cannot open"), std::string::npos);
  EXPECT_FALSE(WriteNpy(dir.File("u.npy"), Tensor()).ok());  // undefined type
}

// Random mutations of a valid file: every result is either a tensor or an error, never a crash,
// and a successful parse always has data consistent with its shape.
TEST(Npy, RandomMutationsNeverCrash) {
  const uint32_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const std::string good = NpyBytes("{'descr': '<i2', 'fortran_order': False, 'shape': (3, 4), }",
                                    std::string(24, '\x01'));
  for (int iter = 0; iter < 20000; ++iter) {
    std::string b = good;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t at = rng() % b.size();
      switch (rng() % 3) {
        case 0: b[at] = static_cast<char>(rng()); break;
        case 1: b.erase(at, 1 + rng() % 8); break;
        default: b.insert(at, 1, "0123456789(),:' {}LTF-"[rng() % 22]); break;
      }
      if (b.empty()) break;
    }
    auto t = ParseNpy(b);
    if (t.ok()) {
      ASSERT_EQ(t->bytes().size(), static_cast<size_t>(t->numel()) * DTypeSize(t->dtype()));
    }
  }
}

}  // namespace
}  // namespace qfarm
