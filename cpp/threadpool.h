// A small persistent thread pool for the CPU backend.
//
// parallel_for(n, fn) splits [0, n) into contiguous ranges, one per thread (the calling thread takes the
// first), and returns when all are done. Jobs from different callers (several Node environments, e.g.
// worker_threads) are serialised by a mutex, so the pool never oversubscribes the cores.
#pragma once
#include <cstddef>
#include <functional>
#include <mutex>

namespace kn {

// Number of threads the CPU backend uses (KERNELNET_NUM_THREADS, else the hardware concurrency).
int num_threads();
void set_num_threads(int n);

// Held by an op that keeps per-thread results between two parallel_for jobs, and by set_num_threads, so that
// neither another environment's job nor a resize of the pool comes in between.
std::mutex& multi_job_mutex();

// fn(begin, end, thread_index) is called on disjoint ranges covering [0, n). thread_index < num_threads().
void parallel_for(std::size_t n, const std::function<void(std::size_t, std::size_t, int)>& fn);

}  // namespace kn
