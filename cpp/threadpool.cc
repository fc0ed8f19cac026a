#include "threadpool.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "env.h"

#if defined(__linux__)
#include <sched.h>
#endif

namespace kn {
namespace {

// How long a pool thread (and a caller waiting for its job's end) keeps checking for the next job (or the
// end) before it sleeps on the condition variable. An op's job follows the previous one within microseconds
// in a training step or a prediction, while waking a sleeping thread costs tens of microseconds or more: at
// batch 1 the seed model's dense1 took 0.66 ms on 2 threads and 0.31 ms on one. A thread spins at most this
// long after each job, so an idle process sleeps.
constexpr auto kSpin = std::chrono::microseconds(100);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

// Spins until done() or kSpin has passed; returns done()'s last answer.
template <typename F>
bool spin_until(F&& done) {
  const auto deadline = std::chrono::steady_clock::now() + kSpin;
  for (int i = 0;; ++i) {
    if (done()) return true;
    cpu_relax();
    if ((i & 63) == 63 && std::chrono::steady_clock::now() > deadline) return done();
  }
}

// Index of the pool thread running a job on this thread, or -1 outside a job. A parallel_for nested inside a
// job runs inline on its caller's slot instead of deadlocking on the job mutex.
thread_local int tl_index = -1;

class Pool {
 public:
  explicit Pool(int n) { resize(n); }
  ~Pool() { stop(); }

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  void resize(int n) {
    std::lock_guard<std::mutex> job(job_mutex_);
    stop();
    stopping_ = false;
    stopping_flag_.store(false, std::memory_order_release);
    // A new worker waits for the next job, not the last one: starting from generation 0 it would run the
    // finished job again, through a null fn_.
    for (int i = 1; i < n; ++i) workers_.emplace_back([this, i, seen = generation_] { loop(i, seen); });
  }

  void run(std::size_t n, const std::function<void(std::size_t, std::size_t, int)>& fn) {
    if (tl_index >= 0) {
      if (n) fn(0, n, tl_index);
      return;
    }
    std::lock_guard<std::mutex> job(job_mutex_);
    const int t = static_cast<int>(workers_.size()) + 1;
    if (t == 1 || n < 2) {
      tl_index = 0;
      if (n) fn(0, n, 0);
      tl_index = -1;
      return;
    }
    {
      std::lock_guard<std::mutex> lk(m_);
      fn_ = &fn;
      n_ = n;
      pending_ = t - 1;
      pending_flag_.store(pending_, std::memory_order_relaxed);
      ++generation_;
      generation_flag_.store(generation_, std::memory_order_release);
    }
    cv_.notify_all();
    chunk(0, t);
    // The flags only shorten the wait: what the workers wrote is seen through m_, taken below as before.
    spin_until([this] { return pending_flag_.load(std::memory_order_acquire) == 0; });
    std::unique_lock<std::mutex> lk(m_);
    done_cv_.wait(lk, [this] { return pending_ == 0; });
    fn_ = nullptr;
  }

 private:
  void chunk(int i, int t) {
    const std::size_t begin = n_ * i / t, end = n_ * (i + 1) / t;
    tl_index = i;
    if (begin < end) (*fn_)(begin, end, i);
    tl_index = -1;
  }

  void loop(int i, unsigned long seen) {
    for (;;) {
      spin_until([&] {
        return generation_flag_.load(std::memory_order_acquire) != seen ||
               stopping_flag_.load(std::memory_order_acquire);
      });
      {
        std::unique_lock<std::mutex> lk(m_);
        cv_.wait(lk, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) return;
        seen = generation_;
      }
      chunk(i, static_cast<int>(workers_.size()) + 1);
      std::lock_guard<std::mutex> lk(m_);
      pending_flag_.store(--pending_, std::memory_order_release);
      if (pending_ == 0) done_cv_.notify_one();
    }
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lk(m_);
      stopping_ = true;
      stopping_flag_.store(true, std::memory_order_release);
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
    workers_.clear();
  }

  std::mutex job_mutex_;  // one parallel job at a time
  std::mutex m_;
  std::condition_variable cv_, done_cv_;
  std::vector<std::thread> workers_;
  const std::function<void(std::size_t, std::size_t, int)>* fn_ = nullptr;
  std::size_t n_ = 0;
  int pending_ = 0;
  unsigned long generation_ = 0;
  bool stopping_ = false;
  // Copies of generation_, pending_ and stopping_, written under m_ and read without it by the spinning
  // waits.
  std::atomic<unsigned long> generation_flag_{0};
  std::atomic<int> pending_flag_{0};
  std::atomic<bool> stopping_flag_{false};
};

// A container's CPU quota in CPUs (rounded up), or 0 for none: cgroup v2's cpu.max ("max 100000" or
// "200000 100000"), else cgroup v1's cpu.cfs_quota_us / cpu.cfs_period_us (-1: none).
int cgroup_cpu_quota() {
  long long quota = -1, period = 0;
  std::ifstream v2("/sys/fs/cgroup/cpu.max");
  std::string q;
  if (v2 >> q >> period) {
    if (q == "max") return 0;
    quota = std::atoll(q.c_str());
  } else {
    std::ifstream qf("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), pf("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
    if (!(qf >> quota) || !(pf >> period)) return 0;
  }
  if (quota <= 0 || period <= 0) return 0;
  return static_cast<int>(std::ceil(static_cast<double>(quota) / static_cast<double>(period)));
}

// The threads of the pool: KERNELNET_NUM_THREADS, else the CPUs this process may use: those of its affinity
// mask (taskset, a cpuset), no more than its container's CPU quota, rather than every core of the machine
// (more threads than CPUs only time-share them, and a throttled quota stalls every thread).
int default_threads() {
  if (const int n = env::count(env::Var::kNumThreads)) return n;
  const unsigned hc = std::thread::hardware_concurrency();
  int n = hc ? static_cast<int>(hc) : 1;
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) n = CPU_COUNT(&set);
  if (const int quota = cgroup_cpu_quota(); quota > 0 && quota < n) n = quota;
#endif
  return n;
}

Pool& pool() {
  // Intentionally leaked: worker threads must not be joined from static destructors at process exit.
  static Pool* p = new Pool(default_threads());
  return *p;
}

}  // namespace

std::mutex& multi_job_mutex() {
  static std::mutex* m = new std::mutex();
  return *m;
}

int num_threads() {
  return pool().size();
}
void set_num_threads(int n) {
  std::lock_guard<std::mutex> lock(multi_job_mutex());
  pool().resize(n < 1 ? 1 : n);
}
void parallel_for(std::size_t n, const std::function<void(std::size_t, std::size_t, int)>& fn) {
  pool().run(n, fn);
}

}  // namespace kn
