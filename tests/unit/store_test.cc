// The controller's store: migrations, run expansion, the lease state machine (priority then
// age, heartbeats, expiry, attempts, agent restart), health checks and quarantine, idempotent
// ingest, cancellation, fingerprint-change events, and refusals of bad requests.
#include <gtest/gtest.h>

#include "controller/queries.h"
#include "controller/run_spec.h"
#include "controller/schema.h"
#include "tests/support/farm_util.h"
#include "tests/support/test_util.h"

namespace qfarm::controller {
namespace {

using qfarm::testing::Registration;
using qfarm::testing::ResultFor;
using qfarm::testing::SubmitSimple;
using qfarm::testing::TempDir;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(StoreOptions{.lease_s = 10, .heartbeat_timeout_s = 5, .health_checks = false}); }
  void Reopen(StoreOptions o) {
    store_.reset();
    store_ = std::move(Store::Open(dir_.File("farm.db"), o).value());
  }
  std::string JobState(int64_t job) {
    return store_->WithDb([&](Db& db) {
      Stmt s(db, "SELECT state FROM jobs WHERE id=?");
      s.Bind(1, job);
      return s.Step() ? s.Text(0) : std::string("absent");
    });
  }
  int64_t Count(const std::string& sql) {
    return store_->WithDb([&](Db& db) {
      Stmt s(db, sql);
      s.Step();
      return s.Int(0);
    });
  }
  TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(StoreTest, MigratesOnceAndRefusesANewerSchema) {
  EXPECT_EQ(Count("PRAGMA user_version"), SchemaVersion());
  store_->WithDb([](Db& db) { db.Exec("PRAGMA user_version=999"); });
  store_.reset();
  auto again = Store::Open(dir_.File("farm.db"));
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("newer than this build"), std::string::npos);
}

TEST_F(StoreTest, ExpandsTheMatrixIntoJobs) {
  ASSERT_TRUE(store_->RegisterAgent(Registration("a", {"cpu"}), 0).ok());
  const SubmitOutcome out = SubmitSimple(*store_, {"cpu", "gpu"}, 3, 0, 0, 3, 2);
  EXPECT_EQ(out.jobs, 2 * 2 * 3);
  EXPECT_EQ(Count("SELECT count(*) FROM jobs WHERE state='queued'"), 12);
  EXPECT_EQ(store_->GetRun(out.run_id)->total, 12);
}

TEST_F(StoreTest, TagSelectorsExpandOverRegisteredDevicesAndRefuseNoMatch) {
  auto reg = Registration("a", {"cpu", "arm"});
  reg.mutable_devices(1)->set_emulator_version("qemu 7.2");
  ASSERT_TRUE(store_->RegisterAgent(reg, 0).ok());
  RunSpec spec = *ParseRunSpec("models: [m.onnx]\ndevices: [{tags: [emulated]}]\n", "t.yaml");
  const std::string sha = *store_->PutBlob("m", 0);
  auto out = store_->Submit(spec, "", {{"m.onnx", sha}}, 0);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->jobs, 1);
  spec = *ParseRunSpec("models: [m.onnx]\ndevices: [{tags: [avx512]}]\n", "t.yaml");
  auto none = store_->Submit(spec, "", {{"m.onnx", sha}}, 0);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("no registered device has tags [avx512]"), std::string::npos);
}

TEST_F(StoreTest, SubmitRefusesAModelWhoseBytesWereNotUploaded) {
  RunSpec spec = *ParseRunSpec("models: [m.onnx]\ndevices: [cpu]\n", "t.yaml");
  auto out = store_->Submit(spec, "", {}, 0);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("models 'm.onnx': its bytes were not uploaded"), std::string::npos);
  EXPECT_EQ(Count("SELECT count(*) FROM runs"), 0);  // nothing half-written
}

