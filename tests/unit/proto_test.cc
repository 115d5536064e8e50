// The wire schema round-trips a Result with every fingerprint field and nested metrics.
#include <gtest/gtest.h>

#include "farm.pb.h"

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
  // A truncated message must not parse as the same result.
  qfarm::v1::Result cut;
  EXPECT_FALSE(cut.ParseFromString(wire.substr(0, wire.size() / 2)) && cut.job_id() == 42 &&
               cut.layers_size() == 1 && cut.device().isa_flags_size() == 1);
}
