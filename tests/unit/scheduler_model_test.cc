// Model-based test of the scheduler and lease state machine (STYLE.md item 10): random sequences
// of submit / lease / heartbeat / expire / report / duplicate report / late report / agent crash
// / cancel are applied both to the real Store (SQLite) and to a tiny in-memory model, and every
// answer and every job's state, attempt and lessee are compared after each step. The seed is
// printed; QFARM_SCHEDULER_SEED=<n> replays one sequence.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <random>
#include <set>

#include "tests/support/farm_util.h"
#include "tests/support/test_util.h"

namespace qfarm::controller {
namespace {

using qfarm::testing::Registration;
using qfarm::testing::ResultFor;

constexpr double kLease = 10;

struct ModelJob {
  int64_t run = 0;
  std::string device;  // kind
  int priority = 0;
  std::string state = "queued";
  int attempt = 0, max_attempts = 1;
  std::string lessee;  // device id
  double deadline = 0;
  bool has_result = false;
};

// The specification of store.h's state machine, in plain containers.
struct Model {
  std::map<int64_t, ModelJob> jobs;
  std::map<int64_t, std::string> runs;  // state

  void EndAttempt(ModelJob& j) {
    if (j.attempt >= j.max_attempts) {
      j.state = "failed";
      FinishRun(j.run);
    } else {
      j.state = "queued";
      j.lessee.clear();
    }
  }
  void FinishRun(int64_t run) {
    for (const auto& [id, j] : jobs) {
      if (j.run == run && (j.state == "queued" || j.state == "leased")) return;
    }
    if (runs[run] == "running") runs[run] = "done";
  }
  std::optional<int64_t> Lease(const std::string& agent, const std::string& device, double now) {
    const std::string id = agent + "/" + device;
    for (const auto& [jid, j] : jobs) {
      if (j.state == "leased" && j.lessee == id) return std::nullopt;
    }
    int64_t best = -1;
    for (const auto& [jid, j] : jobs) {
      if (j.state != "queued" || j.device != device || runs[j.run] != "running") continue;
      if (best < 0 || j.priority > jobs[best].priority) best = jid;
    }
    if (best < 0) return std::nullopt;
    ModelJob& j = jobs[best];
    j.state = "leased";
    ++j.attempt;
    j.lessee = id;
    j.deadline = now + kLease;
    return best;
  }
  std::vector<int64_t> Heartbeat(const std::string& agent, const std::vector<int64_t>& running, double now) {
    std::vector<int64_t> stop;
    for (int64_t id : running) {
      auto it = jobs.find(id);
      if (it != jobs.end() && it->second.state == "leased" && it->second.lessee.rfind(agent + "/", 0) == 0) {
        it->second.deadline = now + kLease;
      } else {
        stop.push_back(id);
      }
    }
    return stop;
  }
  int Sweep(double now) {
    int n = 0;
    for (auto& [id, j] : jobs) {
      if (j.state == "leased" && j.deadline < now) {
        EndAttempt(j);
        ++n;
      }
    }
    return n;
  }
  // stored, duplicate
  std::pair<bool, bool> Report(int64_t id, const std::string& device_id, bool infra) {
    ModelJob& j = jobs.at(id);
    if (j.has_result) return {false, true};
    if (j.state != "leased" && j.state != "queued") return {false, false};
    if (infra) {
      if (j.state == "leased" && j.lessee == device_id) {
        EndAttempt(j);
        return {true, false};
      }
      return {false, false};
    }
    j.has_result = true;
    j.state = "done";
    FinishRun(j.run);
    return {true, false};
  }
  void Restart(const std::string& agent) {
    for (auto& [id, j] : jobs) {
      if (j.state == "leased" && j.lessee.rfind(agent + "/", 0) == 0) EndAttempt(j);
    }
  }
  int Cancel(int64_t run) {
    if (runs[run] != "running") return -1;
    runs[run] = "cancelled";
    int n = 0;
    for (auto& [id, j] : jobs) {
      if (j.run == run && (j.state == "queued" || j.state == "leased")) {
        j.state = "cancelled";
        ++n;
      }
    }
    return n;
  }
};

class SchedulerModelTest : public ::testing::Test {
 protected:
  void Check(Store& store, const Model& model, const std::string& where) {
    store.WithDb([&](Db& db) {
      Stmt s(db, "SELECT id, state, attempt, COALESCE(lease_device, '') FROM jobs ORDER BY id");
      size_t n = 0;
      while (s.Step()) {
        ++n;
        const ModelJob& j = model.jobs.at(s.Int(0));
        ASSERT_EQ(s.Text(1), j.state) << where << " job " << s.Int(0);
        ASSERT_EQ(s.Int(2), j.attempt) << where << " job " << s.Int(0);
        if (j.state == "leased") {
          ASSERT_EQ(s.Text(3), j.lessee) << where << " job " << s.Int(0);
        }
      }
      ASSERT_EQ(n, model.jobs.size()) << where;
      Stmt r(db, "SELECT count(*) FROM results");
      r.Step();
      size_t results = 0;
      for (const auto& [id, j] : model.jobs) results += j.has_result;
      ASSERT_EQ(static_cast<size_t>(r.Int(0)), results) << where;
      Stmt runs(db, "SELECT id, state FROM runs");
      while (runs.Step()) ASSERT_EQ(runs.Text(1), model.runs.at(runs.Int(0))) << where << " run " << runs.Int(0);
    });
  }