TEST_F(StoreTest, LeasesByPriorityThenAgeOneJobPerDevice) {
  ASSERT_TRUE(store_->RegisterAgent(Registration("a", {"cpu"}), 0).ok());
  const int64_t low = SubmitSimple(*store_, {"cpu"}, 1, 0, /*priority=*/0).run_id;
  const int64_t high = SubmitSimple(*store_, {"cpu"}, 2, 1, /*priority=*/5).run_id;
  auto first = *store_->Lease("a", "cpu", 2);
  ASSERT_TRUE(first.granted);
  EXPECT_EQ(first.job.run_id(), high);
  EXPECT_EQ(first.job.attempt(), 1);
  EXPECT_FALSE(store_->Lease("a", "cpu", 2)->granted) << "one job per device at a time";
  ASSERT_TRUE(store_->Ingest(ResultFor(first.job.id(), "a", "cpu"), 3)->stored);
  auto second = *store_->Lease("a", "cpu", 3);
  EXPECT_EQ(second.job.run_id(), high);
  EXPECT_GT(second.job.id(), first.job.id());
  ASSERT_TRUE(store_->Ingest(ResultFor(second.job.id(), "a", "cpu"), 4)->stored);
  EXPECT_EQ(store_->Lease("a", "cpu", 4)->job.run_id(), low);
}

TEST_F(StoreTest, ExpiredLeaseRequeuesWithAttemptPlusOneThenFailsAsInfrastructure) {
  ASSERT_TRUE(store_->RegisterAgent(Registration("a", {"cpu"}), 0).ok());
  const int64_t run = SubmitSimple(*store_, {"cpu"}, 1, 0, 0, /*max_attempts=*/2).run_id;
  auto l1 = *store_->Lease("a", "cpu", 0);
  EXPECT_EQ(*store_->Sweep(9), 0) << "deadline not reached";
  EXPECT_EQ(*store_->Sweep(10.5), 1);
  EXPECT_EQ(JobState(l1.job.id()), "queued");
  auto l2 = *store_->Lease("a", "cpu", 11);
  EXPECT_EQ(l2.job.id(), l1.job.id());
  EXPECT_EQ(l2.job.attempt(), 2);
  EXPECT_EQ(*store_->Sweep(30), 1);
  EXPECT_EQ(JobState(l1.job.id()), "failed");
  EXPECT_EQ(store_->GetRun(run)->state, "done");
  EXPECT_EQ(store_->GetRun(run)->failed, 1);
}

TEST_F(StoreTest, HeartbeatsExtendLeasesAndNameJobsToStop) {
  ASSERT_TRUE(store_->RegisterAgent(Registration("a", {"cpu"}), 0).ok());
  const int64_t run = SubmitSimple(*store_, {"cpu"}, 2, 0).run_id;
  auto l = *store_->Lease("a", "cpu", 0);
  EXPECT_TRUE(store_->Heartbeat("a", {l.job.id()}, 8)->empty());
  EXPECT_EQ(*store_->Sweep(15), 0) << "the heartbeat at 8 s moved the deadline to 18 s";
  ASSERT_EQ(*store_->CancelRun(run, 16), 2);
  EXPECT_EQ(*store_->Heartbeat("a", {l.job.id()}, 17), std::vector<int64_t>{l.job.id()});
  EXPECT_FALSE(store_->Heartbeat("nobody", {}, 17).ok());
}

TEST_F(StoreTest, ReingestIsADuplicateAndWritesNoSecondRow) {
  ASSERT_TRUE(store_->RegisterAgent(Registration("a", {"cpu"}), 0).ok());
  SubmitSimple(*store_, {"cpu"}, 1, 0);
  auto l = *store_->Lease("a", "cpu", 0);
  auto first = *store_->Ingest(ResultFor(l.job.id(), "a", "cpu", v1::Result::DIVERGENT, 3), 1);
  EXPECT_TRUE(first.stored);
  auto again = *store_->Ingest(ResultFor(l.job.id(), "a", "cpu"), 2);
  EXPECT_TRUE(again.duplicate);
  EXPECT_FALSE(again.stored);
  EXPECT_EQ(Count("SELECT count(*) FROM results"), 1);
  EXPECT_EQ(Count("SELECT mismatches FROM results"), 3) << "the first report wins";
}

TEST_F(StoreTest, LateReportAfterExpiryIsKeptOnceAndTheNewLesseeIsToldToStop) {
  ASSERT_TRUE(store_->RegisterAgent(Registration("a", {"cpu"}), 0).ok());
  ASSERT_TRUE(store_->RegisterAgent(Registration("b", {"cpu"}), 0).ok());
  SubmitSimple(*store_, {"cpu"}, 1, 0);
  auto la = *store_->Lease("a", "cpu", 0);
  ASSERT_EQ(*store_->Sweep(11), 1);
  auto lb = *store_->Lease("b", "cpu", 11);
  ASSERT_EQ(lb.job.id(), la.job.id());
  EXPECT_TRUE(store_->Ingest(ResultFor(la.job.id(), "a", "cpu"), 12)->stored);
  EXPECT_EQ(*store_->Heartbeat("b", {lb.job.id()}, 13), std::vector<int64_t>{lb.job.id()});
  EXPECT_TRUE(store_->Ingest(ResultFor(lb.job.id(), "b", "cpu"), 14)->duplicate);
  EXPECT_EQ(Count("SELECT count(*) FROM results"), 1);
}

