// The kernels' fork-join (kernels/parallel.h): every range runs exactly once per call, whoever
// runs it — back to back (workers spinning), after the workers went to sleep, with fewer ranges
// than workers (workers with no range meet the next task while it is published), nested, and in
// a forked child (no pool threads there). Three workers whatever the machine, so that on two
// cores too some workers have no range in a two-range call.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <vector>

#include "kernels/parallel.h"

namespace qfarm::kernels {
namespace {

// Before main, so before the pool's first use.
const bool kWorkers = setenv("QFARM_POOL_WORKERS", "3", 1) == 0;

// A lost wakeup or a miscounted call hangs rather than fails: SIGALRM ends such a test in a
// minute instead of at ctest's timeout.
class Parallel : public ::testing::Test {
 protected:
  void SetUp() override { alarm(60); }
  void TearDown() override { alarm(0); }
};

// Runs RunRanges(t) and checks that each of 0..t−1 ran once; returns whether it did.
bool EachOnce(int t) {
  std::vector<std::atomic<int>> runs(static_cast<size_t>(t));
  RunRanges(t, [&](int i) { runs[static_cast<size_t>(i)].fetch_add(1, std::memory_order_relaxed); });
  for (const std::atomic<int>& r : runs) {
    if (r.load() != 1) return false;
  }
  return true;
}

TEST_F(Parallel, EveryRangeOnceForEachCount) {
  ASSERT_TRUE(kWorkers);
  for (int t = 1; t <= 8; ++t) {  // up to the pool's size and past it (fresh threads)
    for (int call = 0; call < 200; ++call) ASSERT_TRUE(EachOnce(t)) << "t=" << t << " call " << call;
  }
}

TEST_F(Parallel, BackToBackCallsWithIdleWorkers) {
  // Two ranges on a pool of three: two workers take no part and see the next task written.
  for (int call = 0; call < 4000; ++call) ASSERT_TRUE(EachOnce(call % 3 == 2 ? 4 : 2)) << "call " << call;
}

TEST_F(Parallel, WakesSleepingWorkers) {
  for (int round = 0; round < 4; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(60));  // past the spin: workers on the cv
    ASSERT_TRUE(EachOnce(4)) << "round " << round;
    ASSERT_TRUE(EachOnce(2)) << "round " << round;
  }
}

TEST_F(Parallel, NestedCallsRunOnFreshThreads) {
  std::atomic<int> inner{0};
  std::atomic<bool> ok{true};
  RunRanges(3, [&](int) {
    std::vector<std::atomic<int>> runs(2);
    RunRanges(2, [&](int j) { runs[static_cast<size_t>(j)]++; });
    if (runs[0] != 1 || runs[1] != 1) ok = false;
    inner++;
  });
  EXPECT_TRUE(ok);
  EXPECT_EQ(inner.load(), 3);
}

TEST_F(Parallel, ForkedChildRunsItsRanges) {
  ASSERT_TRUE(EachOnce(4));  // the pool exists before the fork
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    alarm(20);  // not inherited from SetUp's
    _exit(EachOnce(4) && EachOnce(2) ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "child died: signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_TRUE(EachOnce(4));  // and the parent's pool still runs
}

TEST_F(Parallel, ParallelForCoversEveryElementOnce) {
  for (int threads = 1; threads <= 5; ++threads) {
    for (int64_t count : {0, 1, 7, 64, 1000}) {
      std::vector<std::atomic<int>> seen(static_cast<size_t>(count));
      ParallelFor(count, threads, 8, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) seen[static_cast<size_t>(i)]++;
      });
      for (int64_t i = 0; i < count; ++i) ASSERT_EQ(seen[static_cast<size_t>(i)].load(), 1) << count << " " << i;
    }
  }
}

}  // namespace
}  // namespace qfarm::kernels