  void RunSequence(uint64_t seed, int steps) {
    SCOPED_TRACE("seed " + std::to_string(seed) + " (replay: QFARM_SCHEDULER_SEED=" + std::to_string(seed) + ")");
    qfarm::testing::TempDir dir;
    auto store = std::move(Store::Open(dir.File("farm.db"), {.lease_s = kLease, .health_checks = false}).value());
    Model model;
    std::mt19937_64 rng(seed);
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
    const std::vector<std::string> agents = {"a0", "a1", "a2"}, kinds = {"cpu", "gpu"};
    for (const std::string& a : agents) ASSERT_TRUE(store->RegisterAgent(Registration(a, kinds), 0).ok());
    double now = 0;
    for (int step = 0; step < steps; ++step) {
      now += 0.5 * pick(8);
      const std::string agent = agents[static_cast<size_t>(pick(3))];
      const std::string kind = kinds[static_cast<size_t>(pick(2))];
      const std::string where = "step " + std::to_string(step);
      const int op = pick(100);
      std::vector<int64_t> ids;
      for (const auto& [id, j] : model.jobs) ids.push_back(id);
      if (op < 10 || ids.empty()) {  // submit
        const int priority = pick(3), attempts = 1 + pick(3), repeats = 1 + pick(3);
        auto out = qfarm::testing::SubmitSimple(*store, {kind}, repeats, now, priority, attempts);
        model.runs[out.run_id] = "running";
        for (int64_t id = static_cast<int64_t>(model.jobs.size()) + 1; static_cast<int>(model.jobs.size()) < static_cast<int>(ids.size()) + repeats; ++id) {
          model.jobs[id] = ModelJob{out.run_id, kind, priority, "queued", 0, attempts, "", 0, false};
        }
      } else if (op < 40) {  // lease
        auto got = *store->Lease(agent, kind, now);
        auto want = model.Lease(agent, kind, now);
        ASSERT_EQ(got.granted, want.has_value()) << where;
        if (want) {
          ASSERT_EQ(got.job.id(), *want) << where;
        }
      } else if (op < 55) {  // heartbeat with the jobs the agent holds, plus a stale one
        std::vector<int64_t> running;
        for (const auto& [id, j] : model.jobs) {
          if (j.state == "leased" && j.lessee.rfind(agent + "/", 0) == 0) running.push_back(id);
        }
        if (pick(3) == 0) running.push_back(ids[static_cast<size_t>(pick(static_cast<int>(ids.size())))]);
        std::sort(running.begin(), running.end());
        running.erase(std::unique(running.begin(), running.end()), running.end());
        auto got = *store->Heartbeat(agent, running, now);
        ASSERT_EQ(got, model.Heartbeat(agent, running, now)) << where;
      } else if (op < 65) {  // expire
        ASSERT_EQ(*store->Sweep(now), model.Sweep(now)) << where;
      } else if (op < 92) {  // report: usually by the lessee, sometimes late, duplicate or by another
        const int64_t id = ids[static_cast<size_t>(pick(static_cast<int>(ids.size())))];
        const ModelJob& j = model.jobs.at(id);
        std::string device_id = j.state == "leased" && pick(4) ? j.lessee : agent + "/" + kind;
        const std::string a = device_id.substr(0, device_id.find('/')), d = device_id.substr(device_id.find('/') + 1);
        const bool infra = pick(5) == 0;
        auto got = *store->Ingest(ResultFor(id, a, d, infra ? v1::Result::INFRA_FAILURE : v1::Result::OK), now);
        auto want = model.Report(id, device_id, infra);
        ASSERT_EQ(got.stored, want.first) << where << " job " << id;
        ASSERT_EQ(got.duplicate, want.second) << where << " job " << id;
      } else if (op < 97) {  // agent crash and restart: it runs nothing any more
        ASSERT_TRUE(store->RegisterAgent(Registration(agent, kinds), now).ok());
        model.Restart(agent);
      } else {  // cancel a run
        const int64_t run = 1 + pick(static_cast<int>(model.runs.size()));
        auto got = store->CancelRun(run, now);
        const int want = model.Cancel(run);
        ASSERT_EQ(got.ok(), want >= 0) << where;
        if (got.ok()) {
          ASSERT_EQ(*got, want) << where;
        }
      }
      Check(*store, model, where);
      if (HasFatalFailure()) return;
    }
  }
};

TEST_F(SchedulerModelTest, RandomSequencesAgreeWithTheModel) {
  if (const char* s = std::getenv("QFARM_SCHEDULER_SEED")) {
    RunSequence(std::strtoull(s, nullptr, 10), 400);
    return;
  }
  const uint64_t base = ::testing::UnitTest::GetInstance()->random_seed();
  std::printf("scheduler model test: base seed %llu, 60 sequences of 400 steps\n", static_cast<unsigned long long>(base));
  for (uint64_t i = 0; i < 60 && !HasFatalFailure(); ++i) RunSequence(base * 1000 + i, 400);
}

}  // namespace
}  // namespace qfarm::controller