TEST_F(StoreTest, InfraReportRetriesAndOnlyTheLesseeCanEndAnAttempt) {
  ASSERT_TRUE(store_->RegisterAgent(Registration("a", {"cpu"}), 0).ok());
  SubmitSimple(*store_, {"cpu"}, 1, 0);
  auto l = *store_->Lease("a", "cpu", 0);
  EXPECT_FALSE(store_->Ingest(ResultFor(l.job.id(), "b", "cpu", v1::Result::INFRA_FAILURE), 1)->stored);
  EXPECT_EQ(JobState(l.job.id()), "leased");
  EXPECT_TRUE(store_->Ingest(ResultFor(l.job.id(), "a", "cpu", v1::Result::INFRA_FAILURE), 1)->stored);
  EXPECT_EQ(JobState(l.job.id()), "queued");
  EXPECT_EQ(Count("SELECT count(*) FROM results"), 0) << "an infrastructure failure is not a test result";
}

TEST_F(StoreTest, JobErrorFailsAtOnce) {
  ASSERT_TRUE(store_->RegisterAgent(Registration("a", {"cpu"}), 0).ok());
  const int64_t run = SubmitSimple(*store_, {"cpu"}, 1, 0).run_id;
  auto l = *store_->Lease("a", "cpu", 0);
  auto r = ResultFor(l.job.id(), "a", "cpu", v1::Result::JOB_ERROR);
  r.set_error("m.onnx: node 'c' (QLinearConv): x_scale: must be > 0, got -1");
  ASSERT_TRUE(store_->Ingest(r, 1)->stored);
  EXPECT_EQ(JobState(l.job.id()), "failed");
  EXPECT_EQ(store_->GetRun(run)->state, "done");
}

TEST_F(StoreTest, AgentRestartRequeuesTheLeasesItNoLongerRuns) {
  ASSERT_TRUE(store_->RegisterAgent(Registration("a", {"cpu", "gpu"}), 0).ok());
  SubmitSimple(*store_, {"cpu", "gpu"}, 1, 0);
  auto cpu = *store_->Lease("a", "cpu", 0);
  auto gpu = *store_->Lease("a", "gpu", 0);
  ASSERT_TRUE(store_->RegisterAgent(Registration("a", {"cpu", "gpu"}, {gpu.job.id()}), 1).ok());
  EXPECT_EQ(JobState(cpu.job.id()), "queued");
  EXPECT_EQ(JobState(gpu.job.id()), "leased");
}

TEST_F(StoreTest, HealthCheckComesFirstAndAFailingDeviceIsQuarantinedUntilItPasses) {
  Reopen(StoreOptions{.lease_s = 10, .heartbeat_timeout_s = 5, .health_checks = true, .recheck_s = 30});
  ASSERT_TRUE(store_->RegisterAgent(Registration("a", {"cpu"}), 0).ok());
  SubmitSimple(*store_, {"cpu"}, 1, 0);
  auto h = *store_->Lease("a", "cpu", 0);
  ASSERT_TRUE(h.granted);
  EXPECT_EQ(h.job.run_id(), 0);
  EXPECT_EQ(h.job.model().name(), kHealthModel);
  ASSERT_TRUE(store_->Ingest(ResultFor(h.job.id(), "a", "cpu", v1::Result::DIVERGENT, 1), 1)->stored);
  EXPECT_FALSE(store_->Lease("a", "cpu", 2)->granted) << "quarantined";
  auto recheck = *store_->Lease("a", "cpu", 31);
  ASSERT_TRUE(recheck.granted);
  EXPECT_EQ(recheck.job.run_id(), 0);
  ASSERT_TRUE(store_->Ingest(ResultFor(recheck.job.id(), "a", "cpu"), 32)->stored);
  auto real = *store_->Lease("a", "cpu", 33);
  ASSERT_TRUE(real.granted);
  EXPECT_NE(real.job.run_id(), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM events WHERE kind='health-failed'"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM results"), 0) << "health checks are not run results";
}

