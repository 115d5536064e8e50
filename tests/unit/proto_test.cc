// The wire schema round-trips a Result with every fingerprint field and nested metrics.
#include <gtest/gtest.h>

#include <cctype>

#include "farm.pb.h"
#include "reference/profile.h"

TEST(Proto, ResultRoundTrips) {
  qfarm::v1::Result r;
  r.set_job_id(42);
  r.set_attempt(2);
  r.set_status(qfarm::v1::Result::DIVERGENT);
  r.set_model_sha256("ab12");
  r.set_profile_text("acc_bits=32,rounding=half_even");
  (*r.mutable_output_sha256())["y"] = "cd34";
  auto* m = r.add_layers();
  m->set_node("fc1");
  m->set_mismatches(3);
  (*m->mutable_delta_histogram())[-1] = 2;
  (*m->mutable_delta_histogram())[1] = 1;
  r.mutable_device()->add_isa_flags("avx2");
  r.mutable_latency()->set_p50_ms(1.25);
  r.mutable_latency()->add_samples_ms(1.5);
  std::string wire;
  ASSERT_TRUE(r.SerializeToString(&wire));
  qfarm::v1::Result back;
  ASSERT_TRUE(back.ParseFromString(wire));
  EXPECT_EQ(back.job_id(), 42);
  EXPECT_EQ(back.status(), qfarm::v1::Result::DIVERGENT);
  EXPECT_EQ(back.output_sha256().at("y"), "cd34");
  ASSERT_EQ(back.layers_size(), 1);
  EXPECT_EQ(back.layers(0).delta_histogram().at(-1), 2);
  EXPECT_EQ(back.device().isa_flags(0), "avx2");
  EXPECT_EQ(back.latency().p50_ms(), 1.25);
  ASSERT_EQ(back.latency().samples_ms_size(), 1);
  EXPECT_EQ(back.latency().samples_ms(0), 1.5);
  // A truncated message must not parse as the same result.
  qfarm::v1::Result cut;
  EXPECT_FALSE(cut.ParseFromString(wire.substr(0, wire.size() / 2)) && cut.job_id() == 42 &&
               cut.layers_size() == 1 && cut.device().isa_flags_size() == 1);
}

// Every key of the profile text form (reference/profile.h's vocabulary) is a typed field, and
// every value of an enum-valued key is a value of that field's enum (upper-cased; the requant
// enum prefixes REQUANT_ where names would collide).
TEST(Proto, ProfileFieldsCoverTheTextForm) {
  const auto* desc = qfarm::v1::ArithmeticProfile::descriptor();
  for (const qfarm::ProfileKey& key : qfarm::ProfileVocabulary()) {
    const auto* field = desc->FindFieldByName(std::string(key.key));
    ASSERT_NE(field, nullptr) << key.key;
    if (field->type() != google::protobuf::FieldDescriptor::TYPE_ENUM) continue;
    for (std::string_view value : key.values) {
      std::string upper;
      for (char c : value) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      const bool found = field->enum_type()->FindValueByName(upper) != nullptr ||
                         field->enum_type()->FindValueByName("REQUANT_" + upper) != nullptr;
      EXPECT_TRUE(found) << key.key << "=" << value;
    }
  }
  qfarm::v1::ArithmeticProfile p;
  p.set_rounding(qfarm::v1::ArithmeticProfile::HALF_DOWN);
  p.set_acc_bits(24);
  qfarm::v1::ArithmeticProfile back;
  ASSERT_TRUE(back.ParseFromString(p.SerializeAsString()));
  EXPECT_EQ(back.rounding(), qfarm::v1::ArithmeticProfile::HALF_DOWN);
  EXPECT_EQ(back.acc_bits(), 24);
}
