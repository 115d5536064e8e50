// A full disk under SQLite (the database capped with PRAGMA max_page_count, which fails writes
// exactly as a full disk does: SQLITE_FULL): each refused report is a clear error, nothing
// half-written stays, the database passes its integrity check, and once there is room again the
// same report is stored — once.
#include <gtest/gtest.h>

#include "tests/support/farm_util.h"
#include "tests/support/test_util.h"

namespace qfarm::controller {
namespace {

using qfarm::testing::Registration;
using qfarm::testing::ResultFor;

v1::Result BigResult(int64_t job) {
  v1::Result r = ResultFor(job, "a", "cpu");
  for (int i = 0; i < 200; ++i) {
    v1::TensorMetrics* m = r.add_layers();
    m->set_value("layer" + std::to_string(i));
    m->set_node(std::string(200, 'n'));
  }
  for (int i = 0; i < 500; ++i) r.mutable_latency()->add_samples_ms(1.0 + i * 1e-3);
  return r;
}

int64_t Count(Store& store, const std::string& sql) {
  return store.WithDb([&](Db& db) {
    Stmt s(db, sql);
    s.Step();
    return s.Int(0);
  });
}

TEST(DiskFull, RefusedReportsLeaveNothingBehindAndAreStoredOnceThereIsRoom) {
  qfarm::testing::TempDir dir;
  int64_t stored = 0, refused = 0, refused_job = 0;
  {
    auto store = std::move(Store::Open(dir.File("farm.db"), {.health_checks = false, .max_page_count = 120}).value());
    ASSERT_TRUE(store->RegisterAgent(Registration("a", {"cpu"}), 0).ok());
    qfarm::testing::SubmitSimple(*store, {"cpu"}, 60, 0);
    for (int i = 0; i < 60 && refused == 0; ++i) {
      auto lease = store->Lease("a", "cpu", i);
      ASSERT_TRUE(lease.ok()) << lease.status().message();
      if (!lease->granted) break;
      auto out = store->Ingest(BigResult(lease->job.id()), i);
      if (out.ok()) {
        ++stored;
        continue;
      }
      ++refused;
      refused_job = lease->job.id();
      EXPECT_EQ(out.status().code(), StatusCode::kUnavailable);
      EXPECT_NE(out.status().message().find("full"), std::string::npos) << out.status().message();
      std::printf("disk full: refused with: %s\n", out.status().message().c_str());
    }
    ASSERT_EQ(refused, 1) << "the cap was never reached";
    std::printf("disk full: %lld reports stored before the first was refused\n", static_cast<long long>(stored));
    EXPECT_EQ(Count(*store, "SELECT count(*) FROM results"), stored);
    EXPECT_EQ(Count(*store, "SELECT count(*) FROM results WHERE job_id=" + std::to_string(refused_job)), 0);
    EXPECT_EQ(Count(*store, "SELECT count(*) FROM tensor_metrics WHERE result_id NOT IN (SELECT id FROM results)"), 0);
  }
  auto store = std::move(Store::Open(dir.File("farm.db"), {.health_checks = false}).value());
  EXPECT_EQ(store->WithDb([](Db& db) {
    Stmt s(db, "PRAGMA integrity_check");
    s.Step();
    return s.Text(0);
  }), "ok");
  auto again = store->Ingest(BigResult(refused_job), 100);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_TRUE(again->stored);
  EXPECT_TRUE(store->Ingest(BigResult(refused_job), 101)->duplicate);
  EXPECT_EQ(Count(*store, "SELECT count(*) FROM results"), stored + 1);
}

}  // namespace
}  // namespace qfarm::controller
