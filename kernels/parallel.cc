#include "kernels/parallel.h"

#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace qfarm::kernels {
namespace {

// Workers wait for a new generation: spinning for about this many polls (tens of microseconds,
// back-to-back layers find them awake), then on the condition variable.
constexpr int kSpinPolls = 20000;

inline void Pause() {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

class Pool {
 public:
  explicit Pool(int workers) : pid_(getpid()) {
    for (int i = 1; i <= workers; ++i) threads_.emplace_back([this, i] { Work(i); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(m_);
      stop_ = true;
      generation_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    for (std::thread& t : threads_) t.join();
  }

  // Runs fn(0..t−1), fn(0) here; false (nothing run) when the pool cannot take it now.
  bool Run(int t, const std::function<void(int)>& fn) {
    if (t - 1 > static_cast<int>(threads_.size()) || getpid() != pid_) return false;
    std::unique_lock<std::mutex> use(use_, std::try_to_lock);
    if (!use.owns_lock()) return false;
    {
      std::lock_guard<std::mutex> lock(m_);
      fn_ = &fn;
      n_ = t;
      pending_.store(t - 1, std::memory_order_relaxed);
      generation_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
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
  void Work(int index) {
    uint64_t seen = 0;
    for (;;) {
      uint64_t g = generation_.load(std::memory_order_acquire);
      for (int spin = 0; g == seen && spin < kSpinPolls; ++spin) {
        Pause();
        g = generation_.load(std::memory_order_acquire);
      }
      if (g == seen) {
        std::unique_lock<std::mutex> lock(m_);
        cv_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
        g = generation_.load(std::memory_order_acquire);
      }
      const std::function<void(int)>* fn;
      int n;
      {
        // The generation is read with its task: a worker that slept through a call it had no
        // range in takes the current one, and never runs one generation twice.
        std::lock_guard<std::mutex> lock(m_);
        if (stop_) return;
        seen = generation_.load(std::memory_order_relaxed);
        fn = fn_;
        n = n_;
      }
      if (index < n) {
        (*fn)(index);
        pending_.fetch_sub(1, std::memory_order_acq_rel);
      }
    }
  }

  const pid_t pid_;
  std::mutex use_;  // one Run at a time
  std::mutex m_;
  std::condition_variable cv_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  const std::function<void(int)>* fn_ = nullptr;
  int n_ = 0;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

Pool& ThePool() {
  static Pool pool(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())) - 1);
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