// A health check that ends with no verdict (its lease expired: the agent lost contact) leaves the
// device to be checked again at its next lease; one its agent reports as an infrastructure
// failure (the device hung) quarantines the device like a divergence.
TEST_F(StoreTest, AHealthCheckLostByItsAgentIsRetriedAndOneTheDeviceFailedQuarantines) {
  Reopen(StoreOptions{.lease_s = 10, .heartbeat_timeout_s = 5, .health_checks = true, .recheck_s = 30});
  ASSERT_TRUE(store_->RegisterAgent(Registration("a", {"cpu"}), 0).ok());
  SubmitSimple(*store_, {"cpu"}, 1, 0);
  auto lost = *store_->Lease("a", "cpu", 0);
  ASSERT_TRUE(lost.granted);
  ASSERT_EQ(lost.job.run_id(), 0);
  ASSERT_EQ(*store_->Sweep(11), 1);
  auto again = *store_->Lease("a", "cpu", 12);
  ASSERT_TRUE(again.granted) << "no verdict: checked again now, not after recheck_s";
  EXPECT_EQ(again.job.run_id(), 0);
  EXPECT_NE(again.job.id(), lost.job.id());
  ASSERT_TRUE(store_->Ingest(ResultFor(again.job.id(), "a", "cpu", v1::Result::INFRA_FAILURE), 13)->stored);
  EXPECT_FALSE(store_->Lease("a", "cpu", 14)->granted) << "the device hung its check: quarantined";
  auto recheck = *store_->Lease("a", "cpu", 13 + 30);
  ASSERT_TRUE(recheck.granted);
  EXPECT_EQ(recheck.job.run_id(), 0);
}

TEST_F(StoreTest, HealthChecksKeepTheArithmeticFingerprintAndAChangeIsAnEvent) {
  Reopen(StoreOptions{.lease_s = 10, .heartbeat_timeout_s = 5, .health_checks = true, .recheck_s = 30});
  ASSERT_TRUE(store_->RegisterAgent(Registration("a", {"cpu"}), 0).ok());
  auto check = [&](const std::string& arith, double now) {
    auto h = *store_->Lease("a", "cpu", now);
    ASSERT_TRUE(h.granted);
    EXPECT_TRUE(h.job.probe_arithmetic());
    auto r = ResultFor(h.job.id(), "a", "cpu");
    r.set_arith_fingerprint(arith);
    ASSERT_TRUE(store_->Ingest(r, now)->stored);
  };
  check("rounding=half_even;pair_sat16=off", 1);
  ASSERT_TRUE(store_->RegisterAgent(Registration("a", {"cpu"}), 2).ok());
  EXPECT_EQ(Count("SELECT count(*) FROM events WHERE kind='arithmetic-fingerprint-changed'"), 0);
  auto reg = Registration("a", {"cpu"});
  reg.mutable_devices(0)->set_kernels_build_id("driver 2");  // a new fingerprint: checked again
  ASSERT_TRUE(store_->RegisterAgent(reg, 3).ok());
  check("rounding=half_away;pair_sat16=off", 4);
  EXPECT_EQ(Count("SELECT count(*) FROM events WHERE kind='arithmetic-fingerprint-changed'"), 1);
  auto devices = RunQuery(*store_, "devices", nlohmann::json::object());
  EXPECT_EQ((*devices)[0]["arith_fingerprint"], "rounding=half_away;pair_sat16=off");
}

