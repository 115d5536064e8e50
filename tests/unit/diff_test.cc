// The divergence report against injected faults: each fault is found, the right first diverging
// node is named, and ties-only / isolated / inherited are classified correctly.
#include <gtest/gtest.h>

#include "agent/diff.h"
#include "model/builtin.h"
#include "tests/support/models.h"
#include "model/qdq_fusion.h"

namespace qfarm {
namespace {

const BuiltinModel& Model(const std::string& name) { return qfarm::testing::Builtin(name); }

StatusOr<DiffReport> DiffOn(const std::string& device, const std::string& model) {
  auto dev = OpenDevice(device);
  if (!dev.ok()) return dev.status();
  const BuiltinModel& m = Model(model);
  const Profile p = *ParseProfile((*dev)->info().declared_profile);
  return Diff(**dev, FuseQdq(m.graph, nullptr), p, p, m.sample_inputs);
}

const LayerDivergence& Layer(const DiffReport& r, const std::string& node) {
  for (const LayerDivergence& l : r.layers) if (l.node == node) return l;
  throw std::runtime_error(node);
}

TEST(Diff, ReferenceIsBitExactAndDeterministic) {
  for (const std::string model : {"mlp", "mobilenet_block", "transformer_mlp"}) {
    auto r = DiffOn("reference", model);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_TRUE(r->bit_exact && r->deterministic) << model;
    EXPECT_EQ(r->first_node, "");
  }
}

TEST(Diff, TieRoundingFaultIsTiesOnlyIsolatedThenInherited) {
  auto r = DiffOn("faulty:rounding:avgpool2x2:half_up", "mobilenet_block");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FALSE(r->bit_exact);
  EXPECT_EQ(r->first_node, "avgpool2x2");
  EXPECT_TRUE(r->first_isolated);
  const LayerDivergence& pool = Layer(*r, "avgpool2x2");
  EXPECT_TRUE(pool.metrics.ties_only);
  EXPECT_EQ(pool.metrics.max_abs_delta_lsb, 1);
  EXPECT_GT(pool.metrics.mismatches, 0);
  EXPECT_TRUE(Layer(*r, "residual").metrics.bit_exact);
  const LayerDivergence& gap = Layer(*r, "global_pool");
  EXPECT_FALSE(gap.metrics.bit_exact);
  EXPECT_FALSE(gap.isolated);  // inherits the pool's error
}

TEST(Diff, BitFlipIsIsolatedNotTies) {
  auto r = DiffOn("faulty:bitflip:fc1:5:2", "mlp");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->first_node, "fc1");
  const LayerDivergence& fc1 = Layer(*r, "fc1");
  EXPECT_TRUE(fc1.isolated);
  EXPECT_FALSE(fc1.metrics.ties_only);
  EXPECT_EQ(fc1.metrics.mismatches, 1);
  EXPECT_EQ(fc1.metrics.first_mismatch_index, 5);
  EXPECT_EQ(fc1.metrics.max_abs_delta_lsb, 4);  // bit 2
  EXPECT_TRUE(Layer(*r, "quant_x").metrics.bit_exact);
  EXPECT_FALSE(Layer(*r, "fc1_bias").isolated);
}

TEST(Diff, AccumulatorFaultOnALaterNode) {
  auto r = DiffOn("faulty:profile:fc2:acc_bits=16,acc_overflow=saturate", "mlp");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->first_node, "fc2");
  EXPECT_TRUE(r->first_isolated);
  EXPECT_FALSE(Layer(*r, "fc2").metrics.ties_only);
  EXPECT_TRUE(Layer(*r, "fc1").metrics.bit_exact);
}

TEST(Diff, NonDeterminismCrashAndBadSpecs) {
  auto nondet = DiffOn("faulty:nondet", "mlp");
  ASSERT_TRUE(nondet.ok());
  EXPECT_FALSE(nondet->deterministic);
  auto crash = DiffOn("faulty:crash", "mlp");
  ASSERT_FALSE(crash.ok());
  EXPECT_NE(crash.status().message().find("crashed"), std::string::npos);
  for (const std::string bad : {"faulty:bogus", "faulty:bitflip", "faulty:slow:x", "faulty:bitflip:fc1:0:9"}) {
    auto r = OpenDevice(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("device '" + bad + "'"), std::string::npos) << r.status().message();
  }
  auto missing = DiffOn("faulty:bitflip:nope", "mlp");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("no node 'nope'"), std::string::npos);
}

}  // namespace
}  // namespace qfarm

namespace qfarm {
namespace {

TEST(Attribution, ExplainsInjectedFaultsAndTheAvx2Path) {
  auto rounding = DiffOn("faulty:rounding:avgpool2x2:half_up", "mobilenet_block");
  ASSERT_TRUE(rounding.ok());
  EXPECT_NE(rounding->attribution.find("reproduced by"), std::string::npos) << rounding->attribution;
  EXPECT_NE(rounding->attribution.find("rounding=half_up"), std::string::npos) << rounding->attribution;
  EXPECT_NE(rounding->attribution.find("differs from the declared profile in: rounding)"), std::string::npos);
  auto acc = DiffOn("faulty:profile:fc2:acc_bits=16,acc_overflow=saturate", "mlp");
  ASSERT_TRUE(acc.ok());
  EXPECT_NE(acc->attribution.find("in: acc_bits, acc_overflow)"), std::string::npos) << acc->attribution;
  auto flip = DiffOn("faulty:bitflip:fc1:5:6", "mlp");
  ASSERT_TRUE(flip.ok());
  EXPECT_NE(flip->attribution.find("not explained by any known profile"), std::string::npos) << flip->attribution;
}

TEST(Attribution, Avx2AgainstOrtIsPairSaturationWithFoldedZeroPoints) {
  if (!__builtin_cpu_supports("avx2")) GTEST_SKIP() << "no AVX2";
  auto dev = OpenDevice("host-avx2");
  ASSERT_TRUE(dev.ok());
  const BuiltinModel& m = Model("mlp");
  auto r = Diff(**dev, m.graph, *ParseProfile("avx2-u8s8"), *ParseProfile("ort"), m.sample_inputs);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->first_node, "fc1");
  EXPECT_NE(r->attribution.find("(differs from the declared profile in: pair_sat16, zp_fold)"), std::string::npos)
      << r->attribution;
}

}  // namespace
}  // namespace qfarm
