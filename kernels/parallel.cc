#include "kernels/parallel.h"

#include <pthread.h>

#include <atomic>
#include <cstdlib>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace qfarm::kernels {
namespace {

// Workers wait for a new generation: spinning for about this many polls (tens of microseconds,
// back-to-back layers find them awake), then on the condition variable.
constexpr int kSpinPolls = 20000;

// A forked child has none of the pool's threads: it runs its ranges on fresh ones. (Set by a
// pthread_atfork handler; asking getpid() on every call cost 60 ns of each RunRanges.)
std::atomic<bool> forked{false};

inline void Pause() {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

class Pool {
 public:
  explicit Pool(int workers) {
    pthread_atfork(nullptr, nullptr, [] { forked.store(true, std::memory_order_relaxed); });
    for (int i = 1; i <= workers; ++i) threads_.emplace_back([this, i] { Work(i); });
  }

  ~Pool() {
    Publish(nullptr, 0, true);
    for (std::thread& t : threads_) t.join();
  }

  // Runs fn(0..t−1), fn(0) here; false (nothing run) when the pool cannot take it now.
  bool Run(int t, const std::function<void(int)>& fn) {
    if (t - 1 > static_cast<int>(threads_.size()) || forked.load(std::memory_order_relaxed)) return false;
    std::unique_lock<std::mutex> use(use_, std::try_to_lock);
    if (!use.owns_lock()) return false;
    pending_.store(t - 1, std::memory_order_relaxed);
    Publish(&fn, t, false);
    fn(0);
    for (int spin = 0; pending_.load(std::memory_order_acquire) != 0; ++spin) {
      if (spin < kSpinPolls) {
        Pause();
      } else {
        std::this_thread::yield();
      }
    }
    return true;
  }

 private:
  // The task goes out as a seqlock: the generation is odd while it is written and even once it
  // is whole, and a worker reads it without a lock, again if the generation moved meanwhile. (A
  // worker locking a mutex to read it, and the task's fields sharing lines with the mutexes,
  // took an empty two-thread RunRanges 630 ns, the worker starting 460 ns after the call.)
  // Only Run (holding use_) and the destructor write the generation, so plain stores do: one
  // locked instruction per task (two read-modify-writes, each taking the line back from the
  // spinning workers and draining the store buffer, cost 0.1–0.15 µs more per call).
  void Publish(const std::function<void(int)>* fn, int n, bool stop) {
    const uint64_t g = task_.generation.load(std::memory_order_relaxed);
    task_.generation.store(g + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    task_.fn.store(fn, std::memory_order_relaxed);
    task_.n.store(n, std::memory_order_relaxed);
    task_.stop.store(stop, std::memory_order_relaxed);
    task_.generation.store(g + 2, std::memory_order_seq_cst);
    // A worker going to sleep counts itself, then checks the generation under m_ (both seq_cst
    // against this generation and this load, so one of the two sees the other). Taking m_ then
    // orders this generation before or after its check: the notification cannot fall between.
    if (sleepers_.load(std::memory_order_seq_cst) == 0) return;
    { std::lock_guard<std::mutex> lock(m_); }
    cv_.notify_all();
  }

  // A whole task newer than `seen`.
  bool Ready(uint64_t g, uint64_t seen) const { return g != seen && g % 2 == 0; }

  void Work(int index) {
    uint64_t seen = 0;
    for (;;) {
      uint64_t g = task_.generation.load(std::memory_order_acquire);
      for (int spin = 0; !Ready(g, seen) && spin < kSpinPolls; ++spin) {
        Pause();
        g = task_.generation.load(std::memory_order_acquire);
      }
      if (!Ready(g, seen)) {
        std::unique_lock<std::mutex> lock(m_);
        sleepers_.fetch_add(1, std::memory_order_seq_cst);
        cv_.wait(lock, [&] { return Ready(g = task_.generation.load(std::memory_order_seq_cst), seen); });
        sleepers_.fetch_sub(1, std::memory_order_relaxed);
      }
      const std::function<void(int)>* fn = task_.fn.load(std::memory_order_relaxed);
      const int n = task_.n.load(std::memory_order_relaxed);
      const bool stop = task_.stop.load(std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_acquire);
      // Moved while read (a worker with no range in the last task, which Run did not wait for,
      // meets the next one being written): read the newer one. A worker never runs one
      // generation twice.
      if (task_.generation.load(std::memory_order_relaxed) != g) continue;
      seen = g;
      if (stop) return;
      if (index < n) {
        (*fn)(index);
        pending_.fetch_sub(1, std::memory_order_release);
      }
    }
  }

  std::mutex use_;  // one Run at a time
  std::mutex m_;    // sleeping workers
  std::condition_variable cv_;
  struct alignas(64) Task {  // written by Run only, read by every worker: a line of its own
    std::atomic<uint64_t> generation{0};
    std::atomic<const std::function<void(int)>*> fn{nullptr};
    std::atomic<int> n{0};
    std::atomic<bool> stop{false};
  } task_;
  alignas(64) std::atomic<int> pending_{0};  // written by the workers
  std::atomic<int> sleepers_{0};               // workers waiting on cv_
  std::vector<std::thread> threads_;
};

// QFARM_POOL_WORKERS (parallel.h), else one per core but the caller's.
int PoolWorkers() {
  if (const char* env = std::getenv("QFARM_POOL_WORKERS")) {
    char* end = nullptr;
    const long n = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && n >= 0 && n <= 1024) return static_cast<int>(n);
  }
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())) - 1;
}

Pool& ThePool() {
  static Pool pool(PoolWorkers());
  return pool;
}

}  // namespace

void RunRanges(int t, const std::function<void(int)>& fn) {
  if (t <= 1) {
    fn(0);
    return;
  }
  if (ThePool().Run(t, fn)) return;
  std::vector<std::thread> threads;
  for (int i = 1; i < t; ++i) threads.emplace_back([&fn, i] { fn(i); });
  fn(0);
  for (std::thread& th : threads) th.join();
}

}  // namespace qfarm::kernels