TEST_F(StoreTest, SilentAgentsDevicesGoOffline) {
  ASSERT_TRUE(store_->RegisterAgent(Registration("a", {"cpu"}), 0).ok());
  ASSERT_TRUE(store_->Sweep(4).ok());
  EXPECT_EQ(Count("SELECT online FROM devices"), 1);
  ASSERT_TRUE(store_->Sweep(6).ok());
  EXPECT_EQ(Count("SELECT online FROM devices"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM events WHERE kind='device-offline'"), 1);
}

TEST_F(StoreTest, AChangedFingerprintIsAnEventAndKeptInHistory) {
  auto reg = Registration("a", {"cpu"});
  ASSERT_TRUE(store_->RegisterAgent(reg, 0).ok());
  ASSERT_TRUE(store_->RegisterAgent(reg, 1).ok());
  EXPECT_EQ(Count("SELECT count(*) FROM events WHERE kind='fingerprint-changed'"), 0);
  reg.mutable_devices(0)->set_kernels_build_id("new build");
  ASSERT_TRUE(store_->RegisterAgent(reg, 2).ok());
  EXPECT_EQ(Count("SELECT count(*) FROM events WHERE kind='fingerprint-changed'"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM fingerprints"), 2);
}

TEST_F(StoreTest, RefusesHostileRegistrationsAndReports) {
  EXPECT_FALSE(store_->RegisterAgent(Registration("../etc", {"cpu"}), 0).ok());
  EXPECT_FALSE(store_->RegisterAgent(Registration("a", {}), 0).ok());
  EXPECT_FALSE(store_->RegisterAgent(Registration("a", {"cpu", "cpu"}), 0).ok());
  EXPECT_FALSE(store_->RegisterAgent(Registration("a", {std::string("c\npu")}), 0).ok());
  auto bad = ResultFor(-1, "a", "cpu");
  EXPECT_EQ(store_->Ingest(bad, 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Ingest(ResultFor(12345, "a", "cpu"), 0).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Count("SELECT count(*) FROM agents"), 0);
}

TEST_F(StoreTest, ABadReportInABatchDoesNotUndoTheOthers) {
  ASSERT_TRUE(store_->RegisterAgent(Registration("a", {"cpu", "gpu"}), 0).ok());
  SubmitSimple(*store_, {"cpu", "gpu"}, 1, 0);
  auto l1 = *store_->Lease("a", "cpu", 0);
  auto l2 = *store_->Lease("a", "gpu", 0);
  auto out = store_->IngestBatch({ResultFor(l1.job.id(), "a", "cpu"), ResultFor(999, "a", "cpu"),
                                  ResultFor(l2.job.id(), "a", "gpu")}, 1);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_TRUE(out[0].ok() && out[0]->stored);
  EXPECT_FALSE(out[1].ok());
  EXPECT_TRUE(out[2].ok() && out[2]->stored);
  EXPECT_EQ(Count("SELECT count(*) FROM results"), 2);
}

TEST_F(StoreTest, StateSurvivesReopening) {
  ASSERT_TRUE(store_->RegisterAgent(Registration("a", {"cpu"}), 0).ok());
  SubmitSimple(*store_, {"cpu"}, 2, 0);
  auto l = *store_->Lease("a", "cpu", 0);
  ASSERT_TRUE(store_->Ingest(ResultFor(l.job.id(), "a", "cpu"), 1)->stored);
  Reopen(StoreOptions{.lease_s = 10, .heartbeat_timeout_s = 5, .health_checks = false});
  EXPECT_TRUE(store_->Ingest(ResultFor(l.job.id(), "a", "cpu"), 2)->duplicate);
  EXPECT_EQ(Count("SELECT count(*) FROM jobs WHERE state='queued'"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM results"), 1);
  EXPECT_EQ(store_->WithDb([](Db& db) {
    Stmt s(db, "PRAGMA integrity_check");
    s.Step();
    return s.Text(0);
  }), "ok");
}

TEST_F(StoreTest, HistoryQueryRefusesUnknownMetricsAndAnswersKnownOnes) {
  ASSERT_TRUE(store_->RegisterAgent(Registration("a", {"cpu"}), 0).ok());
  SubmitSimple(*store_, {"cpu"}, 3, 0);
  for (int i = 0; i < 3; ++i) {
    auto l = *store_->Lease("a", "cpu", i);
    ASSERT_TRUE(store_->Ingest(ResultFor(l.job.id(), "a", "cpu", v1::Result::DIVERGENT, i), i)->stored);
  }
  auto rows = RunQuery(*store_, "history", {{"model", "m0"}, {"device", "cpu"}, {"metric", "mismatches"}});
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[2]["value"], 2);
  auto bad = RunQuery(*store_, "history", {{"model", "m0"}, {"device", "cpu"}, {"metric", "1; DROP TABLE results"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("is not one of"), std::string::npos);
  EXPECT_FALSE(RunQuery(*store_, "nope", nlohmann::json::object()).ok());
}

}  // namespace
}  // namespace qfarm::controller
