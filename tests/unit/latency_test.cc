// Latency rules with an injected clock: cold run apart, warm-up and timed-run minimums in runs
// and in seconds, nearest-rank percentiles, and emulated devices marked not comparable.
#include <gtest/gtest.h>

#include "agent/latency.h"
#include "model/builtin.h"

namespace qfarm {
namespace {

// Every call advances 1 ms: a device run (two calls) "takes" 1 ms.
class FakeClock : public Clock {
 public:
  double NowSeconds() override { return (calls_++) * 1e-3; }

 private:
  int64_t calls_ = 0;
};

TEST(Latency, RunCountsFollowTheRules) {
  auto dev = OpenDevice("reference");
  ASSERT_TRUE(dev.ok());
  const BuiltinModel suite_mlp = BuiltinSuite()[0];
  FakeClock clock;
  LatencyOptions o;  // defaults: ≥3 runs and 0.2 s warm-up, ≥30 runs and 1 s timed
  auto s = MeasureLatency(**dev, suite_mlp.graph, *ParseProfile("onnx"), suite_mlp.sample_inputs, o, clock);
  ASSERT_TRUE(s.ok()) << s.status().message();
  // A run costs 2 clock reads (2 ms of fake time) plus a read for the seconds check once the
  // run minimum is met, so the seconds rule dominates: 0.2 s of warm-up is 67–100 runs and 1 s of
  // timed runs 334–500; far above the run minimums (3 and 30).
  EXPECT_GE(s->warmup_runs, 67);
  EXPECT_LE(s->warmup_runs, 100);
  EXPECT_GE(s->samples_ms.size(), 334u);
  EXPECT_LE(s->samples_ms.size(), 500u);
  EXPECT_DOUBLE_EQ(s->cold_ms, 1.0);
  EXPECT_DOUBLE_EQ(s->p50_ms, 1.0);
  EXPECT_TRUE(s->comparable_to_hardware);
  o.min_s = 0;
  o.min_warmup_s = 0;
  FakeClock c2;
  auto few = MeasureLatency(**dev, suite_mlp.graph, *ParseProfile("onnx"), suite_mlp.sample_inputs, o, c2);
  ASSERT_TRUE(few.ok());
  EXPECT_EQ(few->warmup_runs, 3);
  EXPECT_EQ(few->samples_ms.size(), 30u);
}

TEST(Latency, SummaryStatistics) {
  std::vector<double> v;
  for (int i = 1; i <= 100; ++i) v.push_back(i);
  const LatencySummary s = Summarize(v);
  EXPECT_EQ(s.min_ms, 1);
  EXPECT_EQ(s.p50_ms, 50);
  EXPECT_EQ(s.p90_ms, 90);
  EXPECT_EQ(s.p99_ms, 99);
  EXPECT_DOUBLE_EQ(s.mean_ms, 50.5);
  EXPECT_NEAR(s.stddev_ms, 29.011, 1e-3);
  EXPECT_NEAR(s.cv, 29.011 / 50.5, 1e-4);
  EXPECT_EQ(Summarize({}).p50_ms, 0);
}

TEST(Latency, FailuresAndEmulatedDevices) {
  auto crash = OpenDevice("faulty:crash");
  ASSERT_TRUE(crash.ok());
  const BuiltinModel m = BuiltinSuite()[0];
  EXPECT_FALSE(MeasureLatency(**crash, m.graph, *ParseProfile("onnx"), m.sample_inputs, {}).ok());
  auto qemu = OpenDevice("qemu-aarch64");
  if (!qemu.ok()) GTEST_SKIP() << qemu.status().message();
  LatencyOptions o;
  o.min_runs = 2;
  o.min_s = 0;
  o.min_warmup_runs = 1;
  o.min_warmup_s = 0;
  auto s = MeasureLatency(**qemu, m.graph, *ParseProfile("ort"), m.sample_inputs, o);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_FALSE(s->comparable_to_hardware);
}

}  // namespace
}  // namespace qfarm
